"""`wellcoach config`: what the platform will run with."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import console, print_json
from wellcoach.config import get_settings

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


def _flatten(prefix: str, value: object) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows.extend(_flatten(f"{prefix}__{key}" if prefix else key, item))
        return rows
    return [(prefix, "" if value is None else str(value))]


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Print the effective settings, secrets masked."""
    masked = get_settings().masked()
    if as_json:
        print_json(masked)
        return
    table = Table("variable", "value")
    for key, value in _flatten("", masked):
        table.add_row(f"WELLCOACH_{key.upper()}", value or "[dim](unset)[/dim]")
    console.print(table)
