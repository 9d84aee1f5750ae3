"""The GDPR export's contents (Art. 20): everything kept about one user, opened with
their key, as one JSON document (`export.schema.json` beside this module) plus CSVs of
the chat history and the health data, in a ZIP.

Reads go through each domain's access-control query with the user as the subject, so
the export holds exactly what the user may read of their own. Health data is exported
whatever the current consents: withdrawing a consent does not take away the right to
one's data.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.accounts.service import consents_of, profile_of
from wellcoach.chat import repository as chat
from wellcoach.crypto import Vault
from wellcoach.errors import NotFound
from wellcoach.escalation.repository import escalations_readable_by
from wellcoach.health.samples import Sample
from wellcoach.health.service import open_samples
from wellcoach.health.store import HealthStore
from wellcoach.models import (
    AuditLog,
    ChatSession,
    Escalation,
    EscalationEvent,
    HealthImport,
    LlmCall,
    Message,
    User,
)
from wellcoach.models.enums import HealthMetricType

FORMAT_VERSION = "1.0"
HEALTH_FROM = datetime(2000, 1, 1, tzinfo=UTC)
JSON_NAME = "export.json"
CHAT_CSV = "chat_history.csv"
HEALTH_CSV = "health_data.csv"
README_NAME = "README.txt"
CHAT_COLUMNS = ("session_id", "message_id", "created_at", "type", "status", "content")
HEALTH_COLUMNS = (
    "metric",
    "source",
    "start",
    "end",
    "value",
    "unit",
    "device",
    "stage",
    "activity",
    "details",
)

README = f"""Your wellcoach data (GDPR Art. 20 export, format {FORMAT_VERSION})

{JSON_NAME}
    Everything wellcoach keeps about you, in one JSON document: your profile and
    consents (with their history), every chat session with its messages and summary,
    your mood entries, your health data and health imports, your escalations to human
    coaches with their history, usage analytics and the AI calls made for you, and the
    audit log of actions on your account. Texts are decrypted.
{CHAT_CSV}
    Every chat message, one per row: {", ".join(CHAT_COLUMNS)}.
{HEALTH_CSV}
    Every health sample, one per row: {", ".join(HEALTH_COLUMNS)}. Values are in the
    unit of the row; times are UTC (ISO 8601).

This file holds personal data, health data included: keep it somewhere safe.
"""


def _at(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _actor(actor_id: uuid.UUID | None, user_id: uuid.UUID) -> str:
    """Who acted, without naming staff: the user, someone else (a coach, an admin), or
    the system."""
    if actor_id is None:
        return "system"
    return "you" if actor_id == user_id else "staff"


async def collect(
    session: AsyncSession,
    vault: Vault,
    health_store: HealthStore,
    user_id: uuid.UUID,
    *,
    now: datetime,
    samples: bool = True,
) -> dict[str, Any]:
    """The export document of one user (see `export.schema.json`). Without `samples`,
    the health samples are left out (`write_export` streams them into the ZIP).

    Raises:
        NotFound: no such user.
        KeyShredded: the user's key was destroyed (their data cannot be opened).
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", details={"user_id": str(user_id)})
    subject = Subject(user_id=user.id, role=user.role)
    sessions = await _chat(session, vault, subject)
    moods = await _moods(session, vault, user.id)
    found = await _health(session, vault, health_store, user.id, now) if samples else []
    escalations = await _escalations(session, vault, subject)
    ledger = await _ledger(session, user.id)
    messages = [m for s in sessions for m in s["messages"]]
    return {
        "format_version": FORMAT_VERSION,
        "exported_at": _at(now),
        "user_id": str(user.id),
        "personal_data": {
            "profile": (await profile_of(session, user)).model_dump(mode="json"),
            "consents": (await consents_of(session, user)).model_dump(mode="json"),
        },
        "chat_history": {"sessions": sessions},
        "mood_entries": moods,
        "health_data": {
            "samples": found,
            "imports": await _imports(session, user.id),
        },
        "escalations": escalations,
        "analytics": {
            "usage": {
                "chat_sessions": len(sessions),
                "messages": len(messages),
                "messages_by_type": dict(sorted(Counter(m["type"] for m in messages).items())),
                "mood_entries": len(moods),
                "health_samples": len(found),
                "health_samples_by_metric": dict(
                    sorted(Counter(s["metric"] for s in found).items())
                ),
                "escalations": len(escalations),
                "ai_calls": len(ledger),
                "ai_tokens_in": sum(row["tokens_in"] for row in ledger),
                "ai_tokens_out": sum(row["tokens_out"] for row in ledger),
                "ai_cost_usd": str(sum((Decimal(row["cost_usd"]) for row in ledger), Decimal(0))),
                "member_since": _at(user.created_at),
                "last_active_at": _at(user.last_active_at),
            },
            "ai_calls": ledger,
        },
        "audit_log": await _audit(session, user.id),
    }


