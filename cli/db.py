"""`wellcoach db`: schema migrations (Alembic is the only way the schema changes)."""

from __future__ import annotations

import typer

from cli.common import console, handle_errors
from wellcoach.config import get_settings
from wellcoach.db import migrate
from wellcoach.ops.partitions import ensure_partitions
from wellcoach.platform import Platform, run_with_platform
from wellcoach.runtime.services import resolve_services

app = typer.Typer(help="Database schema and maintenance.", no_args_is_help=True)


def _url() -> str:
    """The database of the running platform (or the configured one); never starts one."""
    return resolve_services(get_settings(), start=False).database_url


@app.command()
@handle_errors
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(_url(), revision)
    console.print(f"database at revision [bold]{migrate.current(_url())}[/bold]")


@app.command()
@handle_errors
def downgrade(revision: str = typer.Argument("-1")) -> None:
    """Revert migrations down to REVISION (default: one step; `base` for all)."""
    migrate.downgrade(_url(), revision)
    console.print(f"database at revision [bold]{migrate.current(_url()) or 'base'}[/bold]")


@app.command()
@handle_errors
def current() -> None:
    """Show the revision the database is at, and the latest one available."""
    console.print(f"current: {migrate.current(_url()) or 'base'}   head: {migrate.head()}")


@app.command()
@handle_errors
def partitions(months_ahead: int = typer.Option(3, min=0, max=24)) -> None:
    """Create the monthly partitions of messages and health metrics ahead of time."""

    async def work(platform: Platform) -> dict[str, int]:
        async with platform.unit_of_work() as session:
            return await ensure_partitions(session, months_ahead)

    created = run_with_platform(work)
    for table, count in created.items():
        console.print(f"{table}: {count} partition(s) created")
