"""What every command shares: the console, JSON output, and error-to-exit-code mapping."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from wellcoach.errors import WellcoachError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BY_KIND = {
    "invalid": 2,
    "not_found": 3,
    "conflict": 4,
    "unauthorized": 5,
    "forbidden": 5,
    "rate_limited": 6,
    "unavailable": 7,
    "gone": 8,
    "internal": 1,
}


def handle_errors(func: F) -> F:
    """Turn domain errors into a red one-line message and a stable exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WellcoachError as exc:
            # soft_wrap: one line however narrow the terminal (scripts grep it)
            err_console.print(
                f"[red]error[/red] {escape(f'[{exc.code}] {exc.message}')}", soft_wrap=True
            )
            raise typer.Exit(EXIT_BY_KIND.get(exc.kind, 1)) from None

    return wrapper  # type: ignore[return-value]


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
