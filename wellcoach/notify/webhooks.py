"""Signed webhooks: events recorded with the change that caused them, delivered by a job.

`emit` records one `webhook_deliveries` row per configured endpoint whose patterns match
the event, in the caller's transaction: a rolled-back change sends nothing. The rows are
handed to a `WebhookQueue` (an RQ adapter in jobs/webhooks.py) only after the commit;
without a queue, or when the queue is down, the sweep (`wellcoach cron`) picks them up.

Wire format (the Stripe scheme), so that a receiver in any language can verify it:

    POST <endpoint url>
    Content-Type: application/json
    Wellcoach-Event-Id: <event uuid>          (the same for every retry: deduplicate on it)
    Wellcoach-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

    {"created_at":"2026-12-06T02:31:23+00:00","data":{"escalation_id":"..."},
     "id":"<event uuid>","type":"escalation.assigned"}

To verify: split the header on "," and each part on the first "="; compute the HMAC of
the ASCII timestamp, a ".", and the raw body bytes exactly as received (before any JSON
parsing) with the endpoint's secret; compare it with each `v1` value in constant time;
refuse a timestamp more than 5 minutes away from your clock (a replayed request). `t` is
new on every attempt. `verify` below does exactly this.

`data` carries ids, enum values, counts and timestamps only, never personal text: strings
are limited to short tokens without spaces, and anything else is refused (`emit` raises).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal, Protocol
from urllib.parse import urlparse

import httpx
import structlog
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from wellcoach.config import Settings, WebhookEndpointSettings, WebhookSettings, get_settings
from wellcoach.db.base import utcnow
from wellcoach.errors import Conflict, InvalidInput, NotFound
from wellcoach.models.webhooks import WebhookDelivery, WebhookStatus

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "Wellcoach-Signature"
EVENT_ID_HEADER = "Wellcoach-Event-Id"
DEFAULT_TOLERANCE = 300  # seconds
TEST_EVENT = "webhook.test"
# a delivery job may run a little before its row's next_attempt_at (clocks, RQ's scheduler)
DUE_SLACK = timedelta(seconds=5)
# a pending row this long past due has lost its job: the sweep queues it again
SWEEP_GRACE = timedelta(seconds=60)

_TOKEN = re.compile(r"^[A-Za-z0-9_.:+\-]{0,64}$")
_PENDING = "wellcoach.webhooks.pending"

Outcome = Literal["delivered", "retry", "dead", "skipped"]


class InvalidSignature(ValueError):
    """A webhook whose signature header is missing, malformed, wrong or too old."""


class WebhookDataRefused(InvalidInput):
    """Webhook data may hold ids, enum values, counts and timestamps only."""

    code = "webhook_data_refused"


class WebhookQueue(Protocol):
    """Where deliveries go once their transaction has committed (sync: called from the
    session's after-commit hook)."""

    def enqueue(self, delivery_ids: Sequence[uuid.UUID]) -> None: ...


# --- signing -------------------------------------------------------------------------


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes that are signed and sent: compact JSON, keys sorted."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>"."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, event_id: uuid.UUID | str, *, now: float | None = None
) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(event_id),
        SIGNATURE_HEADER: f"t={timestamp},v1={signature(secret, body, timestamp)}",
        "User-Agent": "wellcoach-webhooks/1",
    }


def verify(
    secret: str,
    body: bytes | str,
    header: str | None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a `Wellcoach-Signature` header against the raw body; return its timestamp.

    Raises `InvalidSignature` when the header is malformed, no `v1` matches (compared in
    constant time), or the timestamp is more than `tolerance` seconds from `now`
    (a replay). Several `v1` values are accepted (a sender rotating its secret)."""
    if not header:
        raise InvalidSignature("missing signature header")
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("malformed timestamp") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("the header needs t= and v1=")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = signature(secret, raw, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature("signature mismatch")
    return timestamp


# --- events --------------------------------------------------------------------------


def _plain(key: str, value: object) -> object:
    """The JSON value of one `data` entry, refusing anything that could be free text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, list | tuple):
        return [_plain(key, item) for item in value]
    if isinstance(value, str) and _TOKEN.match(value):
        return value
    raise WebhookDataRefused(details={"field": key})


