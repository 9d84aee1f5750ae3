"""GDPR exports (Art. 20) as a workflow: a user asks, a worker builds the ZIP, the user
downloads it through a signed link that expires, a sweep deletes it.

The ZIP holds the user's decrypted data, so on disk it is sealed with the user's key
(`wellcoach.crypto.files`, 1 MiB chunks) and opened chunk by chunk while it streams to
the user. The link's token is the credential of the download (an email client or a
browser follows it without the app's bearer token): HS256 over the request and user
ids and the expiry, under a key derived from the master key, so it dies with the
export, and with a master key rotated away. Requests, completions, failures and
downloads are audited with ids and counts only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import jwt
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext, record
from wellcoach.audit.service import SYSTEM
from wellcoach.crypto import Keyring, Vault
from wellcoach.crypto.files import HEADER, SealedWriter, private, sealed_chunks
from wellcoach.db.base import utcnow
from wellcoach.errors import NotFound, Retryable, WellcoachError
from wellcoach.gdpr import repository
from wellcoach.gdpr.export import write_export
from wellcoach.health.store import HealthStore
from wellcoach.models import GdprRequest, User
from wellcoach.models.enums import GdprKind, GdprStatus

log = structlog.get_logger(__name__)
Units = Callable[[], AbstractAsyncContextManager[AsyncSession]]

EXPORT_DIR = "gdpr_exports"
LINK_PURPOSE = "gdpr-export-link"
LINK_ALGORITHM = "HS256"
DEFAULT_LINK_HOURS = 48.0
STALE_PENDING = timedelta(minutes=5)
STALE_RUNNING = timedelta(hours=2)
MAX_ATTEMPTS = 3
ORPHAN_AGE = timedelta(days=1)
OPEN = (GdprStatus.pending, GdprStatus.running)


class ExportLinkInvalid(WellcoachError):
    """This download link is not valid."""

    code = "export_link_invalid"
    kind = "forbidden"


class ExportLinkExpired(WellcoachError):
    """This download link has expired; request a new export."""

    code = "export_link_expired"
    kind = "gone"


def export_directory(data_path: Path) -> Path:
    """Where sealed exports wait for their download (private to the service's user)."""
    path = data_path / EXPORT_DIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def artifact_path(directory: Path, request_id: uuid.UUID) -> Path:
    return directory / f"{request_id}.sealed"


def _purpose(request_id: uuid.UUID, index: int) -> str:
    return f"gdpr_export:{request_id}:{index}"


def _audit_details(row: GdprRequest, **more: Any) -> dict[str, Any]:
    return {"request_id": str(row.id), **more}


# -- asking


async def request_export(
    session: AsyncSession,
    user: User,
    *,
    requested_by: uuid.UUID | None,
    request: RequestContext,
) -> GdprRequest:
    """Record an export for the worker; an export still pending or running is returned
    instead of a second one. The caller commits, then queues `run_export`."""
    existing = await repository.open_export(session, user.id, OPEN)
    if existing is not None:
        return existing
    return await _new_export(
        session, user, GdprStatus.pending, requested_by=requested_by, details={}, request=request
    )


async def _new_export(
    session: AsyncSession,
    user: User,
    status: GdprStatus,
    *,
    requested_by: uuid.UUID | None,
    details: dict[str, Any],
    request: RequestContext,
) -> GdprRequest:
    """An export request, recorded and audited (`gdpr.export_requested`)."""
    row = GdprRequest(
        id=uuid.uuid4(),
        user_id=user.id,
        kind=GdprKind.export,
        status=status,
        requested_by=requested_by,
        requested_at=utcnow(),
        details=details,
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        "gdpr.export_requested",
        context=request,
        user_id=user.id,
        actor_id=requested_by,
        resource_type="gdpr_request",
        resource_id=row.id,
        details=_audit_details(row),
    )
    return row


async def export_status(session: AsyncSession, user: User, request_id: uuid.UUID) -> GdprRequest:
    """One of the user's exports, or NotFound (someone else's is not found either)."""
    row = await session.get(GdprRequest, request_id)
    if row is None or row.user_id != user.id or row.kind != GdprKind.export:
        raise NotFound("No such export.", details={"export_id": str(request_id)})
    return row


def downloadable(row: GdprRequest, now: datetime | None = None) -> bool:
    return (
        row.kind == GdprKind.export
        and row.status == GdprStatus.completed
        and row.artifact_path is not None
        and row.due_at is not None
        and row.due_at > (now or utcnow())
    )


# -- the worker


def _may_run(row: GdprRequest, now: datetime) -> bool:
    """Pending, or running so long that its worker must be gone (not two at once)."""
    if row.status == GdprStatus.pending:
        return True
    started = row.details.get("started_at")
    return (
        row.status == GdprStatus.running
        and started is not None
        and now - datetime.fromisoformat(started) > STALE_RUNNING
    )


async def run_export(
    units: Units,
    vault: Vault,
    store: HealthStore,
    directory: Path,
    request_id: uuid.UUID,
    *,
    link_hours: float = DEFAULT_LINK_HOURS,
) -> GdprRequest:
    """Build one export and store it sealed: idempotent (a finished or running export is
    left as it is). Completed, the link works `link_hours` from now (`due_at`). A domain
    failure (the user's key shredded, the user gone) fails the request with its code; a
    transient or unexpected one leaves it pending and is raised, so RQ retries it (and
    the sweep queues it again), at most MAX_ATTEMPTS times."""
    async with units() as session:
        row = await session.get(GdprRequest, request_id, with_for_update=True)
        if row is None or row.kind != GdprKind.export:
            raise NotFound("No such export.", details={"export_id": str(request_id)})
        if not _may_run(row, utcnow()):
            return row
        user_id = row.user_id
        attempts = int(row.details.get("attempts", 0)) + 1
        row.status = GdprStatus.running
        row.details = {**row.details, "attempts": attempts, "started_at": utcnow().isoformat()}
    path = artifact_path(directory, request_id)
    partial = path.with_suffix(".partial")
    try:
        async with units() as session:
            document, size = await _write_sealed(
                session, vault, store, user_id, request_id, partial
            )
        os.replace(partial, path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, WellcoachError) and not isinstance(exc, Retryable):
            return await _fail(units, request_id, exc.code)
        async with units() as session:
            row = await session.get(GdprRequest, request_id, with_for_update=True)
            if row is not None and row.status == GdprStatus.running:
                row.status = GdprStatus.pending if attempts < MAX_ATTEMPTS else GdprStatus.failed
                row.error = None if attempts < MAX_ATTEMPTS else "too_many_attempts"
        raise
    now = utcnow()
    async with units() as session:
        row = await session.get(GdprRequest, request_id, with_for_update=True)
        assert row is not None
        row.status = GdprStatus.completed
        row.completed_at = now
        row.due_at = now + timedelta(hours=link_hours)
        row.artifact_path = path.name
        row.error = None
        counts = _counts(document)
        row.details = {**row.details, "bytes": size, **counts}
        await record(
            session,
            "gdpr.export_completed",
            user_id=user_id,
            resource_type="gdpr_request",
            resource_id=row.id,
            details=_audit_details(row, bytes=size, **counts),
        )
    log.info("gdpr.export_completed", request_id=str(request_id), bytes=size)
    return row


def _counts(document: dict[str, Any]) -> dict[str, int]:
    usage = document["analytics"]["usage"]
    return {
        key: usage[key]
        for key in ("chat_sessions", "messages", "mood_entries", "health_samples", "escalations")
    }


async def _write_sealed(
    session: AsyncSession,
    vault: Vault,
    store: HealthStore,
    user_id: uuid.UUID,
    request_id: uuid.UUID,
    path: Path,
) -> tuple[dict[str, Any], int]:
    """The ZIP is written as a stream straight into a file sealed chunk by chunk: memory
    stays flat whatever the user's history, and no plaintext byte reaches the disk."""
    seal = await vault.sealer_any(session, user_id)
    with open(path, "wb", opener=private) as raw:
        writer = SealedWriter(raw, lambda index, data: seal(data, _purpose(request_id, index)))
        document = await write_export(
            session,
            vault,
            store,
            user_id,
            now=utcnow(),
            out=writer,  # type: ignore[arg-type]
        )
        return document, writer.finish()


async def _fail(units: Units, request_id: uuid.UUID, code: str) -> GdprRequest:
    async with units() as session:
        row = await session.get(GdprRequest, request_id, with_for_update=True)
        assert row is not None
        row.status = GdprStatus.failed
        row.error = code
        row.completed_at = utcnow()
        await record(
            session,
            "gdpr.export_failed",
            user_id=row.user_id,
            resource_type="gdpr_request",
            resource_id=row.id,
            details=_audit_details(row, error_code=code),
        )
    log.warning("gdpr.export_failed", request_id=str(request_id), error_code=code)
    return row


async def stale_exports(session: AsyncSession) -> list[tuple[uuid.UUID, int]]:
    """Exports whose job seems lost (Redis down when asked, a worker killed), with their
    attempts so far; after MAX_ATTEMPTS one is failed rather than tried forever."""
    now = utcnow()
    rows = await session.scalars(
        select(GdprRequest)
        .where(
            GdprRequest.kind == GdprKind.export,
            GdprRequest.status.in_(OPEN),
            GdprRequest.requested_at < now - STALE_PENDING,
        )
        .with_for_update(skip_locked=True)
    )
    found = []
    for row in rows:
        if row.status == GdprStatus.running and not _may_run(row, now):
            continue
        attempts = int(row.details.get("attempts", 0))
        if attempts >= MAX_ATTEMPTS:
            row.status = GdprStatus.failed
            row.error = "too_many_attempts"
            row.completed_at = now
            continue
        found.append((row.id, attempts))
    return found


# -- the link and the download


def _link_key(master: bytes) -> bytes:
    return hmac.new(master, LINK_PURPOSE.encode(), hashlib.sha256).digest()


def sign_link(keyring: Keyring, row: GdprRequest) -> str:
    """The download token of a completed export: valid until its `due_at`."""
    assert row.due_at is not None
    claims = {
        "rid": str(row.id),
        "sub": str(row.user_id),
        "exp": int(row.due_at.timestamp()),
        "purpose": LINK_PURPOSE,
    }
    return jwt.encode(claims, _link_key(keyring.current), algorithm=LINK_ALGORITHM)


def verify_link(keyring: Keyring, token: str, request_id: uuid.UUID) -> uuid.UUID:
    """The user id the token was signed for, if it is this export's and unexpired.

    Raises:
        ExportLinkInvalid: not signed by us, or for another export.
        ExportLinkExpired: signed by us, for this export, but past its expiry.
    """
    for master in (keyring.current, *keyring.previous):
        try:
            claims = jwt.decode(
                token,
                _link_key(master),
                algorithms=[LINK_ALGORITHM],
                options={"require": ["exp", "rid", "sub", "purpose"]},
            )
        except jwt.ExpiredSignatureError:
            raise ExportLinkExpired() from None
        except jwt.InvalidTokenError:
            continue
        if claims["purpose"] != LINK_PURPOSE or claims["rid"] != str(request_id):
            break
        try:
            return uuid.UUID(claims["sub"])
        except (ValueError, TypeError):
            break
    raise ExportLinkInvalid()


@dataclass
class Download:
    filename: str
    size: int
    chunks: AsyncIterator[bytes]


async def open_download(
    session: AsyncSession,
    vault: Vault,
    directory: Path,
    request_id: uuid.UUID,
    token: str,
    *,
    request: RequestContext = SYSTEM,
) -> Download:
    """The export's ZIP, opened chunk by chunk as it is read; the download is audited.

    Raises:
        ExportLinkInvalid: the token is not this export's.
        ExportLinkExpired: the link expired, or the export's file is gone.
    """
    user_id = verify_link(vault.keyring, token, request_id)
    row = await session.get(GdprRequest, request_id)
    if row is None or row.user_id != user_id or row.kind != GdprKind.export:
        raise ExportLinkInvalid()
    if not downloadable(row) or row.artifact_path is None:
        raise ExportLinkExpired()
    path = directory / Path(row.artifact_path).name
    try:
        raw = open(path, "rb")  # closed by the stream, or below
    except FileNotFoundError:
        raise ExportLinkExpired() from None
    try:
        (size,) = HEADER.unpack(raw.read(HEADER.size))
        raw.seek(0)
        open_any = await vault.opener_any(session, user_id)
    except BaseException:
        raw.close()
        raise
    await record(
        session,
        "gdpr.export_downloaded",
        context=request,
        user_id=user_id,
        resource_type="gdpr_request",
        resource_id=row.id,
        details=_audit_details(row, bytes=size),
    )
    assert row.completed_at is not None
    name = f"wellcoach-export-{row.completed_at.astimezone(UTC):%Y%m%d}.zip"
    return Download(name, size, _stream(raw, lambda i, blob: open_any(blob, _purpose(row.id, i))))


async def _stream(raw: BinaryIO, open_chunk: Callable[[int, bytes], bytes]) -> AsyncIterator[bytes]:
    """Each chunk read and opened off the event loop."""
    chunks = sealed_chunks(raw, open_chunk)
    try:
        while True:
            data = await asyncio.to_thread(next, chunks, None)
            if data is None:
                return
            yield data
    finally:
        raw.close()


# -- the sweep


async def sweep_exports(session: AsyncSession, directory: Path) -> int:
    """Delete export files nobody may download any more: expired, of failed or unknown
    requests, and half-written ones left by a dead worker a day ago. Returns how many."""
    now = utcnow()
    deleted = 0
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".sealed", ".partial"):
            continue
        try:
            request_id = uuid.UUID(path.stem)
        except ValueError:
            continue
        age = now - datetime.fromtimestamp(path.stat().st_mtime, UTC)
        row = await session.get(GdprRequest, request_id, with_for_update=True)
        if path.suffix == ".partial":
            gone = age > ORPHAN_AGE
        elif row is None or row.kind != GdprKind.export:
            gone = True
        elif row.status in OPEN:
            gone = age > ORPHAN_AGE
        else:
            gone = not downloadable(row, now)
        if gone:
            path.unlink(missing_ok=True)
            deleted += 1
            if row is not None and row.kind == GdprKind.export and path.suffix == ".sealed":
                row.artifact_path = None
    return deleted


# -- the administrator's export (CLI)


async def export_to(
    units: Units,
    vault: Vault,
    store: HealthStore,
    user: User,
    out: BinaryIO,
    *,
    request: RequestContext,
) -> GdprRequest:
    """Write a user's export, unsealed, to `out` (a file the administrator chose);
    recorded as a completed export request, audited with the request's source."""
    async with units() as session:
        row = await _new_export(
            session,
            user,
            GdprStatus.running,
            requested_by=None,
            details={"delivered_to": request.source},
            request=request,
        )
        now = row.requested_at
        start = out.tell()
        document = await write_export(session, vault, store, user.id, now=now, out=out)
        size = out.tell() - start
        counts = _counts(document)
        row.status = GdprStatus.completed
        row.completed_at = utcnow()
        row.details = {**row.details, "bytes": size, **counts}
        await record(
            session,
            "gdpr.export_completed",
            context=request,
            user_id=user.id,
            resource_type="gdpr_request",
            resource_id=row.id,
            details=_audit_details(row, bytes=size, **counts),
        )
    return row
