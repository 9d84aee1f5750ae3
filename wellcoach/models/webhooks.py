"""Webhook deliveries: one row per (event, endpoint), also the dead-letter list.

Endpoints live in settings (`WELLCOACH_WEBHOOKS`), not here: a row keeps the endpoint's
URL, and the delivery looks its secret up in settings when it sends, so no secret is
stored in the database.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, utcnow
from wellcoach.models.enums import enum_column


class WebhookStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead = "dead"  # every attempt failed: the dead-letter list


class WebhookDelivery(IdMixin, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    endpoint_url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[WebhookStatus] = mapped_column(
        enum_column(WebhookStatus, "webhook_delivery_status"), default=WebhookStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    delivered_at: Mapped[datetime | None]
