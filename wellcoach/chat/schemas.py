"""The Chat Session contract of SPEC.md."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wellcoach.text import OneLine, Prose

# free text with something visible once cleaned (see wellcoach.text)
MessageText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), Prose
]


class SendMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: MessageText
    client_message_id: Annotated[str, StringConstraints(max_length=64), OneLine] | None = None
    # "sync" answers in the response; "async" queues the reply (202) for Socket.IO delivery
    mode: Literal["sync", "async"] = "sync"


class MessageOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    content: str
    type: Literal["user", "ai", "system"]
    timestamp: datetime
    status: Literal["sending", "sent", "delivered", "read", "error"]
    reply_to: uuid.UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TurnOut(BaseModel):
    user_message: MessageOut
    reply: MessageOut | None
    queued: bool = False
    # the reply's id; when the turn is queued (202) the reply arrives later over
    # Socket.IO (`reply_done`) with this id
    reply_id: uuid.UUID | None = None
    crisis: bool = False


class MoodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mood: int | None = Field(default=None, ge=1, le=10)
    stress: int | None = Field(default=None, ge=1, le=10)
    note: Annotated[str, StringConstraints(max_length=500), Prose] | None = None


class MoodEntryOut(BaseModel):
    mood: int | None
    stress: int | None
    timestamp: datetime


class SessionContextOut(BaseModel):
    current_mood: int | None = None
    stress_level: int | None = None
    recent_activities: list[str] = Field(default_factory=list)
    health_metrics: dict[str, Any] | None = None
    preferences: dict[str, Any] = Field(default_factory=dict)


class ChatSessionOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    started_at: datetime
    ended_at: datetime | None
    message_count: int
    summary: str | None
    context: SessionContextOut
    mood_progression: list[MoodEntryOut]


class ChatSessionDetail(ChatSessionOut):
    messages: list[MessageOut]
    next_before: datetime | None  # pass as `before` for the next (older) page


class MessageStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    status: Literal["delivered", "read"]
