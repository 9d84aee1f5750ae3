"""The Chat Session contract of SPEC.md."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from wellcoach.text import OneLine, Prose, Uuid

# free text with something visible once cleaned (see wellcoach.text)
MessageText = Annotated[str, StringConstraints(min_length=1, max_length=4000), Prose]


def _json_number(value: object) -> object:
    """A JSON integer, as the schema says: pydantic alone would read `true` as 1 and "5"
    as 5."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    return value


Score = Annotated[int, Interval(ge=1, le=10), BeforeValidator(_json_number)]


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
    type: Literal["user", "ai", "system", "coach"]
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

    mood: Score | None = None
    stress: Score | None = None
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

    message_ids: list[Uuid] = Field(min_length=1, max_length=100)
    status: Literal["delivered", "read"]
