"""Apple Health exports in bulk: from the CLI (a path) or uploaded to the API and read by
a worker, in constant memory, committed batch by batch with the import's progress.

An upload is health data at rest, so it is sealed with the user's key as it arrives, in
1 MiB chunks of a fixed sealed size. The worker reads it back through a seekable
decrypting file (a zip needs to seek): no plaintext copy ever touches the disk. The
sealed file is deleted when the import ends, either way; a failed import keeps its
counts and error code, and may be uploaded again (resent samples are not duplicated).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import redis.asyncio as aioredis
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext, record
from wellcoach.audit.service import SYSTEM
from wellcoach.crypto import Vault
from wellcoach.crypto.envelope import KeyringError
from wellcoach.crypto.files import CHUNK, HEADER, SealedReader, private
from wellcoach.db.base import utcnow
from wellcoach.errors import NotFound, WellcoachError
from wellcoach.health import cache, repository
from wellcoach.health.apple_export import AppleRecord, ExportStats, InvalidExport, iter_export
from wellcoach.health.catalog import InvalidSample, Reading, metric_of, normalize
from wellcoach.health.samples import Sample
from wellcoach.health.service import require_consent, store_samples
from wellcoach.health.store import HealthStore
from wellcoach.models import HealthImport, User
from wellcoach.models.enums import HealthImportStatus, HealthMetricType, HealthSource

BATCH = 5_000
XML_NAME = "export.xml"

log = structlog.get_logger(__name__)
Units = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class UploadTooLarge(WellcoachError):
    """The upload is larger than the limit."""

    code = "payload_too_large"
    kind = "too_large"


class UnsupportedExportType(WellcoachError):
    """Send Apple Health's export.zip (application/zip) or export.xml (application/xml)."""

    code = "unsupported_media_type"
    kind = "unsupported_media_type"


def _purpose(import_id: uuid.UUID, index: int) -> str:
    return f"health_upload:{import_id}:{index}"


def upload_path(directory: Path, import_id: uuid.UUID) -> Path:
    return directory / f"{import_id}.sealed"


async def receive_upload(
    session: AsyncSession,
    vault: Vault,
    directory: Path,
    user: User,
    body: AsyncIterable[bytes],
    *,
    max_bytes: int,
    request: RequestContext,
) -> HealthImport:
    """Seal the upload to disk as it streams in, and record the pending import. The
    caller commits, then queues the worker."""
    await require_consent(session, user)
    job = await repository.new_import(session, user.id, 0)
    path = upload_path(directory, job.id)
    size = 0
    index = 0
    pending = bytearray()
    try:
        with open(path, "wb", opener=private) as out:
            out.write(HEADER.pack(0))
            async for piece in body:
                size += len(piece)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"An upload may be at most {max_bytes // (1 << 20)} MiB.",
                        details={"max_bytes": max_bytes},
                    )
                pending += piece
                while len(pending) >= CHUNK:
                    out.write(await _seal(session, vault, user.id, job.id, index, pending[:CHUNK]))
                    del pending[:CHUNK]
                    index += 1
            if pending:
                out.write(await _seal(session, vault, user.id, job.id, index, bytes(pending)))
            out.seek(0)
            out.write(HEADER.pack(size))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise InvalidExport("The upload is empty.", details={"reason": "empty"})
    job.size_bytes = size
    await record(
        session,
        "health.import_uploaded",
        context=request,
        user_id=user.id,
        resource_type="health_import",
        resource_id=job.id,
        details={"bytes": size},
    )
    return job


async def _seal(
    session: AsyncSession,
    vault: Vault,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    index: int,
    data: bytes | bytearray,
) -> bytes:
    return await vault.seal(session, user_id, bytes(data), purpose=_purpose(import_id, index))


@contextmanager
def export_stream(fileobj: BinaryIO) -> Iterator[tuple[BinaryIO, int]]:
    """The export.xml inside an export.zip (Apple's `apple_health_export/export.xml`),
    or the file itself when it is the XML; and its size, for progress."""
    if zipfile.is_zipfile(fileobj):
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            members = [i for i in archive.infolist() if i.filename.rsplit("/", 1)[-1] == XML_NAME]
            if not members:
                raise InvalidExport(
                    "The zip holds no export.xml: is it Apple Health's export.zip?",
                    details={"reason": "no_export_xml"},
                )
            with archive.open(members[0]) as member:
                yield member, members[0].file_size  # type: ignore[misc]
        return
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    yield fileobj, size


@dataclass
class Counts:
    records_seen: int = 0
    samples_stored: int = 0
    duplicates: int = 0
    skipped: int = 0  # records of types the coach does not use
    rejected: int = 0
    # what was not imported, by type; also ActivitySummary elements (not records)
    skipped_types: dict[str, int] = field(default_factory=dict)


def reading_of(record: AppleRecord) -> Reading:
    metric, _ = metric_of(record.type)
    value: float | None = None
    stage: str | None = None
    if metric == HealthMetricType.sleep:
        stage = record.value
    elif metric != HealthMetricType.mindfulness and record.value is not None:
        value = float(record.value)
    return Reading(
        type=record.type,
        start=record.start,
        end=record.end,
        value=value,
        unit=record.unit,
        source=HealthSource.apple_health,
        device=record.device or record.source_name,
        stage=stage,
        activity=record.activity,
        energy_kcal=record.energy_kcal,
        distance_m=record.distance_m,
    )


def samples_of(
    records: Iterator[AppleRecord], counts: Counts, now: datetime
) -> Iterator[list[Sample]]:
    """Batches of samples from the export's records; types the coach does not use are
    skipped, impossible readings rejected (both counted)."""
    batch: list[Sample] = []
    for item in records:
        counts.records_seen += 1
        try:
            batch.append(normalize(reading_of(item), now))
        except InvalidSample as exc:
            if exc.code == "unknown_metric_type":
                counts.skipped += 1
                counts.skipped_types[item.type] = counts.skipped_types.get(item.type, 0) + 1
            else:
                counts.rejected += 1
            continue
        except ValueError:  # a value that is not a number
            counts.rejected += 1
            continue
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


Progress = Callable[[int, Counts], None]


async def import_export(
    units: Units,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis,
    user_id: uuid.UUID,
    stream: BinaryIO,
    *,
    on_batch: Callable[[AsyncSession, int, Counts], Awaitable[None]] | None = None,
) -> Counts:
    """Read an export.xml stream and store its samples, one transaction per batch (a
    crash loses at most the batch in flight; importing again skips what is stored)."""
    counts = Counts()
    stats = ExportStats()
    batches = samples_of(iter_export(stream, stats), counts, datetime.now(UTC))
    for batch in batches:
        async with units() as session:
            stored = await store_samples(session, vault, store, user_id, batch)
            counts.samples_stored += len(batch) if stored is None else stored
            counts.duplicates += 0 if stored is None else len(batch) - stored
            if on_batch is not None:
                await on_batch(session, stats.bytes_read, counts)
    if stats.activity_summaries:  # the daily rings: the records they sum are imported
        counts.skipped_types["ActivitySummary"] = stats.activity_summaries
    if on_batch is not None:
        async with units() as session:
            await on_batch(session, stats.bytes_read, counts)
    await cache.invalidate(redis, user_id)
    return counts


async def import_path(
    units: Units,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis,
    user: User,
    path: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    request: RequestContext = SYSTEM,
) -> Counts:
    """The CLI's import: an export.zip or export.xml on disk. `progress(done, total)`
    is called in bytes of the XML."""
    async with units() as session:
        await require_consent(session, user)
    if not path.is_file():
        raise NotFound(f"No file at {path}.", details={"path": str(path)})
    with open(path, "rb") as raw, export_stream(raw) as (stream, total):

        async def on_batch(_session: AsyncSession, done: int, _counts: Counts) -> None:
            if progress is not None:
                progress(done, total)

        counts = await import_export(units, vault, store, redis, user.id, stream, on_batch=on_batch)
    async with units() as session:
        await _audit_import(session, user.id, None, counts, request)
    return counts


async def run_upload(
    units: Units,
    vault: Vault,
    store: HealthStore,
    redis: aioredis.Redis,
    directory: Path,
    import_id: uuid.UUID,
) -> HealthImport:
    """The worker's import of an uploaded export: idempotent (a finished import is left
    as it is), progress in the import's row after every batch."""
    async with units() as session:
        job = await repository.get_import(session, import_id, lock=True)
        if job is None:
            raise NotFound("No such health import.", details={"import_id": str(import_id)})
        if not _may_run(job, utcnow()):
            return job
        user_id = job.user_id
        job.status = HealthImportStatus.running
        job.started_at = job.started_at or utcnow()
        job.attempts += 1
        open_chunk = await _chunk_opener(session, vault, user_id, import_id)
    path = upload_path(directory, import_id)

    async def on_batch(session: AsyncSession, done: int, counts: Counts) -> None:
        row = await repository.get_import(session, import_id, lock=True)
        assert row is not None
        row.bytes_read = done
        row.records_seen = counts.records_seen
        row.samples_stored = counts.samples_stored
        row.duplicates = counts.duplicates
        row.skipped = counts.skipped
        row.rejected = counts.rejected

    try:
        if not path.exists():
            raise InvalidExport("The upload is gone.", details={"reason": "upload_missing"})
        with open(path, "rb") as raw:
            reader = io.BufferedReader(SealedReader(raw, open_chunk), buffer_size=CHUNK)
            with export_stream(reader) as (stream, _total):
                counts = await import_export(
                    units, vault, store, redis, user_id, stream, on_batch=on_batch
                )
    except (InvalidExport, KeyringError) as exc:
        code = exc.code if isinstance(exc, InvalidExport) else "invalid_upload"
        async with units() as session:
            row = await repository.get_import(session, import_id, lock=True)
            assert row is not None
            row.status = HealthImportStatus.failed
            row.error_code = code
            row.finished_at = utcnow()
            await record(
                session,
                "health.import_failed",
                user_id=user_id,
                resource_type="health_import",
                resource_id=import_id,
                details={"error_code": code},
            )
        path.unlink(missing_ok=True)
        log.warning("health.import_failed", import_id=str(import_id), error_code=code)
        return row
    async with units() as session:
        row = await repository.get_import(session, import_id, lock=True)
        assert row is not None
        row.status = HealthImportStatus.completed
        row.finished_at = utcnow()
        await _audit_import(session, user_id, import_id, counts, SYSTEM)
    path.unlink(missing_ok=True)
    return row


