"""Knowledge-base queries and writes, for ingestion and for the `kb` commands.

The knowledge base holds no user data, so it has no `readable_by`: every reader sees
it all. Retrieval's hot-path statements stay in `retrieval.py`, tuned with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.db.base import utcnow
from wellcoach.models import KbChunk, KbDocument, SystemState
from wellcoach.rag.documents import Chunk, Document

STATE_KEY = "kb"
TS_CONFIG = {"en": "english", "it": "italian"}


class StoredDocument(NamedTuple):
    """What decides whether a document must be embedded again."""

    content_hash: str
    embedder_id: str


@dataclass(frozen=True)
class PassageText:
    """A passage without its vector: decoding vectors nobody reads is the slow part."""

    id: uuid.UUID
    document_id: str
    heading: str | None
    content: str


@dataclass(frozen=True)
class CategoryCount:
    category: str
    language: str
    documents: int


# --- reads -----------------------------------------------------------------------


async def stored_documents(session: AsyncSession) -> dict[str, StoredDocument]:
    rows = await session.execute(
        select(KbDocument.id, KbDocument.content_hash, KbDocument.embedder_id)
    )
    return {row.id: StoredDocument(row.content_hash, row.embedder_id) for row in rows}


async def document_hashes(session: AsyncSession) -> list[tuple[str, str]]:
    """(id, content hash) of every stored document: what the KB version digests."""
    rows = await session.execute(select(KbDocument.id, KbDocument.content_hash))
    return [(row.id, row.content_hash) for row in rows]


async def count_chunks(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(KbChunk)) or 0)


async def passages_of(session: AsyncSession, document_ids: Sequence[str]) -> list[PassageText]:
    """The passages of the given documents, by document then in reading order."""
    rows = await session.execute(
        select(KbChunk.id, KbChunk.document_id, KbChunk.heading, KbChunk.content)
        .where(KbChunk.document_id.in_(document_ids), KbChunk.kind == "passage")
        .order_by(KbChunk.document_id, KbChunk.ordinal)
    )
    return [PassageText(row.id, row.document_id, row.heading, row.content) for row in rows]


async def documents_with_counts(
    session: AsyncSession,
    *,
    language: str | None = None,
    category: str | None = None,
    sport: str | None = None,
) -> list[tuple[KbDocument, int]]:
    """Documents with their number of passages (0 for a document that has none)."""
    counts = (
        select(KbChunk.document_id, func.count().label("chunks"))
        .where(KbChunk.kind == "passage")
        .group_by(KbChunk.document_id)
        .subquery()
    )
    query = (
        select(KbDocument, func.coalesce(counts.c.chunks, 0))
        .outerjoin(counts, counts.c.document_id == KbDocument.id)
        .order_by(KbDocument.category, KbDocument.topic, KbDocument.id)
    )
    if language:
        query = query.where(KbDocument.language == language)
    if category:
        query = query.where(KbDocument.category == category)
    if sport:
        query = query.where(KbDocument.sport == sport)
    rows = await session.execute(query)
    return [(document, int(chunks)) for document, chunks in rows]


async def get_document(session: AsyncSession, document_id: str) -> KbDocument | None:
    return await session.get(KbDocument, document_id)


async def chunks_of(session: AsyncSession, document_id: str) -> list[KbChunk]:
    """Every unit of a document, passages and probes, in ordinal order."""
    return list(
        await session.scalars(
            select(KbChunk).where(KbChunk.document_id == document_id).order_by(KbChunk.ordinal)
        )
    )


async def documents_by_category_language(session: AsyncSession) -> list[CategoryCount]:
    rows = await session.execute(
        select(KbDocument.category, KbDocument.language, func.count())
        .group_by(KbDocument.category, KbDocument.language)
        .order_by(KbDocument.category, KbDocument.language)
    )
    return [CategoryCount(category, language, count) for category, language, count in rows]


async def units_by_kind(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(KbChunk.kind, func.count()).group_by(KbChunk.kind))
    return {kind: count for kind, count in rows}


async def current_state(session: AsyncSession) -> dict[str, Any] | None:
    """What the last ingest recorded (version, embedder, counts); None before the first."""
    state = await session.get(SystemState, STATE_KEY)
    return dict(state.value) if state else None


# --- writes ----------------------------------------------------------------------


async def delete_documents(session: AsyncSession, document_ids: Sequence[str]) -> None:
    """Their chunks go too (ON DELETE CASCADE)."""
    await session.execute(delete(KbDocument).where(KbDocument.id.in_(document_ids)))


async def delete_chunks(session: AsyncSession, document_id: str) -> None:
    await session.execute(delete(KbChunk).where(KbChunk.document_id == document_id))


async def upsert_document(
    session: AsyncSession, document: Document, embedder_id: str, content_hash: str
) -> None:
    meta = document.meta
    values = dict(
        slug=meta.slug,
        title=meta.title,
        category=meta.category,
        topic=meta.topic,
        sport=meta.sport,
        language=meta.language,
        source=meta.source,
        confidence=meta.confidence,
        last_reviewed=meta.last_reviewed,
        tags=meta.tags,
        path=document.path,
        content_hash=content_hash,
        embedder_id=embedder_id,
    )
    existing = await session.get(KbDocument, meta.id)
    if existing is None:
        session.add(KbDocument(id=meta.id, **values))
    else:
        for key, value in values.items():
            setattr(existing, key, value)
        existing.updated_at = utcnow()
    await session.flush()


async def insert_chunks(
    session: AsyncSession,
    document: Document,
    chunks: Sequence[Chunk],
    matrix: np.ndarray,
    embedder_id: str,
) -> None:
    """One executemany for the document's chunks, `matrix` holding their vectors in order.

    Raw SQL because the tsvector is computed in the statement, with the text-search
    configuration of the document's language."""
    config = TS_CONFIG.get(document.meta.language, "simple")
    rows = [
        {
            "document_id": document.id,
            "ordinal": chunk.ordinal,
            "heading": chunk.heading,
            "kind": chunk.kind,
            "content": chunk.content,
            "content_hash": chunk.content_hash,
            "embedder_id": embedder_id,
            "embedding": matrix[index].tolist(),
            "language": document.meta.language,
            "sport": document.meta.sport,
            "category": document.meta.category,
            "lexical": f"{document.meta.title}\n{chunk.heading or ''}\n{chunk.content}",
        }
        for index, chunk in enumerate(chunks)
    ]
    if not rows:
        return
    await session.execute(
        text(
            "INSERT INTO kb_chunks (id, document_id, ordinal, kind, heading, content,"
            " content_hash, embedder_id, language, sport, category, embedding, tsv, created_at)"
            " VALUES (gen_random_uuid(), :document_id, :ordinal, :kind, :heading, :content,"
            " :content_hash, :embedder_id, :language, :sport, :category,"
            f" CAST(:embedding AS vector), to_tsvector('{config}', :lexical), now())"
        ).bindparams(),
        [{**row, "embedding": _vector_literal(row["embedding"])} for row in rows],
    )


async def save_state(session: AsyncSession, value: dict[str, Any]) -> None:
    state = await session.get(SystemState, STATE_KEY)
    if state is None:
        session.add(SystemState(key=STATE_KEY, value=value))
    else:
        state.value = value


async def analyze(session: AsyncSession) -> None:
    """Fresh statistics now, not at autovacuum's next pass: with none, the planner
    guesses one row per filter and picks its worst plans for the vector leg."""
    await session.execute(text("ANALYZE kb_chunks, kb_documents"))


def _vector_literal(values: list[float]) -> str:
    return "[" + ",".join(f"{value:.7g}" for value in values) + "]"
