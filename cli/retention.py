"""`wellcoach gdpr retention`: apply the retention periods now (the cron does it daily)."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.db.base import utcnow
from wellcoach.gdpr.retention import apply_retention
from wellcoach.platform import Platform, run_with_platform

LABELS = {
    "message_partitions_dropped": "message partitions dropped",
    "messages_deleted": "messages deleted",
    "audit_logs_deleted": "audit entries deleted",
    "emails_deleted": "sent or failed emails deleted",
}


@handle_errors
def retention_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what would be removed; remove nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Remove what is older than its retention period (WELLCOACH_GDPR__RETENTION_*):
    message partitions, audit entries (when a period is set), sent or failed emails."""

    async def work(platform: Platform) -> dict[str, int]:
        async with platform.unit_of_work() as session:
            return await apply_retention(
                session, platform.settings.gdpr, now=utcnow(), dry_run=dry_run
            )

    counts = run_with_platform(work)
    if as_json:
        print_json({"dry_run": dry_run, **counts})
        return
    table = Table("what", "would be removed" if dry_run else "removed", title="GDPR retention")
    for key, label in LABELS.items():
        table.add_row(label, f"{counts.get(key, 0):,}")
    console.print(table)
    if dry_run:
        console.print("dry run: nothing was removed")