def make_payload(
    event_type: str,
    data: Mapping[str, object],
    *,
    event_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    if not _TOKEN.match(event_type) or not event_type:
        raise WebhookDataRefused("an event type is a dotted name", details={"type": event_type})
    return {
        "id": str(event_id or uuid.uuid4()),
        "type": event_type,
        "created_at": (created_at or utcnow()).isoformat(),
        "data": {key: _plain(key, value) for key, value in data.items()},
    }


def subscribed(endpoint: WebhookEndpointSettings, event_type: str) -> bool:
    return any(fnmatchcase(event_type, pattern) for pattern in endpoint.events)


def insecure(url: str, settings: Settings) -> bool:
    """In production, plain http is allowed to loopback only (a local relay)."""
    parsed = urlparse(url)
    if settings.env != "production" or parsed.scheme == "https":
        return False
    host = parsed.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


async def emit(
    session: AsyncSession,
    event_type: str,
    data: Mapping[str, object],
    *,
    settings: Settings | None = None,
    queue: WebhookQueue | None = None,
) -> list[uuid.UUID]:
    """Record the event for every subscribed endpoint, in the caller's transaction, and
    return the delivery ids. With a `queue`, the deliveries are queued once the
    transaction commits (never for a rollback); without one the cron sweep sends them.
    An endpoint refused by policy (plain http in production) gets a dead row at once.
    `settings` defaults to the process's (`get_settings()`): callers keep the short
    signature `emit(session, event_type, data)`. Floats and free text are refused in
    `data` (a mood score is personal data too): send ids, and let the receiver ask."""
    settings = settings or get_settings()
    payload = make_payload(event_type, data)
    rows: list[WebhookDelivery] = []
    for endpoint in settings.webhooks.endpoints:
        if not subscribed(endpoint, event_type):
            continue
        row = WebhookDelivery(
            id=uuid.uuid4(),
            event_id=uuid.UUID(payload["id"]),
            event_type=event_type,
            endpoint_url=endpoint.url,
            payload=payload,
            status=WebhookStatus.pending,
            attempts=0,
            next_attempt_at=utcnow(),
        )
        if insecure(endpoint.url, settings):
            row.status, row.last_error = WebhookStatus.dead, "insecure_url"
        rows.append(row)
    session.add_all(rows)
    await session.flush()
    pending = [row.id for row in rows if row.status is WebhookStatus.pending]
    if queue is not None and pending:
        _after_commit(session, queue, pending)
    log.info("webhook_emitted", type=event_type, deliveries=len(rows))
    return [row.id for row in rows]


def _after_commit(session: AsyncSession, queue: WebhookQueue, ids: list[uuid.UUID]) -> None:
    sync = session.sync_session
    if _PENDING not in sync.info:
        sync.info[_PENDING] = []
        event.listen(sync, "after_commit", _flush_pending)
        event.listen(sync, "after_rollback", _drop_pending)
    sync.info[_PENDING].append((queue, ids))


def _flush_pending(sync: Session) -> None:
    """After the commit: hand the ids to their queue (RQ's client is sync and quick; a
    Redis error is logged, and the sweep sends those rows later)."""
    waiting, sync.info[_PENDING] = sync.info.get(_PENDING, []), []
    for queue, ids in waiting:
        try:
            queue.enqueue(ids)
        except Exception:  # the rows are committed: the sweep sends them
            log.warning("webhook_enqueue_failed", deliveries=len(ids))


def _drop_pending(sync: Session) -> None:
    sync.info[_PENDING] = []


# --- delivery ------------------------------------------------------------------------


def retry_intervals(webhooks: WebhookSettings) -> list[int]:
    """Seconds before retry 1, 2, ...: base * factor ** (n - 1), max_attempts - 1 of them."""
    return [
        webhooks.backoff_base_seconds * webhooks.backoff_factor**n
        for n in range(webhooks.max_attempts - 1)
    ]


def endpoint_for(settings: Settings, url: str) -> WebhookEndpointSettings | None:
    return next((e for e in settings.webhooks.endpoints if e.url == url), None)


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post(
    url: str,
    secret: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    client: httpx.AsyncClient | None = None,
) -> Attempt:
    """One signed POST (a fresh timestamp each time); redirects are not followed."""
    body = encode_body(payload)
    headers = signed_headers(secret, body, payload["id"])
    started = time.perf_counter()
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=timeout) as own:
                response = await own.post(url, content=body, headers=headers)
        else:
            response = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Attempt(None, type(exc).__name__, elapsed)
    elapsed = (time.perf_counter() - started) * 1000
    ok = 200 <= response.status_code < 300
    return Attempt(response.status_code, None if ok else f"http_{response.status_code}", elapsed)


