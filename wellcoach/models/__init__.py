"""ORM models, one module per domain, all on one metadata for Alembic."""

from wellcoach.db.base import Base
from wellcoach.models.accounts import ConsentRecord, User
from wellcoach.models.audit import AuditLog
from wellcoach.models.auth import JwtSigningKey, OneTimeToken, RecoveryCode, RefreshToken
from wellcoach.models.chat import ChatSession, Message, MoodEntry
from wellcoach.models.costs import LlmCall
from wellcoach.models.crypto import UserKey
from wellcoach.models.escalation import Coach, Escalation, EscalationEvent
from wellcoach.models.gdpr import GdprRequest
from wellcoach.models.health import HealthImport, HealthMetric
from wellcoach.models.kb import KbChunk, KbDocument, KbIngestRun
from wellcoach.models.notify import EmailOutbox
from wellcoach.models.system import SystemState
from wellcoach.models.webhooks import WebhookDelivery

metadata = Base.metadata

__all__ = [
    "AuditLog",
    "ChatSession",
    "Coach",
    "ConsentRecord",
    "EmailOutbox",
    "Escalation",
    "EscalationEvent",
    "GdprRequest",
    "HealthImport",
    "HealthMetric",
    "JwtSigningKey",
    "KbChunk",
    "KbDocument",
    "KbIngestRun",
    "LlmCall",
    "Message",
    "MoodEntry",
    "OneTimeToken",
    "RecoveryCode",
    "RefreshToken",
    "SystemState",
    "User",
    "UserKey",
    "WebhookDelivery",
    "metadata",
]
