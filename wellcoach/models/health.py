"""Health samples from HealthKit / Health Connect (values sealed, monthly partitions),
and the Apple Health export imports that bring them in bulk."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, new_id, utcnow
from wellcoach.models.enums import (
    HealthImportStatus,
    HealthMetricType,
    HealthSource,
    enum_column,
)


class HealthMetric(Base):
    """One sample. The primary key is what makes a resync idempotent: the same (user,
    metric, start, end, source, device) is stored once; an iPhone and a watch counting
    the same minutes are two samples, which the summary counts once (`overlap`). Only the
    key is in the clear (the device as a digest); the value, device name, sleep stage and
    workout details are sealed with the user's data key."""

    __tablename__ = "health_metrics"
    __table_args__ = ({"postgresql_partition_by": "RANGE (start_at)"},)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    metric_type: Mapped[HealthMetricType] = mapped_column(
        enum_column(HealthMetricType, "health_metric_type"), primary_key=True
    )
    start_at: Mapped[datetime] = mapped_column(primary_key=True)
    end_at: Mapped[datetime] = mapped_column(primary_key=True)
    source: Mapped[HealthSource] = mapped_column(
        enum_column(HealthSource, "health_source"), primary_key=True
    )
    # the first 8 bytes of a digest of the device keyed by the user's key; empty: none
    device_tag: Mapped[bytes] = mapped_column(
        LargeBinary, primary_key=True, default=b"", server_default=text("''::bytea")
    )
    unit: Mapped[str] = mapped_column(String(16))
    payload_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class HealthImport(Base):
    """An Apple Health export being imported: the upload waits sealed on disk until a
    worker has read it, then is deleted; the row keeps the progress and the counts."""

    __tablename__ = "health_imports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[HealthImportStatus] = mapped_column(
        enum_column(HealthImportStatus, "health_import_status"),
        default=HealthImportStatus.pending,
    )
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    records_seen: Mapped[int] = mapped_column(Integer, default=0)
    samples_stored: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # types we do not keep
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # out of range, bad times
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
