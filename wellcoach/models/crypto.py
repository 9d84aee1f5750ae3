"""Per-user data keys, wrapped by the master key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, utcnow


class UserKey(Base):
    """The user's DEK, wrapped. Destroying it (wrapped_dek NULL) shreds the user's data."""

    __tablename__ = "user_keys"
    # its own schema: data backups leave it out, and it is backed up on its own with a
    # retention shorter than the erasure grace period (docs/adr/0015)
    __table_args__ = {"schema": "keystore"}

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kek_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    rotated_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]
