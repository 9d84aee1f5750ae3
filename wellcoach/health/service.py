"""Health use cases: sync samples from a phone, summarise a user's days, and give the
coach (and the escalation triage) what it may know. Every read and write needs the
user's health_data consent; values are sealed with the user's key before any store
sees them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.accounts.errors import ConsentRequired
from wellcoach.audit import RequestContext, record
from wellcoach.crypto import Vault
from wellcoach.errors import InvalidInput
from wellcoach.health import cache
from wellcoach.health.ingest import samples_from
from wellcoach.health.repository import PostgresHealthStore
from wellcoach.health.samples import Sample, SealedSample
from wellcoach.health.schemas import HealthMetricIn
from wellcoach.health.store import HealthStore
from wellcoach.health.summary import (
    BASELINE_DAYS,
    BASELINE_METRICS,
    RECENT_DAYS,
    WINDOW_METRICS,
    alerts,
    daily,
    window,
)
from wellcoach.models import User
from wellcoach.models.enums import ConsentPurpose

PURPOSE = "health_metric"
MAX_DAYS = 90
MAX_BATCH = 10_000


@dataclass(frozen=True)
class SyncOutcome:
    received: int
    stored: int | None  # None: the store cannot tell new samples from resent ones
    duplicates: int | None


async def require_consent(session: AsyncSession, user: User) -> None:
    if not await users.has_consent(session, user.id, ConsentPurpose.health_data):
        raise ConsentRequired(
            "Health data needs your consent to health data processing first.",
            details={"consent": ConsentPurpose.health_data.value},
        )


def zone_of(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def seal(
    session: AsyncSession, vault: Vault, user_id: uuid.UUID, samples: Sequence[Sample]
) -> list[SealedSample]:
    seal_one = await vault.sealer(session, user_id, purpose=PURPOSE)
    digest = await vault.digester(session, user_id, purpose="health_device")
    tags: dict[str, bytes] = {"": b""}

    def tag_of(device: str | None) -> bytes:
        found = tags.get(device or "")
        if found is None:
            found = tags[device or ""] = digest(device.encode() if device else b"")[:8]
        return found

    return [
        SealedSample(
            s.metric, s.source, s.start, s.end, s.unit, seal_one(s.payload()), tag_of(s.device)
        )
        for s in samples
    ]


async def open_samples(
    session: AsyncSession, vault: Vault, user_id: uuid.UUID, sealed: Sequence[SealedSample]
) -> list[Sample]:
    open_one = await vault.opener(session, user_id, purpose=PURPOSE)
    return [
        Sample.from_payload(
            open_one(s.payload),
            metric=s.metric,
            source=s.source,
            start=s.start,
            end=s.end,
            unit=s.unit,
        )
        for s in sealed
    ]


async def store_samples(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    user_id: uuid.UUID,
    samples: Sequence[Sample],
) -> int | None:
    """Seal and write; the count of new samples (None when the store cannot tell)."""
    if not samples:
        return 0
    return await store.write(session, user_id, await seal(session, vault, user_id, samples))


async def sync(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis,
    user: User,
    metrics: Sequence[HealthMetricIn],
    *,
    request: RequestContext,
) -> SyncOutcome:
    """Store a batch from the app: the consent first, then the batch checked whole
    (`ingest.samples_from`), then stored. A resent sample is stored once (the same user,
    metric, start, end, source and device), so an app may resend a batch it is unsure
    of."""
    await require_consent(session, user)
    if len(metrics) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} metrics per request.", details={"max": MAX_BATCH})
    samples = samples_from(metrics, user.id, datetime.now(UTC))
    stored = await store_samples(session, vault, store, user.id, samples)
    await cache.invalidate(redis, user.id)
    await record(
        session,
        "health.synced",
        context=request,
        user_id=user.id,
        resource_type="health_metrics",
        details={"received": len(samples), "stored": stored, "store": store.name},
    )
    return SyncOutcome(
        received=len(samples),
        stored=stored,
        duplicates=None if stored is None else len(samples) - stored,
    )


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tz).astimezone(UTC)


async def compute_summary(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    user: User,
    days: int,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The summary of the user's last `days` days (today included), read from the store.
    The alerts' baseline needs 31 days of resting HR, HRV and sleep whatever `days` is;
    the other metrics are read for the window only (a year of minute-level heart rate
    is never scanned)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}.", details={"days": days})
    tz = zone_of(user)
    now = now or datetime.now(UTC)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    baseline_first = min(first, today - timedelta(days=BASELINE_DAYS + RECENT_DAYS - 1))
    end = _day_start(today + timedelta(days=1), tz)
    sealed = await store.read(
        session,
        user.id,
        BASELINE_METRICS,
        # a night that ends on the first day began the evening before
        _day_start(baseline_first - timedelta(days=1), tz),
        end,
    )
    sealed += await store.read(
        session, user.id, WINDOW_METRICS, _day_start(first - timedelta(days=1), tz), end
    )
    samples = await open_samples(session, vault, user.id, sealed)
    every_day = daily(samples, tz, baseline_first, today)
    shown = [d for d in every_day if d.day >= first]
    return {
        "timezone": str(tz),
        "generated_at": now.isoformat(),
        "days": [d.as_json() for d in shown],
        "window": window(shown),
        "alerts": [a.as_json() for a in alerts(every_day)],
    }


async def summary(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis,
    user: User,
    days: int = 7,
    *,
    request: RequestContext | None = None,
) -> dict[str, Any]:
    """The user's summary, from the 30-minute cache when no data arrived since."""
    await require_consent(session, user)
    found = await _cached_summary(session, vault, store, redis, user, days)
    if request is not None:
        await record(
            session,
            "health.summary_read",
            context=request,
            user_id=user.id,
            resource_type="health_summary",
            details={"days": days},
        )
    return found


