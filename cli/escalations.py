"""`wellcoach escalations`: the human-coach queue as an admin sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.access import ADMIN_CLI, Subject
from wellcoach.audit import RequestContext
from wellcoach.auth.admin import find_user
from wellcoach.chat.coach_replies import announce, reply_as_coach
from wellcoach.escalation import cases
from wellcoach.escalation.coaches import coach_of
from wellcoach.models.enums import EscalationStatus
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Work the human-coach escalation queue.", no_args_is_help=True)
CLI = RequestContext(source="cli")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _plain(value: Any) -> Any:
    """ISO-8601 times in JSON, as the API writes them."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@app.command("list")
@handle_errors
def list_(
    status: EscalationStatus | None = typer.Option(None, help="Only this status."),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = JSON,
) -> None:
    """List escalations, the most urgent first (priority, then SLA deadline)."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            rows = await cases.queue(session, ADMIN_CLI, status=status, limit=limit)
            return [_plain(cases.summary(row)) for row in rows]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "urgency", "status", "priority", "reason", "sla due", "breached")
    for row in rows:
        table.add_row(
            row["id"],
            row["urgency"],
            row["status"],
            str(row["priority"]),
            row["reason"],
            row["sla_due_at"],
            "yes" if row["sla_breached_at"] else "",
        )
    console.print(table)
    console.print(f"{len(rows)} escalation(s)")


@app.command()
@handle_errors
def show(escalation_id: str, as_json: bool = JSON) -> None:
    """Show one escalation with its message and history (the reading is audited)."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            view = await cases.read_case(
                session, platform.vault, ADMIN_CLI, escalation_id, request=CLI
            )
            return _plain(view.as_json())

    data = run_with_platform(work)
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False)
    for key in (
        "id", "user_id", "reason", "urgency", "status", "priority", "assigned_coach",
        "response_time_sla", "sla_due_at", "sla_breached_at", "first_response_at",
        "created_at", "message",
    ):  # fmt: skip
        table.add_row(key, str(data.get(key)))
    table.add_row("triage", "; ".join(data["triage"].get("reasons", [])))
    console.print(table)
    for event in data["events"]:
        console.print(f"{event['at']}  {event['from']} -> {event['to']}")


def _changed(escalation_id: str, change: Any) -> dict[str, Any]:
    """Apply `change`, then (committed) tell the athlete's devices the new status."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            escalation = await cases.readable(session, ADMIN_CLI, escalation_id)
            await change(session, platform, escalation)
            summary = _plain(cases.summary(escalation))
        await platform.devices.push(
            summary["user_id"],
            "escalation_status",
            {"id": summary["id"], "status": summary["status"]},
        )
        return summary

    return run_with_platform(work)


@app.command()
@handle_errors
def assign(
    escalation_id: str,
    coach: str = typer.Argument(..., help="The coach's email, user id or coach id."),
    as_json: bool = JSON,
) -> None:
    """Give an escalation to a coach (triaged first if needed; reassigns an assigned one)."""

    async def change(session: Any, platform: Platform, escalation: Any) -> None:
        target = await coach_of(session, coach)
        await cases.assign_case(
            session, platform.vault, escalation, target, actor=ADMIN_CLI, request=CLI
        )

    data = _changed(escalation_id, change)
    if as_json:
        print_json(data)
    else:
        console.print(f"escalation {data['id']} assigned to coach {data['assigned_coach']}")


@app.command()
@handle_errors
def close(
    escalation_id: str,
    note: str | None = typer.Option(None, help="A closing note (stored encrypted)."),
    as_json: bool = JSON,
) -> None:
    """Close an escalation, whatever open status it is in."""

    async def change(session: Any, platform: Platform, escalation: Any) -> None:
        await cases.close_case(
            session, platform.vault, escalation, actor=ADMIN_CLI, note=note, request=CLI
        )

    data = _changed(escalation_id, change)
    if as_json:
        print_json(data)
    else:
        console.print(f"escalation {data['id']} closed")


@app.command()
@handle_errors
def respond(
    escalation_id: str,
    message: str = typer.Option(..., "--message", "-m", help="The reply the athlete reads."),
    coach: str = typer.Option(
        ..., "--as", help="The assigned coach (email or id) the reply comes from."
    ),
    as_json: bool = JSON,
) -> None:
    """Answer an escalation as its coach: the reply lands in the athlete's chat (and on
    their devices over Socket.IO), and the escalation becomes `responded`."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            author = await find_user(session, coach)
            reply = await reply_as_coach(
                session,
                platform.vault,
                coach=Subject(user_id=author.id, role=author.role),
                escalation_id=escalation_id,
                text=message,
                request=CLI,
            )
        await announce(platform.devices, reply)  # after the commit
        return {
            "escalation_id": reply.escalation_id,
            "status": reply.status.value,
            "message": reply.message.model_dump(mode="json"),
        }

    data = run_with_platform(work)
    if as_json:
        print_json(data)
    else:
        console.print(
            f"escalation {data['escalation_id']} {data['status']}: the reply is in the"
            " athlete's chat"
        )
