"""`wellcoach coaches`: the registry of human coaches who take escalations."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.audit import RequestContext
from wellcoach.escalation import coaches
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Manage the human coaches who take escalations.", no_args_is_help=True)
CLI = RequestContext(source="cli")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _windows(availability: dict[str, list[list[str]]]) -> str:
    return ",".join(
        f"{day}={start}-{end}" for day in coaches.DAYS for start, end in availability.get(day, [])
    )


def _print_coach(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False)
    for key, value in data.items():
        shown = _windows(value) if key == "availability" else value
        table.add_row(key, ", ".join(shown) if isinstance(shown, list) else str(shown))
    console.print(table)


@app.command()
@handle_errors
def add(
    user: str = typer.Argument(..., help="Email or id of an account with the coach role."),
    sport: list[str] = typer.Option([], help="A sport the coach knows (repeatable)."),
    language: list[str] = typer.Option([], help="A language the coach speaks (repeatable)."),
    timezone: str = typer.Option("UTC", help="IANA timezone of the availability windows."),
    capacity: int = typer.Option(10, min=1, help="Most open cases at once."),
    availability: str = typer.Option(
        "", help="Weekly windows, e.g. 'mon=09:00-17:00,tue=09:00-12:00'."
    ),
    as_json: bool = JSON,
) -> None:
    """Register an account with the coach role as a coach."""
    windows = coaches.parse_availability(availability)

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            coach = await coaches.add_coach(
                session,
                user,
                sports=sport,
                languages=language or ["en"],
                timezone=timezone,
                capacity=capacity,
                availability=windows,
                request=CLI,
            )
            return coaches.CoachRow(coach, 0).as_json()

    _print_coach(run_with_platform(work), as_json)


@app.command("list")
@handle_errors
def list_(as_json: bool = JSON) -> None:
    """List coaches with their open cases and capacity."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            return [row.as_json() for row in await coaches.list_coaches(session)]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "sports", "languages", "timezone", "open/capacity", "availability")
    for row in rows:
        table.add_row(
            row["id"],
            row["display_name"],
            ", ".join(row["sports"]),
            ", ".join(row["languages"]),
            row["timezone"],
            f"{row['open_cases']}/{row['capacity']}",
            _windows(row["availability"]),
        )
    console.print(table)
    console.print(f"{len(rows)} coach(es)")


@app.command()
@handle_errors
def availability(
    user: str = typer.Argument(..., help="The coach's email, user id or coach id."),
    set_: str | None = typer.Option(
        None, "--set", help="Replace the weekly windows: 'mon=09:00-17:00,...' ('' clears)."
    ),
    as_json: bool = JSON,
) -> None:
    """Show a coach's weekly availability (in their timezone), or replace it with --set."""
    windows = coaches.parse_availability(set_) if set_ is not None else None

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            coach = await coaches.coach_of(session, user)
            if windows is not None:
                await coaches.set_availability(session, coach, windows, request=CLI)
            return {
                "coach_id": str(coach.id),
                "timezone": coach.timezone,
                "availability": coach.availability or {},
            }

    data = run_with_platform(work)
    if as_json:
        print_json(data)
    else:
        console.print(f"{_windows(data['availability']) or '(none)'}  ({data['timezone']})")
