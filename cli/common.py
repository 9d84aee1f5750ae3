"""What every command shares: the console, JSON output, and error-to-exit-code mapping."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from psycopg import errors as pg_errors
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

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
    "too_large": 2,
    "unsupported_media_type": 2,
    "internal": 1,
}


# the schema is older than the code: tables or columns of a migration not yet applied
SCHEMA_BEHIND = (pg_errors.UndefinedTable, pg_errors.UndefinedColumn)


def handle_errors(func: F) -> F:
    """Turn domain errors into a red one-line message and a stable exit code; so too a
    database whose migrations were not applied (a traceback would only say "relation
    ... does not exist")."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WellcoachError as exc:
            fail(exc.code, exc.message, EXIT_BY_KIND.get(exc.kind, 1))
        except (DBAPIError, *SCHEMA_BEHIND) as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            if not isinstance(cause, SCHEMA_BEHIND):
                raise
            what = cause.diag.message_primary or type(cause).__name__
            fail(
                "database_not_migrated",
                f"the database schema is not up to date ({what}); "
                "apply the migrations with: wellcoach db upgrade",
                EXIT_BY_KIND["unavailable"],
            )

    return wrapper  # type: ignore[return-value]


def fail(code: str, message: str, exit_code: int) -> NoReturn:
    """Print `error [code] message` on one line of stderr and exit with `exit_code`."""
    # soft_wrap: one line however narrow the terminal (scripts grep it)
    err_console.print(f"[red]error[/red] {escape(f'[{code}] {message}')}", soft_wrap=True)
    raise typer.Exit(exit_code) from None


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
