"""Knowledge-base use cases shared by the CLI, jobs and (later) the chat pipeline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.costs.ledger import record_usage
from wellcoach.errors import NotFound
from wellcoach.models import KbChunk, KbDocument
from wellcoach.platform import Platform
from wellcoach.rag.embedders import Embedder, make_embedder
from wellcoach.rag.ingest import current_state
from wellcoach.rag.retrieval import Passage, SearchFilters, SearchResult, search

_embedders: dict[int, Embedder] = {}


def embedder_for(platform: Platform) -> Embedder:
    """One embedder per platform (the offline model loads once per process)."""
    key = id(platform)
    if key not in _embedders:
        _embedders[key] = make_embedder(platform.settings)
    return _embedders[key]


@dataclass(frozen=True)
class DocumentSummary:
    id: str
    title: str
    category: str
    topic: str
    sport: str
    language: str
    chunks: int


async def search_kb(
    session: AsyncSession,
    platform: Platform,
    query: str,
    filters: SearchFilters,
    top_k: int | None = None,
    *,
    user_id: Any = None,
    tier: str | None = None,
) -> SearchResult:
    """Search, and record the query embedding in the cost ledger."""
    result = await search(
        session, embedder_for(platform), query, filters, platform.settings.rag, top_k
    )
    await record_usage(
        session, result.usage, platform.settings.llm.prices, user_id=user_id, tier=tier
    )
    return result


async def document_passages(
    session: AsyncSession, ranked: list[Passage]
) -> dict[str, list[Passage]]:
    """Every passage of the given documents, in reading order (for the offline composer).
    Only the columns it needs: loading whole chunks would decode their vectors too."""
    by_id = {passage.document_id: passage for passage in ranked}
    rows = await session.execute(
        select(KbChunk.id, KbChunk.document_id, KbChunk.heading, KbChunk.content)
        .where(KbChunk.document_id.in_(list(by_id)), KbChunk.kind == "passage")
        .order_by(KbChunk.document_id, KbChunk.ordinal)
    )
    result: dict[str, list[Passage]] = {}
    for chunk in rows:
        top = by_id[chunk.document_id]
        result.setdefault(chunk.document_id, []).append(
            replace(
                top,
                chunk_id=str(chunk.id),
                heading=chunk.heading,
                content=chunk.content,
                embedding=None,
            )
        )
    return result


async def list_documents(
    session: AsyncSession,
    *,
    language: str | None = None,
    category: str | None = None,
    sport: str | None = None,
) -> list[DocumentSummary]:
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
    return [
        DocumentSummary(
            doc.id, doc.title, doc.category, doc.topic, doc.sport, doc.language, int(chunks)
        )
        for doc, chunks in rows
    ]


async def get_document(session: AsyncSession, document_id: str) -> dict[str, Any]:
    document = await session.get(KbDocument, document_id)
    if document is None:
        raise NotFound(f"No knowledge-base document {document_id!r}.")
    chunks = await session.scalars(
        select(KbChunk).where(KbChunk.document_id == document_id).order_by(KbChunk.ordinal)
    )
    units = list(chunks)
    return {
        "id": document.id,
        "title": document.title,
        "category": document.category,
        "topic": document.topic,
        "sport": document.sport,
        "language": document.language,
        "source": document.source,
        "confidence": document.confidence,
        "last_reviewed": document.last_reviewed.isoformat(),
        "tags": document.tags,
        "path": document.path,
        "embedder_id": document.embedder_id,
        "questions": [u.content for u in units if u.kind == "question"],
        "chunks": [
            {"ordinal": u.ordinal, "heading": u.heading, "content": u.content}
            for u in units
            if u.kind == "passage"
        ],
    }


async def stats(session: AsyncSession) -> dict[str, Any]:
    state = await current_state(session) or {}
    by = await session.execute(
        select(KbDocument.category, KbDocument.language, func.count())
        .group_by(KbDocument.category, KbDocument.language)
        .order_by(KbDocument.category, KbDocument.language)
    )
    rows = list(by)
    kinds = await session.execute(select(KbChunk.kind, func.count()).group_by(KbChunk.kind))
    return {
        "kb_version": state.get("kb_version"),
        "embedder_id": state.get("embedder_id"),
        "ingested_at": state.get("ingested_at"),
        "documents": sum(count for _, _, count in rows),
        "by_category_language": [
            {"category": c, "language": lang, "documents": n} for c, lang, n in rows
        ],
        "units": {kind: count for kind, count in kinds},
    }
