"""Enumerations shared by models and schemas (stored as checked VARCHARs)."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


class Role(enum.StrEnum):
    athlete = "athlete"
    coach = "coach"
    team_manager = "team_manager"
    admin = "admin"
    finance = "finance"  # reads the LLM cost reports in the dashboard (migration 0006)


class Tier(enum.StrEnum):
    free = "free"
    premium = "premium"
    team = "team"


class ConsentPurpose(enum.StrEnum):
    data_processing = "data_processing"
    health_data = "health_data"
    marketing = "marketing"


class MessageType(enum.StrEnum):
    user = "user"
    ai = "ai"
    system = "system"
    coach = "coach"  # a human coach's reply to an escalation (migration 0009)


class MessageStatus(enum.StrEnum):
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    error = "error"


class EscalationReason(enum.StrEnum):
    needs_human_support = "needs_human_support"
    emergency_support = "emergency_support"
    technical_issue = "technical_issue"
    feedback_complaint = "feedback_complaint"
    general_inquiry = "general_inquiry"


class Urgency(enum.StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class EscalationStatus(enum.StrEnum):
    submitted = "submitted"
    triaged = "triaged"
    assigned = "assigned"
    in_progress = "in_progress"
    responded = "responded"
    closed = "closed"


class HealthMetricType(enum.StrEnum):
    steps = "steps"
    heart_rate = "heart_rate"
    sleep = "sleep"
    workout = "workout"
    mindfulness = "mindfulness"
    hrv = "hrv"
    resting_heart_rate = "resting_heart_rate"
    active_energy = "active_energy"


class HealthSource(enum.StrEnum):
    apple_health = "apple_health"
    google_health = "google_health"
    manual = "manual"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class GdprKind(enum.StrEnum):
    export = "export"
    erasure = "erasure"


class HealthImportStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"


class GdprStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    scheduled = "scheduled"  # an erasure in its grace period (until due_at)
    cancelled = "cancelled"


def enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR with a CHECK constraint: new values need no type migration dance."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )
