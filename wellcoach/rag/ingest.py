"""Incremental ingestion of the knowledge base.

Only documents whose content (or embedder) changed are re-chunked and re-embedded;
documents whose file is gone are deleted. A KB version digest, part of every
response-cache key, is recorded after each run. The statements are in
`wellcoach.rag.repository`; `STATE_KEY`, `TS_CONFIG` and `current_state` are
re-exported from there for the modules that import them from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.config import Settings
from wellcoach.costs import repository as ledger
from wellcoach.costs.ledger import LedgerRow
from wellcoach.costs.pricing import load_price_table
from wellcoach.db.base import utcnow
from wellcoach.errors import InvalidInput
from wellcoach.models import KbIngestRun
from wellcoach.rag import repository
from wellcoach.rag.documents import (
    Chunk,
    Document,
    DocumentError,
    chunk_document,
    kb_version,
    load_corpus,
)
from wellcoach.rag.embedders import Embedder
from wellcoach.rag.repository import STATE_KEY, TS_CONFIG, StoredDocument, current_state

Progress = Callable[[int, int], None]


def default_kb_path(settings: Settings) -> Path:
    if settings.rag.kb_path is not None:
        return settings.rag.kb_path.expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "kb"


class CorpusInvalid(InvalidInput):
    """Some knowledge-base files are invalid; nothing was changed."""

    code = "invalid_kb"


@dataclass
class IngestReport:
    kb_version: str
    embedder_id: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks_embedded: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kb_version": self.kb_version,
            "embedder_id": self.embedder_id,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "chunks_embedded": self.chunks_embedded,
        }


def stored_hash(document: Document, settings: Settings) -> str:
    """The document's content hash, salted with the chunking parameters that shape it."""
    rag = settings.rag
    salt = f"{rag.chunk_max_chars}:{rag.chunk_overlap_chars}"
    return hashlib.sha256(f"{document.content_hash}:{salt}".encode()).hexdigest()


async def plan(
    session: AsyncSession,
    documents: list[Document],
    embedder_id: str,
    full: bool,
    settings: Settings,
) -> tuple[list[Document], list[str], dict[str, StoredDocument]]:
    """The documents to embed, the ids to remove, and what was stored before."""
    stored = await repository.stored_documents(session)
    wanted = {document.id for document in documents}
    to_embed = [
        document
        for document in documents
        if full or stored.get(document.id) != (stored_hash(document, settings), embedder_id)
    ]
    removed = sorted(set(stored) - wanted)
    return to_embed, removed, stored


async def needs_ingest(
    session: AsyncSession, settings: Settings, root: Path, embedder_id: str
) -> bool:
    documents, errors = load_corpus(root)
    if errors:
        return False  # `kb ingest` reports them; start-up does not fail on them
    to_embed, removed, _ = await plan(session, documents, embedder_id, False, settings)
    return bool(to_embed or removed)


async def ingest(
    session: AsyncSession,
    settings: Settings,
    embedder: Embedder,
    root: Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the stored knowledge base in line with the files under `root`.

    Raises:
        CorpusInvalid: any file is invalid (each error names the file and the field).
    """
    documents, errors = load_corpus(root)
    if errors:
        raise CorpusInvalid(
            f"{len(errors)} invalid file(s); nothing was changed",
            details=[error.message for error in errors],
        )
    to_embed, removed, stored = await plan(session, documents, embedder.id, full, settings)
    report = IngestReport(kb_version="", embedder_id=embedder.id)
    report.unchanged = len(documents) - len(to_embed)
    run = KbIngestRun(embedder_id=embedder.id)
    session.add(run)

    if removed:
        await repository.delete_documents(session, removed)
        report.removed = removed

    pending = [(document, document_units(document, settings)) for document in to_embed]
    total = sum(len(chunks) for _, chunks in pending)
    done = 0
    if progress:
        progress(0, total)
    # full batches across documents: a provider call (and a ledger row) per batch, not
    # per document, and the offline model encodes more texts per call
    batch = settings.rag.embed_batch
    prices = load_price_table(settings.costs.prices_file)
    texts = [unit.embed_text for _, chunks in pending for unit in chunks]
    vectors: list[np.ndarray] = []
    for start in range(0, len(texts), batch):
        embedded, usage = await embedder.embed(texts[start : start + batch], purpose="kb_ingest")
        await ledger.add(session, LedgerRow.of(usage, prices))
        vectors.append(embedded)
        done += len(embedded)
        if progress:
            progress(done, total)
    matrix = np.vstack(vectors) if vectors else np.zeros((0, embedder.dimension))
    offset = 0
    for document, chunks in pending:
        await repository.delete_chunks(session, document.id)
        await repository.upsert_document(
            session, document, embedder.id, stored_hash(document, settings)
        )
        own = matrix[offset : offset + len(chunks)]
        offset += len(chunks)
        await repository.insert_chunks(session, document, chunks, own, embedder.id)
        (report.updated if document.id in stored else report.added).append(document.id)
        report.chunks_embedded += len(chunks)

    await session.flush()
    report.kb_version = kb_version(await repository.document_hashes(session))
    chunk_count = await repository.count_chunks(session)
    await _save_state(session, report, len(documents), chunk_count)
    run.finished_at = utcnow()
    run.kb_version = report.kb_version
    run.added, run.updated = len(report.added), len(report.updated)
    run.removed, run.unchanged = len(report.removed), report.unchanged
    run.chunks_embedded = report.chunks_embedded
    await session.flush()
    if report.added or report.updated or report.removed:
        await repository.analyze(session)
    return report


def document_units(document: Document, settings: Settings) -> list[Chunk]:
    """The passages of a document, then its probes: its questions and its title with
    tags. Probes are embedded only to find the document; they are never shown."""
    passages = chunk_document(
        document, settings.rag.chunk_max_chars, settings.rag.chunk_overlap_chars
    )
    meta = document.meta
    probes = [*meta.questions, f"{meta.title}. {', '.join(meta.tags)}"]
    return passages + [
        Chunk(len(passages) + index, None, probe, probe, kind="question")
        for index, probe in enumerate(probes)
    ]


async def _save_state(
    session: AsyncSession, report: IngestReport, documents: int, chunks: int
) -> None:
    value = {
        "kb_version": report.kb_version,
        "embedder_id": report.embedder_id,
        "documents": documents,
        "chunks": chunks,
        "ingested_at": utcnow().isoformat(),
    }
    await repository.save_state(session, value)


__all__ = [
    "STATE_KEY",
    "TS_CONFIG",
    "CorpusInvalid",
    "DocumentError",
    "IngestReport",
    "current_state",
    "ingest",
    "needs_ingest",
]
