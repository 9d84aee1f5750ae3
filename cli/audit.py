"""`wellcoach audit`: a person's audit trail (Art. 15: who read or changed their data).

Reading it is audited too (`audit.viewed`): the entries hold IP addresses."""

from __future__ import annotations

import json
import uuid
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.audit import RequestContext
from wellcoach.audit.queries import actor_roles, read_entries_about
from wellcoach.auth.admin import find_user
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Read the audit trail.", no_args_is_help=True)
CLI = RequestContext(source="cli")


@app.callback()
def _audit() -> None:
    """Read the audit trail (who did what to whose data, from where)."""


def _entry(entry: Any, roles: dict[uuid.UUID, str]) -> dict[str, Any]:
    details = dict(entry.details or {})
    source = details.pop("source", None)
    role = details.get("actor_role") or (roles.get(entry.actor_id) if entry.actor_id else None)
    return {
        "id": str(entry.id),
        "time": entry.created_at.isoformat(),
        "action": entry.action,
        "user_id": str(entry.user_id) if entry.user_id else None,
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "actor_role": role,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "source": source,
        "ip_address": str(entry.ip_address) if entry.ip_address else None,
        "details": details,
    }


def _actor(row: dict[str, Any]) -> str:
    if row["actor_id"] is None:
        return f"({row['source'] or 'system'})"
    return f"{row['actor_id']} ({row['actor_role']})" if row["actor_role"] else row["actor_id"]


@app.command()
@handle_errors
def show(
    user: str = typer.Argument(
        ..., help="The user's id (also of an erased account) or email.", show_default=False
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    action: str | None = typer.Option(
        None, "--action", help="Only actions starting with this (auth., profile.read)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The audit entries about USER and by USER, newest first. Audited (`audit.viewed`)."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            try:
                user_id = uuid.UUID(user)  # the trail outlives the account: no lookup
            except ValueError:
                user_id = (await find_user(session, user)).id
            entries = await read_entries_about(
                session, user_id, limit=limit, action_prefix=action, context=CLI
            )
            roles = await actor_roles(session, entries)
            return [_entry(entry, roles) for entry in entries]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no audit entries")
        return
    table = Table("time (UTC)", "action", "actor", "resource", "source", "details")
    for column in table.columns[:2]:
        column.no_wrap = True  # whole times and actions, for the eye and for grep
    for row in rows:
        resource = ":".join(filter(None, (row["resource_type"], row["resource_id"])))
        table.add_row(
            row["time"][:19].replace("T", " "),
            row["action"],
            _actor(row),
            resource,
            row["source"] or "",
            escape(json.dumps(row["details"], default=str, ensure_ascii=False))
            if row["details"]
            else "",
        )
    console.print(table)
    console.print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
