"""The escalation request contract (SPEC: EscalationRequest) as the API takes and gives it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from wellcoach.models.enums import EscalationReason, EscalationStatus, Urgency
from wellcoach.text import Prose, Uuid

RequestText = Annotated[str, StringConstraints(min_length=1, max_length=2000), Prose]
# a mood score as the app records it (1-10); a JSON integer, never a string or a float
Score = Annotated[StrictInt, Field(ge=1, le=10)]


class EscalationContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: Uuid | None = Field(None, description="One of your chat sessions.")
    recent_mood_scores: list[Score] = Field(default_factory=list, max_length=20)


class EscalationRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: EscalationReason
    urgency: Urgency = Urgency.medium
    message: RequestText = Field(description="What you would like a coach to know.")
    context: EscalationContextIn = Field(default_factory=EscalationContextIn)


class EscalationOut(BaseModel):
    id: Uuid
    reason: EscalationReason
    urgency: Urgency
    status: EscalationStatus
    message: str
    session_id: Uuid | None
    assigned_coach: str | None = Field(description="The coach's display name, once assigned.")
    response_time_sla: str = Field(description='"1h", "4h", "24h" or "72h".')
    sla_due_at: datetime
    first_response_at: datetime | None
    created_at: datetime
