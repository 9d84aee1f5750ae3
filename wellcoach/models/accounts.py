"""Users and their consent history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, TimestampMixin, utcnow
from wellcoach.models.enums import ConsentPurpose, Role, Tier, enum_column


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_upper"),)

    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(100))
    sport: Mapped[str | None] = mapped_column(String(50))
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    # ISO 3166-1 alpha-2, upper case (checked on input against the assigned codes): the
    # crisis resources a reply gives are this country's
    country: Mapped[str | None] = mapped_column(String(2))
    # an IANA zone: the days of health summaries are this user's days
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    role: Mapped[Role] = mapped_column(
        enum_column(Role, "user_role"), default=Role.athlete, server_default=Role.athlete.value
    )
    tier: Mapped[Tier] = mapped_column(
        enum_column(Tier, "user_tier"), default=Tier.free, server_default=Tier.free.value
    )
    avatar_config: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    preferences: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    email_verified_at: Mapped[datetime | None]
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    last_active_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # bumped when every session must end (password change or reset); access
    # tokens carry it, so older ones stop working before they expire
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleted_at: Mapped[datetime | None]


class ConsentRecord(IdMixin, Base):
    """One grant or withdrawal; the latest row per purpose is the current state."""

    __tablename__ = "consent_records"
    __table_args__ = (Index(None, "user_id", "purpose", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[ConsentPurpose] = mapped_column(enum_column(ConsentPurpose, "consent_purpose"))
    granted: Mapped[bool] = mapped_column(Boolean)
    policy_version: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    ip_address: Mapped[str | None] = mapped_column(INET)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
