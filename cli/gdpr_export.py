"""`wellcoach gdpr export USER --out FILE`: a user's GDPR export (Art. 20) written by an
administrator, e.g. for a request that came by post or email."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.common import console, handle_errors, print_json
from wellcoach.audit import RequestContext
from wellcoach.auth.admin import find_user
from wellcoach.crypto.files import private
from wellcoach.gdpr.exports import export_to
from wellcoach.platform import Platform, run_with_platform

CLI = RequestContext(source="cli")


@handle_errors
def export_command(
    user: str = typer.Argument(..., help="The user's email or id."),
    out: Path = typer.Option(..., "--out", help="The ZIP to write (replaced if it exists)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Write everything kept about a user (profile, consents, chats, moods, health data,
    escalations, AI usage, audit log), decrypted, to a ZIP. The file is NOT encrypted:
    hand it over safely. The export is audited."""
    out = out.expanduser().resolve()
    partial = out.with_name(out.name + ".partial")

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await find_user(session, user)
        with open(partial, "wb", opener=private) as stream:
            row = await export_to(
                platform.unit_of_work,
                platform.vault,
                platform.health_store,
                found,
                stream,
                request=CLI,
            )
        partial.replace(out)
        return {
            "user_id": str(found.id),
            "request_id": str(row.id),
            "path": str(out),
            **row.details,
        }

    try:
        data = run_with_platform(work)
    finally:
        partial.unlink(missing_ok=True)
    if as_json:
        print_json(data)
        return
    console.print(
        f"Export written to {data['path']} ({data['bytes']:,} bytes): {data['messages']:,}"
        f" messages in {data['chat_sessions']:,} sessions, {data['health_samples']:,} health"
        f" samples, {data['escalations']:,} escalations."
    )
