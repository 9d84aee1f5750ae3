"""Chat sessions, messages (monthly partitions) and mood entries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, TimestampMixin, new_id, utcnow
from wellcoach.models.enums import MessageStatus, MessageType, enum_column


class ChatSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (Index(None, "user_id", "started_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    ended_at: Mapped[datetime | None]
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    summary_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    context_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    language: Mapped[str | None] = mapped_column(String(8))


class Message(Base):
    """A chat message. Partitioned by month on created_at (the SPEC's `timestamp`)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_user_created", "user_id", text("created_at DESC")),
        Index("ix_messages_session_created", "session_id", text("created_at DESC")),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(primary_key=True, default=utcnow)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[MessageType] = mapped_column(enum_column(MessageType, "message_type"))
    content_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus, "message_status"))
    reply_to_id: Mapped[uuid.UUID | None]
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class MoodEntry(IdMixin, Base):
    __tablename__ = "mood_entries"
    __table_args__ = (Index(None, "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="SET NULL")
    )
    mood: Mapped[int | None] = mapped_column(SmallInteger)
    stress: Mapped[int | None] = mapped_column(SmallInteger)
    note_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
