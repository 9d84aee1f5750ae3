"""Monthly partitions of messages and health metrics, created ahead of time.

A scheduled job keeps `partitions_ahead_months` months ready; the default
partition catches anything outside them, so an insert never fails for lack of one.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PARTITIONED_TABLES = ("messages", "health_metrics")


async def ensure_partitions(session: AsyncSession, months_ahead: int = 3) -> dict[str, int]:
    """Create missing monthly partitions; returns how many were created per table."""
    created = {}
    for table in PARTITIONED_TABLES:
        created[table] = int(
            await session.scalar(
                text("SELECT wellcoach_ensure_month_partitions(:table, 0, :ahead)"),
                {"table": table, "ahead": months_ahead},
            )
            or 0
        )
    return created


async def list_partitions(session: AsyncSession, table: str) -> list[str]:
    rows = await session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :table ORDER BY c.relname"
        ),
        {"table": table},
    )
    return [row[0] for row in rows]