async def _chat(session: AsyncSession, vault: Vault, subject: Subject) -> list[dict[str, Any]]:
    assert subject.user_id is not None
    user_id = subject.user_id
    rows = list(
        await session.scalars(
            chat.sessions_readable_by(subject)
            .where(ChatSession.user_id == user_id)
            .order_by(ChatSession.started_at, ChatSession.id)
        )
    )
    messages = list(
        await session.scalars(
            select(Message)
            .where(Message.user_id == user_id)
            .order_by(Message.created_at, Message.id)
        )
    )
    open_message = await vault.opener(session, user_id, purpose="message")
    open_summary = await vault.opener(session, user_id, purpose="session_summary")
    open_context = await vault.opener(session, user_id, purpose="session_context")
    by_session: dict[uuid.UUID, list[dict[str, Any]]] = {row.id: [] for row in rows}
    for message in messages:
        by_session.setdefault(message.session_id, []).append(
            {
                "id": str(message.id),
                "created_at": _at(message.created_at),
                "type": message.type.value,
                "status": message.status.value,
                "content": open_message(message.content_encrypted).decode(),
                "reply_to": _id(message.reply_to_id),
                "metadata": message.metadata_ or {},
            }
        )
    return [
        {
            "id": str(row.id),
            "started_at": _at(row.started_at),
            "ended_at": _at(row.ended_at),
            "language": row.language,
            "message_count": row.message_count,
            "summary": (
                open_summary(row.summary_encrypted).decode() if row.summary_encrypted else None
            ),
            "context": (
                json.loads(open_context(row.context_encrypted)) if row.context_encrypted else {}
            ),
            "messages": by_session[row.id],
        }
        for row in rows
    ]


async def _moods(session: AsyncSession, vault: Vault, user_id: uuid.UUID) -> list[dict[str, Any]]:
    open_note = await vault.opener(session, user_id, purpose="mood_note")
    return [
        {
            "id": str(entry.id),
            "created_at": _at(entry.created_at),
            "session_id": _id(entry.session_id),
            "mood": entry.mood,
            "stress": entry.stress,
            "note": open_note(entry.note_encrypted).decode() if entry.note_encrypted else None,
            "source": entry.source,
        }
        for entry in await chat.moods(session, user_id)
    ]


async def _health(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    user_id: uuid.UUID,
    now: datetime,
) -> list[dict[str, Any]]:
    return [
        sample
        async for batch in sample_batches(session, vault, store, user_id, now, HEALTH_FROM)
        for sample in batch
    ]


