"""Human coaches and escalations, with a status history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, TimestampMixin, utcnow
from wellcoach.models.enums import EscalationReason, EscalationStatus, Urgency, enum_column


class Coach(IdMixin, TimestampMixin, Base):
    __tablename__ = "coaches"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    display_name: Mapped[str] = mapped_column(String(100))
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    sports: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    max_open_cases: Mapped[int] = mapped_column(Integer, default=10)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # weekly windows in the coach's timezone: {"mon": [["09:00", "17:00"]], ...}; empty
    # means no window at all (the coach is never available for automatic assignment)
    availability: Mapped[dict[str, list[list[str]]]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class Escalation(IdMixin, TimestampMixin, Base):
    __tablename__ = "escalations"
    __table_args__ = (
        Index(None, "status", "sla_due_at"),
        Index(None, "assigned_coach_id", "status"),
        Index(None, "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="SET NULL")
    )
    reason: Mapped[EscalationReason] = mapped_column(
        enum_column(EscalationReason, "escalation_reason")
    )
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency, "escalation_urgency"))
    status: Mapped[EscalationStatus] = mapped_column(
        enum_column(EscalationStatus, "escalation_status"), default=EscalationStatus.submitted
    )
    source: Mapped[str] = mapped_column(String(16), default="user")
    # the chat message that caused an automatic escalation: one escalation per message
    message_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    message_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    context_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    assigned_coach_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("coaches.id", ondelete="SET NULL")
    )
    response_time_sla: Mapped[str] = mapped_column(String(8))
    sla_due_at: Mapped[datetime]
    triaged_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    sla_breached_at: Mapped[datetime | None]
    # when the SLA watcher warned that the deadline is near (once)
    sla_warned_at: Mapped[datetime | None]
    # triage (wellcoach.escalation.triage): 0-100, higher first, and the rules that fired
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    triage: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class EscalationEvent(IdMixin, Base):
    __tablename__ = "escalation_events"

    escalation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[uuid.UUID | None]
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    note_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
