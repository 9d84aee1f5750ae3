"""`wellcoach mail`: the email outbox (the development mailbox when SMTP is not set)."""

from __future__ import annotations

from typing import Any

import typer
from rich.panel import Panel

from cli.common import console, err_console, handle_errors, print_json
from wellcoach.audit import RequestContext
from wellcoach.config import get_settings
from wellcoach.notify.email import deliver_pending, list_outbox
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Outgoing email.", no_args_is_help=True)
CLI = RequestContext(source="cli")


@app.command()
@handle_errors
def outbox(
    to: str | None = typer.Option(None, help="Only emails to this address."),
    limit: int = typer.Option(20, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the newest emails, with their text (verification and reset links)."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            rows = await list_outbox(session, to=to, limit=limit, context=CLI)
            return [
                {
                    "id": str(r.id),
                    "to": r.to_address,
                    "template": r.template,
                    "subject": r.subject,
                    "body": r.body,
                    "status": r.status.value,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        title = f"{row['created_at']}  to {row['to']}  [{row['status']}]"
        console.print(Panel(row["body"], title=title, subtitle=row["subject"]))
    if not rows:
        console.print("the outbox is empty")


@app.command()
@handle_errors
def deliver() -> None:
    """Send pending emails now over WELLCOACH_SMTP_URL."""
    if get_settings().smtp_url is None:
        err_console.print(
            "[yellow]no SMTP server is configured (WELLCOACH_SMTP_URL): pending emails stay"
            " in the outbox; read them with `wellcoach mail outbox`[/yellow]"
        )
        raise typer.Exit(1)

    async def work(platform: Platform) -> dict[str, int]:
        assert platform.settings.smtp_url is not None
        async with platform.unit_of_work() as session:
            return await deliver_pending(session, platform.settings.smtp_url.get_secret_value())

    result = run_with_platform(work)
    console.print(f"sent {result['sent']}, failed {result['failed']}")
