"""The PostgreSQL health store: samples in `health_metrics`, monthly partitions made
when a month first gets data, written in a few large statements (a sync sends up to
10,000 samples, an Apple export millions)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.health.samples import SealedSample
from wellcoach.models.enums import HealthImportStatus, HealthMetricType, HealthSource
from wellcoach.models.health import HealthImport

BATCH = 5_000

_INSERT = text(
    """
    WITH stored AS (
        INSERT INTO health_metrics
            (user_id, metric_type, start_at, end_at, source, device_tag, unit,
             payload_encrypted)
        SELECT CAST(:user_id AS uuid), *
          FROM unnest(CAST(:metrics AS varchar[]), CAST(:starts AS timestamptz[]),
                      CAST(:ends AS timestamptz[]), CAST(:sources AS varchar[]),
                      CAST(:devices AS bytea[]), CAST(:units AS varchar[]),
                      CAST(:payloads AS bytea[]))
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) FROM stored
    """
)

_SELECT = text(
    """
    SELECT metric_type, source, start_at, end_at, device_tag, unit, payload_encrypted
      FROM health_metrics
     WHERE user_id = :user_id AND metric_type = ANY(CAST(:metrics AS varchar[]))
       AND start_at >= :start AND start_at < :end
     ORDER BY start_at
    """
)

# months whose partition this process has made or seen: one round trip per new month
_months_ready: set[date] = set()


async def ensure_months(session: AsyncSession, starts: Collection[datetime]) -> None:
    """Make the monthly partitions `starts` fall in, so that years of imported history
    do not pile up in the default partition."""
    months = {date(moment.year, moment.month, 1) for moment in starts} - _months_ready
    for month in sorted(months):
        await session.execute(
            text("SELECT wellcoach_ensure_month_partition('health_metrics', :month)"),
            {"month": month},
        )
        _months_ready.add(month)


class PostgresHealthStore:
    name = "postgresql"

    async def write(
        self, session: AsyncSession, user_id: uuid.UUID, samples: Sequence[SealedSample]
    ) -> int:
        await ensure_months(session, {s.start for s in samples})
        stored = 0
        for offset in range(0, len(samples), BATCH):
            batch = samples[offset : offset + BATCH]
            stored += int(
                await session.scalar(
                    _INSERT,
                    {
                        "user_id": user_id,
                        "metrics": [s.metric.value for s in batch],
                        "starts": [s.start for s in batch],
                        "ends": [s.end for s in batch],
                        "sources": [s.source.value for s in batch],
                        "devices": [s.device_tag for s in batch],
                        "units": [s.unit for s in batch],
                        "payloads": [s.payload for s in batch],
                    },
                )
                or 0
            )
        return stored

    async def read(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        metrics: Collection[HealthMetricType],
        start: datetime,
        end: datetime,
    ) -> list[SealedSample]:
        rows = await session.execute(
            _SELECT,
            {
                "user_id": user_id,
                "metrics": [m.value for m in metrics],
                "start": start,
                "end": end,
            },
        )
        return [
            SealedSample(
                metric=HealthMetricType(row.metric_type),
                source=HealthSource(row.source),
                start=row.start_at,
                end=row.end_at,
                unit=row.unit,
                payload=row.payload_encrypted,
                device_tag=row.device_tag,
            )
            for row in rows
        ]

    async def delete_user(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        await session.execute(
            text("DELETE FROM health_metrics WHERE user_id = :user_id"), {"user_id": user_id}
        )

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


async def new_import(session: AsyncSession, user_id: uuid.UUID, size: int) -> HealthImport:
    job = HealthImport(
        user_id=user_id,
        status=HealthImportStatus.pending,
        size_bytes=size,
        bytes_read=0,
        records_seen=0,
        samples_stored=0,
        duplicates=0,
        skipped=0,
        rejected=0,
        attempts=0,
    )
    session.add(job)
    await session.flush()
    return job


async def get_import(
    session: AsyncSession, import_id: uuid.UUID, *, lock: bool = False
) -> HealthImport | None:
    return await session.get(HealthImport, import_id, with_for_update=lock or None)


async def unfinished_imports(session: AsyncSession, created_before: datetime) -> list[HealthImport]:
    return list(
        await session.scalars(
            select(HealthImport)
            .where(
                HealthImport.status.in_([HealthImportStatus.pending, HealthImportStatus.running]),
                HealthImport.created_at < created_before,
            )
            .with_for_update(skip_locked=True)
        )
    )
