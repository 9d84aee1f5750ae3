"""Knowledge-base use cases shared by the CLI, `wellcoach up` and the chat pipeline.

Queries are in `wellcoach.rag.repository`, except retrieval's, in `retrieval.py`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.config import Settings
from wellcoach.costs import repository as ledger
from wellcoach.costs.ledger import LedgerRow
from wellcoach.costs.pricing import load_price_table
from wellcoach.errors import NotFound
from wellcoach.rag import repository
from wellcoach.rag.embedders import Embedder
from wellcoach.rag.ingest import IngestReport, default_kb_path, ingest, needs_ingest
from wellcoach.rag.retrieval import Passage, SearchFilters, SearchResult, search


@dataclass(frozen=True)
class DocumentSummary:
    id: str
    title: str
    category: str
    topic: str
    sport: str
    language: str
    chunks: int


async def sync_shipped(
    session: AsyncSession, settings: Settings, embedder: Embedder
) -> IngestReport | None:
    """Ingest the shipped knowledge base when its files (or the embedder) changed since the
    last run; None when nothing changed or there is no corpus. Run before the API serves,
    so it never answers from an empty or stale knowledge base."""
    root = default_kb_path(settings)
    if not root.is_dir() or not await needs_ingest(session, settings, root, embedder.id):
        return None
    return await ingest(session, settings, embedder, root)


async def search_kb(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    query: str,
    filters: SearchFilters,
    top_k: int | None = None,
    *,
    user_id: Any = None,
    tier: str | None = None,
    team: str | None = None,
) -> SearchResult:
    """Search, and record the query embedding in the cost ledger."""
    result = await search(session, embedder, query, filters, settings.rag, top_k)
    prices = load_price_table(settings.costs.prices_file)
    row = LedgerRow.of(result.usage, prices, user_id=user_id, tier=tier, team=team)
    await ledger.add(session, row)
    return result


async def document_passages(
    session: AsyncSession, ranked: list[Passage]
) -> dict[str, list[Passage]]:
    """Every passage of the given documents, in reading order (for the offline composer),
    carrying the metadata of the document's ranked passage."""
    by_id = {passage.document_id: passage for passage in ranked}
    result: dict[str, list[Passage]] = {}
    for chunk in await repository.passages_of(session, list(by_id)):
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
    rows = await repository.documents_with_counts(
        session, language=language, category=category, sport=sport
    )
    return [
        DocumentSummary(doc.id, doc.title, doc.category, doc.topic, doc.sport, doc.language, chunks)
        for doc, chunks in rows
    ]


async def get_document(session: AsyncSession, document_id: str) -> dict[str, Any]:
    document = await repository.get_document(session, document_id)
    if document is None:
        raise NotFound(f"No knowledge-base document {document_id!r}.")
    units = await repository.chunks_of(session, document_id)
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
    state = await repository.current_state(session) or {}
    rows = await repository.documents_by_category_language(session)
    units = await repository.units_by_kind(session)
    return {
        "kb_version": state.get("kb_version"),
        "embedder_id": state.get("embedder_id"),
        "ingested_at": state.get("ingested_at"),
        "documents": sum(row.documents for row in rows),
        "by_category_language": [
            {"category": row.category, "language": row.language, "documents": row.documents}
            for row in rows
        ],
        "units": units,
    }
