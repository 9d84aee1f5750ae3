"""`wellcoach safety assess`: the crisis check, one JSON verdict per input line."""

from __future__ import annotations

import json
import sys

import typer

from wellcoach.chat.safety import assess

app = typer.Typer(help="The crisis check.", no_args_is_help=True)


@app.command("assess")
def assess_command(
    text: list[str] = typer.Option([], "--text", help="A message (repeatable); else stdin."),
    language: str | None = typer.Option(None, help="en or it (a hint)."),
) -> None:
    """Read messages one per line from stdin (or --text) and print one JSON object per line:
    {"crisis": bool, "category": str|null, "score": float}."""
    lines = text or [line.rstrip("\n") for line in sys.stdin]
    for line in lines:
        if not line.strip():
            continue
        verdict = assess(line, language)
        sys.stdout.write(
            json.dumps(
                {
                    "crisis": verdict.crisis,
                    "category": verdict.category,
                    "score": round(verdict.score, 3),
                }
            )
            + "\n"
        )