async def _cached_summary(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis,
    user: User,
    days: int,
) -> dict[str, Any]:
    tz = zone_of(user)
    today = datetime.now(tz).date()  # a summary of yesterday's "last 7 days" is stale
    found, key = await cache.get(redis, session, vault, user.id, f"{days}:{tz}:{today}")
    if found is None:
        found = await compute_summary(session, vault, store, user, days)
        await cache.put(redis, session, vault, user.id, key, found)
    return found


@dataclass(frozen=True)
class CoachView:
    """What the coach may know of the user's health: a few lines for the prompt, and
    the alerts (which also raise an escalation's priority)."""

    lines: list[str]
    alerts: list[dict[str, Any]]

    @property
    def alert_messages(self) -> list[str]:
        return [a["message"] for a in self.alerts]


async def coach_view(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis | None,
    user: User,
    *,
    consented: bool | None = None,
) -> CoachView | None:
    """None without the health_data consent, or when the user has no recent data.
    `consented`: the consent as the caller already read it (a chat turn reads it with
    the rest of its context, in one round trip)."""
    if consented is None:
        consented = await users.has_consent(session, user.id, ConsentPurpose.health_data)
    if not consented:
        return None
    if redis is None:
        found = await compute_summary(session, vault, store, user, 7)
    else:
        found = await _cached_summary(session, vault, store, redis, user, 7)
    if not found["window"]["days_with_data"] and not found["alerts"]:
        return None
    return CoachView(lines=describe(found), alerts=found["alerts"])


async def health_alerts_of(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis | None,
    user: User,
) -> tuple[str, ...]:
    """The alerts an escalation records (none without consent or data)."""
    view = await coach_view(session, vault, store, redis, user)
    return tuple(view.alert_messages) if view else ()


def describe(found: dict[str, Any]) -> list[str]:
    """The summary in a few plain lines for the coach's prompt."""
    win, days = found["window"], found["days"]
    lines = [f"Health data from the athlete's devices, last {win['days']} days:"]
    if win["daily_steps"] is not None:
        lines.append(f"- steps: {win['daily_steps']:,} a day on average")
    if win["sleep_score"] is not None:
        recent = [d for d in days if d["sleep_minutes"] is not None][-3:]
        nights = ", ".join(_hours(d["sleep_minutes"]) for d in recent)
        lines.append(f"- sleep score {win['sleep_score']}/100; last nights asleep: {nights}")
    stress = win["stress_indicators"]
    if stress["resting_hr"] is not None:
        lines.append(f"- resting heart rate {stress['resting_hr']:.0f} bpm")
    if stress["hrv"] is not None:
        lines.append(f"- HRV {stress['hrv']:.0f} ms")
    if win["workout_minutes"] is not None:
        lines.append(f"- workouts: {win['workout_minutes']:.0f} min in total")
    for alert in found["alerts"]:
        lines.append(f"- ALERT: {alert['message']}")
    return lines


def _hours(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d}"


async def delete_series(
    session: AsyncSession, store: HealthStore, redis: aioredis.Redis, user_id: uuid.UUID
) -> None:
    """Every health series of the user, in the configured store (and the PostgreSQL
    table, which a user deletion cascades to anyway), and their cached summaries."""
    await store.delete_user(session, user_id)
    if not isinstance(store, PostgresHealthStore):
        await PostgresHealthStore().delete_user(session, user_id)
    await cache.invalidate(redis, user_id)
