"""`wellcoach gdpr`: erasure (with its grace period, or at once), and the requests log."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.common import console, handle_errors, print_json
from cli.gdpr_export import export_command
from cli.retention import retention_command
from jobs.gdpr import forget_jobs_of
from wellcoach.audit import RequestContext
from wellcoach.auth.admin import find_user
from wellcoach.gdpr import repository
from wellcoach.gdpr.erasure import cancel_for, request_erasure
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="GDPR: exports, erasure, retention.", no_args_is_help=True)
CLI = RequestContext(source="cli")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


@app.command()
@handle_errors
def delete(
    user: str = typer.Argument(..., help="The user's email or id."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    now: bool = typer.Option(
        False, "--now", help="Skip the grace period: destroy the key and delete at once."
    ),
    as_json: bool = JSON,
) -> None:
    """Erase a user: closed and forgotten at once; deleted for good (data key destroyed)
    after the grace period, or now with --now (audited either way)."""
    if not yes:
        when = "NOW, without a grace period" if now else "after the grace period"
        typer.confirm(f"Delete {user} and all their data {when}?", abort=True)

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await find_user(session, user)
            erasure = await request_erasure(
                session,
                platform,
                found,
                requested_by=None,
                request=CLI,
                now=now,
                forget_jobs=forget_jobs_of(platform.urls.redis_url),
            )
            return {
                "request_id": str(erasure.id),
                "user_id": str(erasure.user_id),
                "status": erasure.status.value,
                "hard_delete_at": erasure.due_at.isoformat() if erasure.due_at else None,
                "certificate": (erasure.details or {}).get("certificate"),
            }

    data = run_with_platform(work)
    if as_json:
        print_json(data)
    elif data["status"] == "completed":
        deleted = data["certificate"]["deleted"]
        console.print(
            f"erased {data['user_id']}: data key destroyed, "
            + ", ".join(f"{n} {t}" for t, n in deleted.items() if n)
        )
    else:
        console.print(
            f"{data['user_id']} is closed and will be deleted on {data['hard_delete_at']}"
            f" (cancel with: wellcoach gdpr cancel {user})"
        )


@app.command()
@handle_errors
def cancel(user: str = typer.Argument(..., help="The user's email or id.")) -> None:
    """Keep an account whose deletion is scheduled (it is enabled again)."""

    async def work(platform: Platform) -> str:
        async with platform.unit_of_work() as session:
            erasure = await cancel_for(session, user, actor_id=None, request=CLI)
            return str(erasure.id)

    run_with_platform(work)
    console.print(f"the deletion of {user} is cancelled; the account is enabled again")


app.command("export")(export_command)
app.command("retention")(retention_command)


@app.command("requests")
@handle_errors
def requests_(
    limit: int = typer.Option(50, "--limit", min=1, max=1000), as_json: bool = JSON
) -> None:
    """The export and erasure requests, newest first (ids, states and dates only)."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            rows = await repository.recent(session, limit)
            return [
                {
                    "id": str(row.id),
                    "user_id": str(row.user_id),
                    "kind": row.kind.value,
                    "status": row.status.value,
                    "requested_at": row.requested_at.isoformat(),
                    "due_at": row.due_at.isoformat() if row.due_at else None,
                    "completed_at": row.completed_at.isoformat() if row.completed_at else None,
                }
                for row in rows
            ]

    data = run_with_platform(work)
    if as_json:
        print_json(data)
        return
    table = Table(title="GDPR requests")
    for column in ("requested", "kind", "status", "user", "due", "done"):
        table.add_column(column)
    for row in data:
        table.add_row(
            row["requested_at"][:16],
            row["kind"],
            row["status"],
            row["user_id"],
            (row["due_at"] or "")[:16],
            (row["completed_at"] or "")[:16],
        )
    console.print(table)
