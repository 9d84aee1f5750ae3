"""Health metrics from HealthKit / Health Connect: values encrypted, monthly partitions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, new_id, utcnow
from wellcoach.models.enums import HealthMetricType, HealthSource, enum_column


class HealthMetric(Base):
    __tablename__ = "health_metrics"
    __table_args__ = (
        # idempotent sync: the same sample sent twice is stored once
        UniqueConstraint("user_id", "metric_type", "source", "recorded_at"),
        Index(
            "ix_health_metrics_user_type_time", "user_id", "metric_type", text("recorded_at DESC")
        ),
        {"postgresql_partition_by": "RANGE (recorded_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    recorded_at: Mapped[datetime] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    metric_type: Mapped[HealthMetricType] = mapped_column(
        enum_column(HealthMetricType, "health_metric_type")
    )
    value_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    unit: Mapped[str] = mapped_column(String(32))
    source: Mapped[HealthSource] = mapped_column(enum_column(HealthSource, "health_source"))
    device: Mapped[str | None] = mapped_column(String(100))
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