async def sample_batches(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    user_id: uuid.UUID,
    now: datetime,
    since: datetime = HEALTH_FROM,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The user's health samples, oldest first, a month at a time: a year of minute-level
    heart rate is half a million samples, never all in memory at once."""
    month = since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = now + timedelta(days=1)
    while month < end:
        following = (month + timedelta(days=32)).replace(day=1)
        sealed = await store.read(session, user_id, list(HealthMetricType), month, following)
        if sealed:
            yield _sample_dicts(await open_samples(session, vault, user_id, sealed))
        month = following


def _sample_dicts(samples: list[Sample]) -> list[dict[str, Any]]:
    samples.sort(key=lambda s: (s.start, s.metric.value, s.end, s.source.value))
    return [
        {
            "metric": s.metric.value,
            "source": s.source.value,
            "start": _at(s.start),
            "end": _at(s.end),
            "value": s.value,
            "unit": s.unit,
            "device": s.device,
            "stage": s.stage,
            "activity": s.activity,
            "details": s.details,
        }
        for s in samples
    ]


async def _imports(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(HealthImport)
        .where(HealthImport.user_id == user_id)
        .order_by(HealthImport.created_at, HealthImport.id)
    )
    return [
        {
            "id": str(row.id),
            "status": row.status.value,
            "created_at": _at(row.created_at),
            "started_at": _at(row.started_at),
            "finished_at": _at(row.finished_at),
            "size_bytes": row.size_bytes,
            "records_seen": row.records_seen,
            "samples_stored": row.samples_stored,
            "duplicates": row.duplicates,
            "skipped": row.skipped,
            "rejected": row.rejected,
            "error_code": row.error_code,
        }
        for row in rows
    ]


async def _escalations(
    session: AsyncSession, vault: Vault, subject: Subject
) -> list[dict[str, Any]]:
    assert subject.user_id is not None
    user_id = subject.user_id
    rows = list(
        await session.scalars(
            escalations_readable_by(subject)
            .where(Escalation.user_id == user_id)
            .order_by(Escalation.created_at, Escalation.id)
        )
    )
    events: dict[uuid.UUID, list[EscalationEvent]] = {row.id: [] for row in rows}
    if rows:
        for event in await session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id.in_(list(events)))
            .order_by(EscalationEvent.created_at, EscalationEvent.id)
        ):
            events[event.escalation_id].append(event)
    open_message = await vault.opener(session, user_id, purpose="escalation")
    open_context = await vault.opener(session, user_id, purpose="escalation_context")
    open_note = await vault.opener(session, user_id, purpose="escalation_event")
    return [
        {
            "id": str(row.id),
            "created_at": _at(row.created_at),
            "session_id": _id(row.session_id),
            "message_id": _id(row.message_id),
            "reason": row.reason.value,
            "urgency": row.urgency.value,
            "status": row.status.value,
            "source": row.source,
            "message": open_message(row.message_encrypted).decode(),
            "context": (
                json.loads(open_context(row.context_encrypted)) if row.context_encrypted else {}
            ),
            "response_time_sla": row.response_time_sla,
            "sla_due_at": _at(row.sla_due_at),
            "assigned_at": _at(row.assigned_at),
            "first_response_at": _at(row.first_response_at),
            "closed_at": _at(row.closed_at),
            "events": [
                {
                    "id": str(event.id),
                    "created_at": _at(event.created_at),
                    "actor": _actor(event.actor_id, user_id),
                    "from_status": event.from_status,
                    "to_status": event.to_status,
                    "note": (
                        json.loads(open_note(event.note_encrypted))
                        if event.note_encrypted
                        else None
                    ),
                }
                for event in events[row.id]
            ],
        }
        for row in rows
    ]


async def _ledger(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(LlmCall).where(LlmCall.user_id == user_id).order_by(LlmCall.created_at, LlmCall.id)
    )
    return [
        {
            "id": str(row.id),
            "created_at": _at(row.created_at),
            "purpose": row.purpose,
            "provider": row.provider,
            "model": row.model,
            "tier": row.tier,
            "tokens_in": row.tokens_in,
            "tokens_out": row.tokens_out,
            "tokens_cached": row.tokens_cached,
            "cost_usd": str(row.cost_usd),
            "cache_hit": row.cache_hit,
            "status": row.status,
            "session_id": _id(row.session_id),
            "message_id": _id(row.message_id),
        }
        for row in rows
    ]


async def _audit(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Entries about the user or by the user. Where someone else acted, their address
    and browser are theirs, not the user's: left out."""
    rows = await session.scalars(
        select(AuditLog)
        .where(or_(AuditLog.user_id == user_id, AuditLog.actor_id == user_id))
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    entries = []
    for row in rows:
        own = row.actor_id is None or row.actor_id == user_id
        entries.append(
            {
                "id": str(row.id),
                "created_at": _at(row.created_at),
                "action": row.action,
                "actor": _actor(row.actor_id, user_id),
                "resource_type": row.resource_type,
                "resource_id": row.resource_id,
                "details": row.details or {},
                "ip_address": str(row.ip_address) if own and row.ip_address else None,
                "user_agent": row.user_agent if own else None,
            }
        )
    return entries


def _csv(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    writer.writerows(rows)
    return text.getvalue().encode()


def chat_rows(document: dict[str, Any]) -> list[list[Any]]:
    return [
        [s["id"], m["id"], m["created_at"], m["type"], m["status"], m["content"]]
        for s in document["chat_history"]["sessions"]
        for m in s["messages"]
    ]


def health_rows(document: dict[str, Any]) -> list[list[Any]]:
    return [_health_row(s) for s in document["health_data"]["samples"]]


def _health_row(s: dict[str, Any]) -> list[Any]:
    return [
        s["metric"],
        s["source"],
        s["start"],
        s["end"],
        repr(s["value"]),
        s["unit"],
        s["device"] or "",
        s["stage"] or "",
        s["activity"] or "",
        json.dumps(s["details"], sort_keys=True) if s["details"] else "",
    ]


# a JSON string no document holds (a NUL cannot be typed in): where the samples go
_SAMPLES_MARK = "\u0000samples\u0000"


async def write_export(
    session: AsyncSession,
    vault: Vault,
    health_store: HealthStore,
    user_id: uuid.UUID,
    *,
    now: datetime,
    out: BinaryIO,
) -> dict[str, Any]:
    """The same ZIP as `write_zip(collect(...))`, written as a stream: the health samples
    go month by month into health_data.csv, then into export.json, so memory stays flat
    whatever the user's history. Returns the document without its samples (the counts
    are in `analytics.usage`)."""
    document = await collect(session, vault, health_store, user_id, now=now, samples=False)
    by_metric: Counter[str] = Counter()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(README_NAME, README)
        archive.writestr(CHAT_CSV, _csv(CHAT_COLUMNS, chat_rows(document)))
        with archive.open(HEALTH_CSV, "w", force_zip64=True) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(HEALTH_COLUMNS)
            async for batch in sample_batches(session, vault, health_store, user_id, now):
                writer.writerows(_health_row(s) for s in batch)
                by_metric.update(s["metric"] for s in batch)
            text.flush()
            text.detach()
        usage = document["analytics"]["usage"]
        usage["health_samples"] = sum(by_metric.values())
        usage["health_samples_by_metric"] = dict(sorted(by_metric.items()))
        document["health_data"]["samples"] = _SAMPLES_MARK
        rendered = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
        head, tail = rendered.split(json.dumps(_SAMPLES_MARK), 1)
        with archive.open(JSON_NAME, "w", force_zip64=True) as member:
            member.write(head.encode() + b"[")
            first = True
            async for batch in sample_batches(session, vault, health_store, user_id, now):
                for sample in batch:
                    item = json.dumps(sample, ensure_ascii=False)
                    member.write((("\n" if first else ",\n") + "      " + item).encode())
                    first = False
            member.write((b"]" if first else b"\n    ]") + tail.encode())
    document["health_data"]["samples"] = []
    return document


def write_zip(document: dict[str, Any], out: BinaryIO) -> None:
    """The export as a ZIP: export.json, chat_history.csv, health_data.csv, README.txt."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(README_NAME, README)
        archive.writestr(
            JSON_NAME, json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
        )
        archive.writestr(CHAT_CSV, _csv(CHAT_COLUMNS, chat_rows(document)))
        archive.writestr(HEALTH_CSV, _csv(HEALTH_COLUMNS, health_rows(document)))
