"""Erasure (GDPR Art. 17) in two steps.

At once, when the user (or an administrator) asks: the account is disabled and every
session ends; the user is forgotten by Redis (caches, rate-limit counters, queued jobs);
cost-ledger rows, which finance keeps, point to a random pseudonym instead of the user;
health series are deleted from every store. An erasure request is `scheduled` for the
end of the grace period (`gdpr.erasure_grace_days`, 7 by default); until then the user
can cancel from the link emailed to them, or an administrator can.

After the grace period (the `erase_due` job, or at once with `--now`): the user's data
key is destroyed, which makes every ciphertext of theirs unreadable, copies and backups
included (the key table lives in the `keystore` schema that data backups leave out,
docs/adr/0015); then every row of theirs is deleted, and rows that must remain (audit
entries, webhook deliveries) lose the user's id to the same pseudonym and their network
addresses. Chat content is not kept for training: no consent purpose allows it. The
request keeps a certificate (what was deleted and when, counts only), and so does the
audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from redis import exceptions as redis_errors
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext, record
from wellcoach.auth import one_time, refresh
from wellcoach.auth.signing import Signer
from wellcoach.config import Settings
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.errors import NotFound
from wellcoach.gdpr import repository
from wellcoach.health import service as health
from wellcoach.health.imports import upload_path
from wellcoach.health.store import HealthStore
from wellcoach.models import (
    GdprRequest,
    User,
)
from wellcoach.models.enums import GdprKind, GdprStatus
from wellcoach.notify.email import queue_email
from wellcoach.ratelimit.gate import Gate

log = structlog.get_logger(__name__)

# what a worker queue holds for the user (RQ jobs whose arguments name them): the jobs
# adapter forgets them, the core only asks
ForgetJobs = Callable[[uuid.UUID], Awaitable[int]]


class ErasureServices(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def vault(self) -> Vault: ...

    @property
    def redis(self) -> aioredis.Redis: ...

    @property
    def gate(self) -> Gate: ...

    @property
    def health_store(self) -> HealthStore: ...

    @property
    def signer(self) -> Signer: ...


async def request_erasure(
    session: AsyncSession,
    services: ErasureServices,
    user: User,
    *,
    requested_by: uuid.UUID | None,
    request: RequestContext,
    now: bool = False,
    forget_jobs: ForgetJobs | None = None,
) -> GdprRequest:
    """Disable and forget the user at once, and schedule the hard deletion (`now`: do
    it in this transaction too). Idempotent while one is scheduled."""
    existing = await repository.scheduled_erasure(session, user.id)
    if existing is not None and not now:
        return existing
    moment = utcnow()
    grace = timedelta(days=services.settings.gdpr.erasure_grace_days)
    erasure = existing or GdprRequest(
        user_id=user.id,
        kind=GdprKind.erasure,
        status=GdprStatus.scheduled,
        requested_by=requested_by,
        requested_at=moment,
        due_at=moment + grace,
        details={},
    )
    if existing is None:
        session.add(erasure)
    user.disabled_at = user.disabled_at or moment
    user.deleted_at = moment
    user.session_epoch = (user.session_epoch or 0) + 1
    await refresh.revoke_all(session, user.id, reason="account_erased")
    await repository.delete_one_time_tokens(session, user.id)
    # never stored: the ledger cannot lead back to the user
    ledger = await repository.repoint_ledger(session, user.id, uuid.uuid4())
    await health.delete_series(session, services.health_store, services.redis, user.id)
    await _delete_uploads(session, services.settings, user.id)
    forgotten = await forget_in_redis(services, user.id)
    jobs = await forget_jobs(user.id) if forget_jobs is not None else 0
    erasure.details = {
        **(erasure.details or {}),
        "requested": {
            "by": "user" if requested_by == user.id else "administrator",
            "ledger_rows_pseudonymized": ledger,
            "redis_keys_deleted": forgotten,
            "queued_jobs_removed": jobs,
        },
    }
    await session.flush()
    await record(
        session,
        "gdpr.erasure_requested",
        context=request,
        user_id=user.id,
        actor_id=requested_by,
        resource_type="gdpr_request",
        resource_id=erasure.id,
        details={"due_at": erasure.due_at.isoformat() if erasure.due_at else None, "now": now},
    )
    if now:
        await hard_delete(session, services.vault, erasure, request=request)
    elif existing is None:
        await _email_cancel_link(session, services, user, erasure)
    return erasure


async def _delete_uploads(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> None:
    """Apple exports waiting for a worker are health data too."""
    for import_id in await repository.health_import_ids(session, user_id):
        upload_path(settings.health_upload_path, import_id).unlink(missing_ok=True)


async def forget_in_redis(services: ErasureServices, user_id: uuid.UUID) -> int:
    """Every Redis key of the user: rate-limit counters, cached health summaries, used
    one-time codes, and any other key that names them. A Redis that does not answer is
    logged; the hard deletion tries again."""
    deleted = 0
    try:
        deleted += await services.gate.forget_identifier(str(user_id))
        async for key in services.redis.scan_iter(match=f"*{user_id}*", count=1000):
            deleted += int(await services.redis.delete(key))
    except (redis_errors.RedisError, OSError):
        log.warning("gdpr.redis_unavailable", user_id=str(user_id))
    return deleted


async def _email_cancel_link(
    session: AsyncSession, services: ErasureServices, user: User, erasure: GdprRequest
) -> None:
    token = await one_time.create(session, services.signer, user.id, one_time.CANCEL_ERASURE)
    await queue_email(
        session,
        to=user.email,
        template="erasure_scheduled",
        user_id=user.id,
        language=(user.preferences or {}).get("language", "en"),
        name=user.name or "",
        token=token,
        link=one_time.link(services.settings.api, "/v1/account/erasure/cancel", token),
        date=f"{erasure.due_at:%Y-%m-%d %H:%M} UTC" if erasure.due_at else "",
    )


async def cancel_erasure(
    session: AsyncSession,
    user: User,
    *,
    actor_id: uuid.UUID | None,
    request: RequestContext,
) -> GdprRequest:
    """Keep the account: it is enabled again (its sessions stay ended; health series and
    the ledger link are gone for good)."""
    erasure = await repository.scheduled_erasure(session, user.id)
    if erasure is None:
        raise NotFound("No deletion of this account is scheduled.")
    erasure.status = GdprStatus.cancelled
    erasure.completed_at = utcnow()
    user.disabled_at = None
    user.deleted_at = None
    await one_time.invalidate_all(session, user.id, one_time.CANCEL_ERASURE)
    await record(
        session,
        "gdpr.erasure_cancelled",
        context=request,
        user_id=user.id,
        actor_id=actor_id,
        resource_type="gdpr_request",
        resource_id=erasure.id,
    )
    return erasure


async def cancel_for(
    session: AsyncSession, ref: str, *, actor_id: uuid.UUID | None, request: RequestContext
) -> GdprRequest:
    """An administrator keeps an account by email or id (closed accounts included)."""
    user = await repository.user_by_ref(session, ref)
    if user is None:
        raise NotFound(f"No user matches {ref!r}.")
    return await cancel_erasure(session, user, actor_id=actor_id, request=request)


async def cancel_with_token(
    session: AsyncSession, signer: Signer, token: str, request: RequestContext
) -> GdprRequest:
    user_id = await one_time.consume(session, signer, token, one_time.CANCEL_ERASURE)
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No deletion of this account is scheduled.")
    return await cancel_erasure(session, user, actor_id=user.id, request=request)


async def hard_delete(
    session: AsyncSession,
    vault: Vault,
    erasure: GdprRequest,
    *,
    request: RequestContext,
) -> dict[str, Any]:
    """Destroy the data key, delete every row of the user, pseudonymize what remains,
    and keep the certificate."""
    user_id = erasure.user_id
    user = await session.get(User, user_id, with_for_update=True)
    moment = utcnow()
    counts: dict[str, int] = {}
    if user is not None:
        counts = await repository.owned_rows(session, user_id)
        shredded = await vault.destroy_user_key(session, user_id)
        vault.forget(user_id)
        # mail to the address without an account link (a reset asked while signed out)
        counts["email_outbox"] += await repository.delete_mail_to(session, user.email)
        await session.delete(user)
        await session.flush()
    else:
        shredded = False
    pseudonym = uuid.uuid4()
    counts["audit_entries_pseudonymized"] = await repository.pseudonymize(
        session, user_id, pseudonym
    )
    certificate = {
        "user_id": str(user_id),
        "requested_at": erasure.requested_at.isoformat(),
        "completed_at": moment.isoformat(),
        "data_key_destroyed": shredded,
        "deleted": counts,
        "chat_kept_for_training": False,
        **(erasure.details or {}),
    }
    erasure.status = GdprStatus.completed
    erasure.completed_at = moment
    erasure.details = {**(erasure.details or {}), "certificate": certificate}
    await record(
        session,
        "gdpr.erasure_completed",
        context=request,
        user_id=user_id,
        resource_type="gdpr_request",
        resource_id=erasure.id,
        details=certificate,
    )
    return certificate


async def due_erasures(session: AsyncSession, now: datetime | None = None) -> list[uuid.UUID]:
    return await repository.due_erasures(session, now or utcnow())


async def erase_due(
    session: AsyncSession, vault: Vault, request_id: uuid.UUID, request: RequestContext
) -> dict[str, Any] | None:
    """One due erasure, locked (two workers never erase twice); None if it is not due."""
    erasure = await session.get(GdprRequest, request_id, with_for_update=True)
    if erasure is None or erasure.status != GdprStatus.scheduled:
        return None
    if erasure.due_at is not None and erasure.due_at > utcnow():
        return None
    return await hard_delete(session, vault, erasure, request=request)