async def _chunk_opener(
    session: AsyncSession, vault: Vault, user_id: uuid.UUID, import_id: uuid.UUID
) -> Callable[[int, bytes], bytes]:
    """Sync, for the reader (a zip seeks from inside sync code); the key is read now, so
    a shredded key fails the import before it starts."""
    open_any = await vault.opener_any(session, user_id)
    return lambda index, blob: open_any(blob, _purpose(import_id, index))


async def _audit_import(
    session: AsyncSession,
    user_id: uuid.UUID,
    import_id: uuid.UUID | None,
    counts: Counts,
    request: RequestContext,
) -> None:
    await record(
        session,
        "health.imported",
        context=request,
        user_id=user_id,
        resource_type="health_import",
        resource_id=import_id,
        details={
            "records": counts.records_seen,
            "stored": counts.samples_stored,
            "duplicates": counts.duplicates,
            "skipped": counts.skipped,
            "rejected": counts.rejected,
        },
    )


STALE_PENDING = timedelta(minutes=5)
STALE_RUNNING = timedelta(hours=2)
MAX_ATTEMPTS = 5


def _may_run(job: HealthImport, now: datetime) -> bool:
    """Pending, or running so long that its worker must be gone (not two at once)."""
    if job.status == HealthImportStatus.pending:
        return True
    return (
        job.status == HealthImportStatus.running
        and job.started_at is not None
        and now - job.started_at > STALE_RUNNING
    )


async def stale_imports(session: AsyncSession) -> list[tuple[uuid.UUID, int]]:
    """Imports whose job seems lost, with their attempts so far; after MAX_ATTEMPTS an
    import is failed rather than tried forever."""
    now = utcnow()
    found = []
    for job in await repository.unfinished_imports(session, now - STALE_PENDING):
        if not _may_run(job, now) and job.status != HealthImportStatus.pending:
            continue
        if job.attempts >= MAX_ATTEMPTS:
            job.status = HealthImportStatus.failed
            job.error_code = "too_many_attempts"
            job.finished_at = now
            continue
        found.append((job.id, job.attempts))
    return found


ORPHAN_AGE = timedelta(days=1)


async def sweep_uploads(session: AsyncSession, directory: Path) -> int:
    """Delete sealed uploads no import will read: of finished imports (one given up by
    `stale_imports`), of none, and any left a day after their import ended. Returns how
    many were deleted."""
    deleted = 0
    now = utcnow()
    for path in directory.glob("*.sealed"):
        try:
            import_id = uuid.UUID(path.stem)
        except ValueError:
            continue
        job = await repository.get_import(session, import_id)
        finished = job is None or job.status in (
            HealthImportStatus.completed,
            HealthImportStatus.failed,
        )
        age = now - datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if finished and (job is not None or age > ORPHAN_AGE):
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def progress_of(job: HealthImport) -> float:
    if job.status == HealthImportStatus.completed:
        return 1.0
    return round(min(1.0, job.bytes_read / job.size_bytes), 3) if job.size_bytes else 0.0


async def import_of(session: AsyncSession, user: User, import_id: uuid.UUID) -> HealthImport:
    job = await repository.get_import(session, import_id)
    if job is None or job.user_id != user.id:
        raise NotFound("No such health import.", details={"import_id": str(import_id)})
    return job


def check_size(declared: int | None, max_bytes: int) -> None:
    if declared is not None and declared > max_bytes:
        raise UploadTooLarge(
            f"An upload may be at most {max_bytes // (1 << 20)} MiB.",
            details={"max_bytes": max_bytes},
        )
    if declared == 0:
        raise InvalidExport("The upload is empty.", details={"reason": "empty"})
