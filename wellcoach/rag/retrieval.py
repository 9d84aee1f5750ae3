"""Hybrid retrieval: pgvector HNSW first, full text second, fused, then reranked.

1. Vector leg: cosine HNSW over the active embedder's passages and document
   questions, filtered by sport (the user's and `all`) and category, with
   `hnsw.iterative_scan` so filters do not starve the result. Every language is
   searched: the multilingual embedder makes an English passage a fair answer to
   an Italian question, and the user's language wins ties through a boost. When
   the sport filter leaves too few documents, a second query drops it.
2. Lexical signal: PostgreSQL full text (english/italian, OR semantics) ranks the
   vector candidates; paraphrased chat rarely matches words, so it only adds rank
   evidence through reciprocal rank fusion and never filters.
3. Reciprocal rank fusion, metadata boosts (the user's sport and language), one
   version per document family (an Italian and an English version of the same
   document are one result), then MMR for diversity.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.config import RagSettings
from wellcoach.costs.ledger import Usage
from wellcoach.errors import InvalidInput
from wellcoach.rag.embedders import Embedder
from wellcoach.rag.ingest import TS_CONFIG


@dataclass(frozen=True)
class SearchFilters:
    sport: str | None = None
    category: str | None = None
    language: str | None = None


@dataclass
class Passage:
    chunk_id: str
    document_id: str
    slug: str
    title: str
    heading: str | None
    topic: str
    category: str
    sport: str
    language: str
    source: str
    last_reviewed: date
    content: str
    score: float
    similarity: float
    citation: str
    embedding: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("embedding")
        data["last_reviewed"] = self.last_reviewed.isoformat()
        data["score"] = round(self.score, 4)
        data["similarity"] = round(self.similarity, 4)
        return data


@dataclass
class SearchResult:
    passages: list[Passage]
    usage: Usage
    timings_ms: dict[str, float]
    widened: bool  # the sport filter left too little and was dropped


COLUMNS = (
    "c.id::text AS chunk_id, c.document_id, c.kind, d.slug, d.title, c.heading, d.topic,"
    " c.category, c.sport, c.language, d.source, d.last_reviewed, c.content"
)


def _where(filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """Sport and category filter; language is a preference (a boost), not a filter."""
    clauses = ["c.embedder_id = :embedder"]
    params: dict[str, Any] = {}
    if filters.sport:
        clauses.append("c.sport IN (:sport, 'all')")
        params["sport"] = filters.sport
    if filters.category:
        clauses.append("c.category = :category")
        params["category"] = filters.category
    return " AND ".join(clauses), params


async def _vector_leg(
    session: AsyncSession,
    embedder: Embedder,
    vector: str,
    filters: SearchFilters,
    limit: int,
) -> list[dict[str, Any]]:
    where, params = _where(filters)
    dim = embedder.dimension
    rows = await session.execute(
        text(
            f"SELECT {COLUMNS}, 1 - (c.embedding::vector({dim}) <=> CAST(:q AS vector({dim})))"
            f" AS similarity FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id"
            f" WHERE {where}"
            f" ORDER BY c.embedding::vector({dim}) <=> CAST(:q AS vector({dim})) LIMIT :limit"
        ),
        {"q": vector, "embedder": embedder.id, "limit": limit, **params},
    )
    found = [dict(row._mapping) for row in rows]
    found.sort(key=lambda row: -row["similarity"])  # relaxed_order may return near-sorted rows
    return found


async def _best_passages(
    session: AsyncSession, embedder: Embedder, vector: str, document_ids: list[str]
) -> list[dict[str, Any]]:
    """The closest passage of each document found only through its questions (exact, small)."""
    dim = embedder.dimension
    rows = await session.execute(
        text(
            f"SELECT DISTINCT ON (c.document_id) {COLUMNS},"
            f" 1 - (c.embedding::vector({dim}) <=> CAST(:q AS vector({dim}))) AS similarity"
            " FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id"
            " WHERE c.document_id = ANY(:ids) AND c.kind = 'passage' AND c.embedder_id = :embedder"
            f" ORDER BY c.document_id, c.embedding::vector({dim}) <=> CAST(:q AS vector({dim}))"
        ),
        {"q": vector, "ids": document_ids, "embedder": embedder.id},
    )
    return [dict(row._mapping) for row in rows]


async def _lexical_ranks(
    session: AsyncSession, chunk_ids: list[str], query: str, language: str | None
) -> list[str]:
    """The candidates' chunk ids ordered by full-text relevance (OR semantics).

    Full text ranks the vector leg's candidates instead of scanning on its own: at
    100k chunks an OR query over common words matches tens of thousands of rows and
    ranking them costs 0.1-1 s (bench/retrieval_bench.py), more than the whole budget,
    while paraphrased chat rarely matches words anyway. It adds evidence, never gates.
    """
    if not chunk_ids:
        return []
    config = TS_CONFIG.get(language or "en", "english")
    rows = await session.execute(
        text(
            "SELECT c.id::text AS chunk_id FROM kb_chunks c,"
            f" CAST(replace(CAST(plainto_tsquery('{config}', :text) AS text), '&', '|') AS tsquery)"
            " AS query WHERE c.id = ANY(CAST(:ids AS uuid[])) AND c.tsv @@ query"
            " ORDER BY ts_rank_cd(c.tsv, query) DESC"
        ),
        {"text": query, "ids": chunk_ids},
    )
    return [row.chunk_id for row in rows]


async def _embeddings(session: AsyncSession, chunk_ids: list[str]) -> dict[str, np.ndarray]:
    """Vectors of the few chunks MMR compares (fetching all candidates' costs ~25 ms)."""
    if not chunk_ids:
        return {}
    rows = await session.execute(
        text(
            "SELECT id::text AS chunk_id, embedding::real[] AS embedding FROM kb_chunks"
            " WHERE id = ANY(CAST(:ids AS uuid[]))"
        ),
        {"ids": chunk_ids},
    )
    return {row.chunk_id: np.asarray(row.embedding, dtype=np.float32) for row in rows}


def _citation(row: dict[str, Any]) -> str:
    return f"{row['title']} — {row['source']} [kb:{row['document_id']}]"


async def search(
    session: AsyncSession,
    embedder: Embedder,
    query: str,
    filters: SearchFilters,
    settings: RagSettings,
    top_k: int | None = None,
) -> SearchResult:
    """The best `top_k` passages for `query` (the caller records `usage` in the ledger)."""
    query = " ".join(query.split())
    if not query:
        raise InvalidInput("The search query is empty.")
    if len(query) > 2000:
        query = query[:2000]
    top_k = top_k or settings.top_k
    timings: dict[str, float] = {}
    started = time.perf_counter()
    vectors, usage = await embedder.embed([query], purpose="retrieval")
    query_vector = vectors[0]
    literal = "[" + ",".join(f"{value:.7g}" for value in query_vector) + "]"
    timings["embed"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    await session.execute(text(f"SET LOCAL hnsw.ef_search = {int(settings.ef_search)}"))
    await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    limit = settings.candidates
    # all languages in one query: the multilingual embedder makes an English passage a
    # good answer to an Italian question, and the language boost prefers the user's own
    rows = await _vector_leg(session, embedder, literal, filters, limit)
    widened = False
    if filters.sport and len({row["document_id"] for row in rows}) < top_k:
        # too little for this sport: fall back to every sport
        widened = True
        wider = await _vector_leg(session, embedder, literal, replace(filters, sport=None), limit)
        seen = {row["chunk_id"] for row in rows}
        rows += [row for row in wider if row["chunk_id"] not in seen]
    primary = rows
    missing = {row["document_id"] for row in primary if row["kind"] == "question"} - {
        row["document_id"] for row in primary if row["kind"] == "passage"
    }
    if missing:
        primary += await _best_passages(session, embedder, literal, sorted(missing))
    timings["vector"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    lexical_order = await _lexical_ranks(
        session, [row["chunk_id"] for row in primary], query, filters.language
    )
    by_id = {row["chunk_id"]: row for row in primary}
    lexical = [by_id[chunk_id] for chunk_id in lexical_order]
    timings["lexical"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    ranked = score_documents(primary, lexical, filters, settings)
    heads = [documents["passages"][0]["chunk_id"] for _, documents in ranked[: top_k * 3]]
    vectors_by_chunk = await _embeddings(session, heads)
    passages = select_passages(ranked, vectors_by_chunk, settings, top_k)
    timings["rerank"] = (time.perf_counter() - started) * 1000
    return SearchResult(passages, usage, timings, widened)


def score_documents(
    vector_rows: list[dict[str, Any]],
    lexical_rows: list[dict[str, Any]],
    filters: SearchFilters,
    settings: RagSettings,
) -> list[tuple[float, dict[str, Any]]]:
    """Score documents from their best passage and best question (+ full-text rank and
    metadata boosts); keep one language version per document. Best first."""
    documents: dict[str, dict[str, Any]] = {}
    for row in vector_rows:
        doc = documents.setdefault(row["document_id"], {"passages": [], "question": None})
        if row["kind"] == "question":
            if doc["question"] is None or row["similarity"] > doc["question"]:
                doc["question"] = row["similarity"]
        else:
            doc["passages"].append(row)
    lexical_rank: dict[str, int] = {}
    for rank, row in enumerate(lexical_rows):
        lexical_rank.setdefault(row["document_id"], rank)
    documents = {key: doc for key, doc in documents.items() if doc["passages"]}
    if not documents:
        return []
    question_sims = [d["question"] for d in documents.values() if d["question"] is not None]
    # a document not among the retrieved questions scores as the weakest one retrieved
    question_floor = min(question_sims) if question_sims else 0.0
    scores: dict[str, float] = {}
    for document_id, doc in documents.items():
        doc["passages"].sort(key=lambda p: -p["similarity"])
        head = doc["passages"][0]
        question = doc["question"] if doc["question"] is not None else question_floor
        score = settings.passage_weight * head["similarity"] + settings.question_weight * question
        if document_id in lexical_rank:
            score += settings.lexical_weight / (settings.rrf_k + lexical_rank[document_id] + 1)
        if filters.sport and head["sport"] == filters.sport:
            score += settings.sport_boost
        if filters.language and head["language"] == filters.language:
            score += settings.language_boost
        scores[document_id] = score

    # one version per document family: the user's language when it was found (scored
    # with the family's best evidence), else the best-scoring version
    by_family: dict[str, list[str]] = {}
    for document_id in scores:
        by_family.setdefault(documents[document_id]["passages"][0]["slug"], []).append(document_id)
    ranked = []
    for versions in by_family.values():
        best = max(versions, key=scores.__getitem__)
        preferred = [
            v for v in versions if documents[v]["passages"][0]["language"] == filters.language
        ]
        chosen = preferred[0] if preferred else best
        ranked.append((scores[best], documents[chosen]))
    ranked.sort(key=lambda item: -item[0])
    return ranked


def select_passages(
    ranked: list[tuple[float, dict[str, Any]]],
    vectors: dict[str, np.ndarray],
    settings: RagSettings,
    top_k: int,
) -> list[Passage]:
    """MMR over the documents' best passages, then second passages if too few documents."""
    pool = [item for item in ranked if item[1]["passages"][0]["chunk_id"] in vectors]
    chosen: list[tuple[float, dict[str, Any]]] = []
    while pool and len(chosen) < top_k:

        def mmr(item: tuple[float, dict[str, Any]]) -> float:
            head = vectors[item[1]["passages"][0]["chunk_id"]]
            redundancy = max(
                (float(head @ vectors[other[1]["passages"][0]["chunk_id"]]) for other in chosen),
                default=0.0,
            )
            return settings.mmr_lambda * item[0] - (1 - settings.mmr_lambda) * redundancy

        best = max(pool, key=mmr)
        chosen.append(best)
        pool.remove(best)

    selected = [(score, doc["passages"][0]) for score, doc in chosen]
    for score, doc in chosen:  # fewer documents than asked: add second passages
        if len(selected) >= top_k:
            break
        extra = doc["passages"][1 : settings.max_chunks_per_document]
        selected.extend((score, row) for row in extra[: top_k - len(selected)])

    return [
        Passage(
            chunk_id=row["chunk_id"],
            document_id=row["document_id"],
            slug=row["slug"],
            title=row["title"],
            heading=row["heading"],
            topic=row["topic"],
            category=row["category"],
            sport=row["sport"],
            language=row["language"],
            source=row["source"],
            last_reviewed=row["last_reviewed"],
            content=row["content"],
            score=score,
            similarity=float(row["similarity"]),
            citation=_citation(row),
            embedding=vectors.get(row["chunk_id"]),
        )
        for score, row in selected
    ]
