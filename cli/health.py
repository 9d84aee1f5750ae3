"""`wellcoach health`: import a user's Apple Health export, and read their summary."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.audit import RequestContext
from wellcoach.auth.admin import find_user
from wellcoach.health import imports, service
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Health data: Apple Health imports and summaries.", no_args_is_help=True)
CLI = RequestContext(source="cli")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


@app.command("import-apple")
@handle_errors
def import_apple(
    path: Path = typer.Argument(..., help="Apple Health's export.zip, or its export.xml."),
    user: str = typer.Option(..., "--user", help="The user's email or id."),
    as_json: bool = JSON,
) -> None:
    """Import an Apple Health export for a user (who must have consented to health data).
    Importing the same export again stores nothing twice."""
    path = path.expanduser().resolve()
    freeze_startup()

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await find_user(session, user)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=as_json,
            transient=False,
        ) as bar:
            task = bar.add_task("import", total=None)
            counts = await imports.import_path(
                platform.unit_of_work,
                platform.vault,
                platform.health_store,
                platform.redis,
                found,
                path,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                request=CLI,
            )
        return {
            "user_id": str(found.id),
            "records": counts.records_seen,
            "stored": counts.samples_stored,
            "duplicates": counts.duplicates,
            "skipped": counts.skipped,
            "rejected": counts.rejected,
            "skipped_types": dict(sorted(counts.skipped_types.items(), key=lambda kv: -kv[1])),
        }

    data = run_with_platform(work)
    if as_json:
        print_json(data)
        return
    console.print(
        f"{data['records']:,} records read: {data['stored']:,} samples stored,"
        f" {data['duplicates']:,} already there, {data['skipped']:,} of types the coach"
        f" does not use, {data['rejected']:,} rejected (out of range or impossible times)."
    )


@app.command()
@handle_errors
def summary(
    user: str = typer.Argument(..., help="The user's email or id."),
    days: int = typer.Option(
        7, "--days", min=1, max=service.MAX_DAYS, help="Days, today included."
    ),
    as_json: bool = JSON,
) -> None:
    """A user's health summary per day (their time zone) and over the window, with
    alerts. Reading it is audited."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await find_user(session, user)
            data = await service.summary(
                session,
                platform.vault,
                platform.health_store,
                platform.redis,
                found,
                days,
                request=CLI,
            )
            return {"user_id": str(found.id), **data}

    data = run_with_platform(work)
    if as_json:
        print_json(data)
        return
    table = Table(title=f"Health, last {days} days ({data['timezone']})")
    for column in ("date", "steps", "avg HR", "sleep", "workout min", "HRV", "resting HR"):
        table.add_column(column, justify="left" if column == "date" else "right")
    for day in data["days"]:
        stress = day["stress_indicators"]
        table.add_row(
            day["date"],
            _cell(day["daily_steps"], "{:,}"),
            _cell(day["avg_heart_rate"], "{:.0f}"),
            _cell(day["sleep_score"], "{}"),
            _cell(day["workout_minutes"], "{:.0f}"),
            _cell(stress["hrv"], "{:.0f}"),
            _cell(stress["resting_hr"], "{:.0f}"),
        )
    console.print(table)
    window = data["window"]
    console.print(
        f"window: {_cell(window['daily_steps'], '{:,}')} steps a day,"
        f" sleep score {_cell(window['sleep_score'], '{}')},"
        f" {_cell(window['workout_minutes'], '{:.0f}')} workout minutes"
    )
    for alert in data["alerts"]:
        console.print(f"[yellow]alert[/] {alert['code']}: {alert['message']}")
    if not data["alerts"]:
        console.print("no health alerts")


def freeze_startup() -> None:
    """A long import makes garbage by the million: what exists before it (modules, the
    platform) is moved out of the collector's walks."""
    gc.collect()
    gc.freeze()


def _cell(value: Any, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)
