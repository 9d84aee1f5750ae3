"""GDPR export and erasure requests; they outlive the account they concern."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, utcnow
from wellcoach.models.enums import GdprKind, GdprStatus, enum_column


class GdprRequest(IdMixin, Base):
    __tablename__ = "gdpr_requests"
    __table_args__ = (
        Index(None, "user_id", "kind"),
        Index("ix_gdpr_requests_status_due_at", "status", "due_at"),
    )

    user_id: Mapped[uuid.UUID]
    kind: Mapped[GdprKind] = mapped_column(enum_column(GdprKind, "gdpr_kind"))
    status: Mapped[GdprStatus] = mapped_column(
        enum_column(GdprStatus, "gdpr_status"), default=GdprStatus.pending
    )
    requested_by: Mapped[uuid.UUID | None]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    completed_at: Mapped[datetime | None]
    artifact_path: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(255))
    # an erasure's hard deletion, an export link's expiry
    due_at: Mapped[datetime | None]
    # what the request did: an erasure's certificate (counts and times, no personal data)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