async def deliver(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
) -> Outcome:
    """Make one attempt at a pending delivery. Idempotent: a delivery that is delivered,
    dead, locked by another job, or not yet due is skipped. A failure schedules the next
    attempt, or makes the delivery dead after `max_attempts`."""
    row = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .with_for_update(skip_locked=True)
    )
    now = utcnow()
    if row is None or row.status is not WebhookStatus.pending:
        return "skipped"
    if row.next_attempt_at > now + DUE_SLACK:
        return "skipped"
    webhooks = settings.webhooks
    endpoint = endpoint_for(settings, row.endpoint_url)
    if endpoint is None or insecure(row.endpoint_url, settings):
        row.status = WebhookStatus.dead
        row.last_error = "endpoint_removed" if endpoint is None else "insecure_url"
        await session.flush()
        return "dead"
    result = await post(
        row.endpoint_url,
        endpoint.secret.get_secret_value(),
        row.payload,
        timeout=webhooks.timeout_seconds,
        client=client,
    )
    row.attempts += 1
    row.last_status_code = result.status_code
    row.last_error = result.error
    outcome: Outcome
    if result.ok:
        row.status, row.delivered_at, outcome = WebhookStatus.delivered, utcnow(), "delivered"
    elif row.attempts >= webhooks.max_attempts:
        row.status, outcome = WebhookStatus.dead, "dead"
    else:
        wait = retry_intervals(webhooks)[row.attempts - 1]
        row.next_attempt_at, outcome = utcnow() + timedelta(seconds=wait), "retry"
    await session.flush()
    log.info(
        "webhook_attempt",
        delivery=str(row.id),
        outcome=outcome,
        attempt=row.attempts,
        status_code=result.status_code,
        latency_ms=round(result.latency_ms, 1),
    )
    return outcome


async def send_test(
    url: str, secret: str, *, timeout: float, client: httpx.AsyncClient | None = None
) -> tuple[dict[str, Any], Attempt]:
    """Send a signed `webhook.test` event now, recording nothing."""
    payload = make_payload(TEST_EVENT, {})
    return payload, await post(url, secret, payload, timeout=timeout, client=client)


# --- the dead-letter list and the sweep ----------------------------------------------


async def dead_letters(session: AsyncSession, *, limit: int = 100) -> list[WebhookDelivery]:
    """Newest first."""
    return list(
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == WebhookStatus.dead)
            .order_by(WebhookDelivery.created_at.desc())
            .limit(limit)
        )
    )


async def revive(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Give a dead delivery a fresh set of attempts (the caller queues it after commit)."""
    row = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if row is None:
        raise NotFound("no such webhook delivery")
    if row.status is not WebhookStatus.dead:
        raise Conflict(f"the delivery is {row.status.value}, not dead")
    row.status, row.attempts, row.next_attempt_at = WebhookStatus.pending, 0, utcnow()
    await session.flush()
    return row


async def lost_deliveries(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> list[uuid.UUID]:
    """Pending deliveries past due by more than SWEEP_GRACE: their job was lost (or they
    were emitted without a queue)."""
    cutoff = (now or utcnow()) - SWEEP_GRACE
    return list(
        await session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == WebhookStatus.pending,
                WebhookDelivery.next_attempt_at <= cutoff,
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )
