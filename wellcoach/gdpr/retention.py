"""Storage limitation (GDPR Art. 5(1)(e)): what is older than its retention period goes.

- **messages** are range-partitioned by month (`wellcoach.ops.partitions`): a monthly
  partition whose whole range ends before the cutoff is detached and dropped at once
  (no row-by-row delete, no bloat, no vacuum); rows older than the cutoff that landed in
  `messages_default` are deleted. A partition that straddles the cutoff is kept until
  its month has wholly expired, so a message outlives its retention by less than a month.
- **audit_logs** older than `retention_audit_days`, when it is set (None keeps them).
- **email_outbox** rows that were sent or failed (addresses and bodies) older than
  `retention_outbox_days`; pending ones are still to be delivered.

The caller owns the transaction: the partition detach and drop commit with the rest,
or not at all. One run at a time (a transaction-level advisory lock).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import record
from wellcoach.config import GdprSettings
from wellcoach.db.session import rows_affected
from wellcoach.models import AuditLog, EmailOutbox
from wellcoach.models.enums import DeliveryStatus

ACTION = "retention.applied"
# partitions are made by wellcoach_ensure_month_partitions (or by hand, same names)
PARTITION_NAME = re.compile(r"^messages_p\d{4}_\d{2}$")
BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
# a lock on `messages` is needed to detach: wait a little, never stall the chat behind us
LOCK_TIMEOUT = "10s"
LOCK_KEY = "wellcoach.gdpr.retention"


def _bound(value: str) -> datetime:
    """A partition bound as PostgreSQL prints it ('2023-02-01 00:00:00+00'); the
    sessions and the partitions run in UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def expired_message_partitions(
    session: AsyncSession, cutoff: datetime
) -> list[tuple[str, datetime]]:
    """The monthly partitions of messages whose whole range ends on or before `cutoff`,
    with their upper bound, oldest first."""
    rows = await session.execute(
        text(
            "SELECT c.relname::text AS relname, pg_get_expr(c.relpartbound, c.oid) AS bound "
            "FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'messages'::regclass"
        ).columns(relname=String, bound=String)
    )
    expired = []
    for row in rows:
        name, bound = str(row.relname), str(row.bound or "")
        match = BOUNDS.search(bound)
        if not PARTITION_NAME.match(name) or match is None:
            continue  # the default partition, or one not made by us
        upper = _bound(match.group(2))
        if upper <= cutoff:
            expired.append((name, upper))
    return sorted(expired, key=lambda item: item[1])


async def _drop_partitions(session: AsyncSession, names: list[str], dry_run: bool) -> int:
    """Rows of the partitions (counted before they go); detached and dropped unless
    `dry_run`."""
    rows = 0
    if names and not dry_run:
        await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    for name in names:
        # names come from pg_class and match PARTITION_NAME: safe to quote as identifiers
        rows += int(await session.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)
        if not dry_run:
            await session.execute(text(f'ALTER TABLE messages DETACH PARTITION "{name}"'))
            await session.execute(text(f'DROP TABLE "{name}"'))
    return rows


async def apply_retention(
    session: AsyncSession, settings: GdprSettings, *, now: datetime, dry_run: bool = False
) -> dict[str, int]:
    """Apply the retention periods of `settings` as of `now`; the counts of what was (or,
    with `dry_run`, would be) removed. Each real run is audited as `retention.applied`
    (counts and cutoffs only), even when it removed nothing: the trail shows the policy
    runs; a dry run writes nothing."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": LOCK_KEY})
    message_cutoff = now - timedelta(days=settings.retention_messages_days)
    outbox_cutoff = now - timedelta(days=settings.retention_outbox_days)
    audit_cutoff = (
        now - timedelta(days=settings.retention_audit_days)
        if settings.retention_audit_days is not None
        else None
    )

    partitions = [name for name, _ in await expired_message_partitions(session, message_cutoff)]
    partition_rows = await _drop_partitions(session, partitions, dry_run)

    # the default partition only: the monthly ones straddling the cutoff are kept whole
    if dry_run:
        default_deleted = await _scalar_int(
            session,
            "SELECT count(*) FROM messages_default WHERE created_at < :cutoff",
            message_cutoff,
        )
    else:
        default_deleted = await rows_affected(
            session,
            text("DELETE FROM messages_default WHERE created_at < :cutoff").bindparams(
                cutoff=message_cutoff
            ),
        )

    outbox = (
        EmailOutbox.status.in_([DeliveryStatus.sent, DeliveryStatus.failed]),
        EmailOutbox.created_at < outbox_cutoff,
    )
    audit = (AuditLog.created_at < audit_cutoff,) if audit_cutoff is not None else None
    if dry_run:
        emails = await _count(session, EmailOutbox, *outbox)
        audits = await _count(session, AuditLog, *audit) if audit else 0
    else:
        emails = await _delete(session, EmailOutbox, *outbox)
        audits = await _delete(session, AuditLog, *audit) if audit else 0

    counts = {
        "message_partitions_dropped": len(partitions),
        "messages_deleted": partition_rows + default_deleted,
        "audit_logs_deleted": audits,
        "emails_deleted": emails,
    }
    if not dry_run:
        await record(
            session,
            ACTION,
            resource_type="retention",
            details={
                **counts,
                "messages_before": message_cutoff.isoformat(),
                "audit_logs_before": audit_cutoff.isoformat() if audit_cutoff else None,
                "emails_before": outbox_cutoff.isoformat(),
            },
        )
    await session.flush()
    return counts


async def _scalar_int(session: AsyncSession, sql: str, cutoff: datetime) -> int:
    return int(await session.scalar(text(sql), {"cutoff": cutoff}) or 0)


async def _count(session: AsyncSession, model: Any, *conditions: Any) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    )


async def _delete(session: AsyncSession, model: Any, *conditions: Any) -> int:
    return await rows_affected(
        session, delete(model).where(*conditions).execution_options(synchronize_session=False)
    )
