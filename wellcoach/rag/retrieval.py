"""Hybrid retrieval: pgvector HNSW first, full text second, fused, then reranked.

1. Vector leg: cosine HNSW over the active embedder's passages and document
   questions, filtered by sport (the user's and `all`) and category, with
   `hnsw.iterative_scan` so filters do not starve the result. Every language is
   searched: the multilingual embedder makes an English passage a fair answer to
   an Italian question, and the user's language wins ties through a boost. When
   the sport filter leaves too few documents, a second query drops it.
2. Lexical signal: PostgreSQL full text (english/italian, OR semantics) ranks the
   vector candidates in the same statement; paraphrased chat rarely matches words, so
   it only adds rank evidence through reciprocal rank fusion and never filters.
3. Reciprocal rank fusion, metadata boosts (the user's sport and language), one
   version per document family (an Italian and an English version of the same
   document are one result), then MMR for diversity. Text, metadata and vectors are
   fetched, in the same statement, only for each document's best passage: the ones
   MMR compares and returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import TupleRow, tuple_row
from sqlalchemy.exc import DBAPIError
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


@dataclass(slots=True)
class Candidate:
    """A passage or question found by the vector leg: all that document scoring reads.
    Built positionally from the driver's tuple rows (the fields are the vector leg's
    columns, in order): this is the hottest read path."""

    chunk_id: str
    document_id: str
    kind: str  # "passage" or "question"
    sport: str
    language: str
    similarity: float


@dataclass(slots=True)
class PassageDetail:
    """What a passage shows and how MMR compares it, fetched only for the passages that
    may be returned (each document's best one, and second ones when documents run out)."""

    heading: str | None
    category: str
    content: str
    slug: str  # the document family: every language version shares it
    title: str
    topic: str
    source: str
    last_reviewed: date
    embedding: np.ndarray | None  # only on the candidates statement's rows
    lexical: float | None  # full-text rank; None when no query word matches


@dataclass(slots=True)
class ScoredDocument:
    """A document as ranking sees it: its score at the current step, its passages best
    first (the head, passages[0], is the one MMR compares and search returns) and the best
    similarity of its questions."""

    score: float
    passages: list[Candidate]
    question: float | None

    @property
    def head(self) -> Candidate:
        return self.passages[0]


# OR semantics: paraphrased chat shares few words with a passage, so any shared word counts
TSQUERY = (
    "CAST(replace(CAST(plainto_tsquery(CAST(%(config)s AS regconfig), %(text)s) AS text),"
    " '&', '|') AS tsquery)"
)
# the HNSW beam, and filters that cannot starve the result; SET LOCAL semantics
SETTINGS = (
    "SELECT set_config('hnsw.ef_search', %(ef)s, true),"
    " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
)
Statement = tuple[str, dict[str, Any]]
# what the details of a passage add to its candidate row, in _details_select's order
# (_detail reads them by position)
DETAIL_COLUMNS = (
    "heading",
    "category",
    "content",
    "slug",
    "title",
    "topic",
    "source",
    "last_reviewed",
    "vector",
    "lexical",
)
# a candidates row: Candidate's columns, then DETAIL_COLUMNS
_CANDIDATE_WIDTH = len(fields(Candidate))


def _where(filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """Sport and category filter; language is a preference (a boost), not a filter."""
    clauses = ["c.embedder_id = %(embedder)s"]
    params: dict[str, Any] = {}
    if filters.sport:
        clauses.append("c.sport IN (%(sport)s, 'all')")
        params["sport"] = filters.sport
    if filters.category:
        clauses.append("c.category = %(category)s")
        params["category"] = filters.category
    return " AND ".join(clauses), params


def _distance(dim: int, kind: str = "vector") -> str:
    """Cosine distance to the query. The HNSW indexes hold `halfvec` copies (migration
    0003): ordering by the half-precision distance lets the index serve it, and the
    full-precision one scores what it returns."""
    return f"c.embedding::{kind}({dim}) <=> CAST(%(q)s AS {kind}({dim}))"


def vector_leg_statement(
    embedder: Embedder, query: dict[str, Any], filters: SearchFilters, limit: int
) -> Statement:
    """The nearest passages and questions by HNSW: the vector leg alone (the bench measures
    its recall against exact search). Only what scoring needs: no join, no text."""
    where, params = _where(filters)
    distance = _distance(embedder.dimension)
    indexed = _distance(embedder.dimension, "halfvec")
    return (
        f"SELECT c.id::text AS chunk_id, c.document_id, c.kind, c.sport, c.language,"
        f" 1 - ({distance}) AS similarity FROM kb_chunks c"
        f" WHERE {where} ORDER BY {indexed} LIMIT %(limit)s",
        {**query, "embedder": embedder.id, "limit": limit, **params},
    )


def candidates_statement(
    embedder: Embedder, query: dict[str, Any], filters: SearchFilters, limit: int
) -> Statement:
    """Everything search() reads, in one statement (one round trip):

    - the vector leg's rows, plus the closest passage of each document it found only
      through its questions (a LATERAL top-1 per document: DISTINCT ON over all their
      passages took 2-3x longer);
    - on each document's best passage (its head, the one MMR compares and returns):
      text, document metadata, full-text rank and the vector. Other rows carry NULLs.

    Full text ranks these candidates instead of scanning on its own: at 100k chunks an
    OR query over common words matches tens of thousands of rows and ranking them costs
    0.1-1 s, while paraphrased chat rarely matches words anyway. It adds evidence, never
    gates. Vectors travel in pgvector's binary form."""
    nearest, params = vector_leg_statement(embedder, query, filters, limit)
    distance = _distance(embedder.dimension)
    return (
        f"WITH v AS MATERIALIZED ({nearest}),"
        " found AS MATERIALIZED (SELECT * FROM v UNION ALL SELECT best.* FROM"
        " (SELECT document_id FROM v GROUP BY document_id"
        " HAVING bool_and(kind = 'question')) missing,"
        " LATERAL (SELECT c.id::text AS chunk_id, c.document_id, c.kind, c.sport, c.language,"
        f" 1 - ({distance}) AS similarity FROM kb_chunks c"
        " WHERE c.document_id = missing.document_id AND c.kind = 'passage'"
        f" AND c.embedder_id = %(embedder)s ORDER BY {distance} LIMIT 1) best),"
        " heads AS (SELECT DISTINCT ON (document_id) chunk_id FROM found"
        " WHERE kind = 'passage' ORDER BY document_id, similarity DESC)"
        " SELECT found.*, "
        + ", ".join(f"details.{column}" for column in DETAIL_COLUMNS)
        + " FROM found LEFT JOIN ("
        + _details_select("vector_send(c.embedding)")
        + " WHERE c.id = ANY(ARRAY(SELECT CAST(chunk_id AS uuid) FROM heads))"
        ") details ON details.chunk_id = found.chunk_id",
        {**params, "text": query["text"], "config": query["config"]},
    )


def _details_select(vector_column: str) -> str:
    return (
        "SELECT c.id::text AS chunk_id, c.heading, c.category, c.content, d.slug, d.title,"
        f" d.topic, d.source, d.last_reviewed, {vector_column} AS vector,"
        " CASE WHEN c.tsv @@ tsq.query THEN ts_rank_cd(c.tsv, tsq.query) END AS lexical"
        " FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id,"
        f" (SELECT {TSQUERY} AS query) tsq"
    )


def details_statement(query: dict[str, Any], chunk_ids: list[str]) -> Statement:
    """Text, metadata and full-text rank of passages the candidates statement did not
    describe (second passages of a document, when too few documents were found)."""
    return (
        _details_select("NULL::bytea") + " WHERE c.id = ANY(CAST(%(ids)s AS uuid[]))",
        {"text": query["text"], "config": query["config"], "ids": chunk_ids},
    )


async def run_statements(
    session: AsyncSession, statements: list[Statement]
) -> list[list[TupleRow]]:
    """Run statements in the session's transaction, in one round trip, on the driver.

    Search is the hottest read path: psycopg's pipeline sends the statements together,
    and they are never server-prepared, so each gets a plan made for its own vector (a
    generic plan cannot see it and may skip the HNSW index). Rows stay plain tuples, the
    cheapest the driver makes; the caller turns them into its types once. Driver errors
    surface as SQLAlchemy's, like every other database error.
    """
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if not isinstance(driver, psycopg.AsyncConnection):  # pipelines are psycopg's own
        raise TypeError(f"search needs psycopg's async driver, not {type(driver).__name__}")
    cursors: list[psycopg.AsyncCursor[TupleRow]] = []
    try:
        async with driver.pipeline():
            for sql, params in statements:
                cursor = driver.cursor(row_factory=tuple_row)
                await cursor.execute(sql, params, prepare=False)
                cursors.append(cursor)
        return [await cursor.fetchall() for cursor in cursors]
    except psycopg.Error as exc:
        raise DBAPIError(statements[-1][0], statements[-1][1], exc) from exc


def _detail(columns: Sequence[Any]) -> PassageDetail | None:
    """A passage's DETAIL_COLUMNS, its vector decoded once; None when the row was not
    described (the candidates statement leaves all but each document's head NULL)."""
    heading, category, content, slug, title, topic, source, last_reviewed, raw, lexical = columns
    if content is None:
        return None
    # vector_send: int16 dimension, int16 unused, then big-endian float4s
    embedding = np.frombuffer(raw, dtype=">f4", offset=4).astype(np.float32) if raw else None
    return PassageDetail(
        heading, category, content, slug, title, topic, source, last_reviewed, embedding, lexical
    )


def _read_candidates(rows: list[TupleRow]) -> tuple[list[Candidate], dict[str, PassageDetail]]:
    """The candidates statement's rows, and the details of those it described, by chunk id
    (in row order: full-text ties keep it)."""
    candidates = []
    details = {}
    for row in rows:
        candidate = Candidate(*row[:_CANDIDATE_WIDTH])
        candidates.append(candidate)
        detail = _detail(row[_CANDIDATE_WIDTH:])
        if detail is not None:
            details[candidate.chunk_id] = detail
    return candidates, details


def _read_details(rows: list[TupleRow]) -> dict[str, PassageDetail]:
    """The details statement's rows (chunk id, then DETAIL_COLUMNS), by chunk id."""
    details = {}
    for row in rows:
        detail = _detail(row[1:])
        if detail is not None:
            details[row[0]] = detail
    return details


def _by_similarity(candidates: list[Candidate]) -> list[Candidate]:
    candidates.sort(key=lambda c: -c.similarity)  # relaxed_order returns near-sorted rows
    return candidates


async def search(
    session: AsyncSession,
    embedder: Embedder,
    query: str,
    filters: SearchFilters,
    settings: RagSettings,
    top_k: int | None = None,
) -> SearchResult:
    """The best `top_k` passages for `query` (the caller records `usage` in the ledger).

    One round trip (the HNSW settings pipelined with the candidates statement, which also
    describes each document's best passage); a second only when the sport filter left
    too little, or when second passages of a document must fill the result."""
    query = " ".join(query.split())
    if not query:
        raise InvalidInput("The search query is empty.")
    if len(query) > 2000:
        query = query[:2000]
    top_k = top_k or settings.top_k
    timings: dict[str, float] = {}
    started = time.perf_counter()
    vectors, usage = await embedder.embed([query], purpose="retrieval")
    literal = "[" + ",".join(map("{:.7g}".format, vectors[0].tolist())) + "]"  # 7 digits: float4
    config = TS_CONFIG.get(filters.language or "en", "english")
    prepared = {"q": literal, "text": query, "config": config}
    timings["embed"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    limit = settings.candidates
    # all languages in one query: the multilingual embedder makes an English passage a
    # good answer to an Italian question, and the language boost prefers the user's own
    _, rows = await run_statements(
        session,
        [
            (SETTINGS, {"ef": str(int(settings.ef_search))}),
            candidates_statement(embedder, prepared, filters, limit),
        ],
    )
    candidates, details = _read_candidates(rows)
    widened = False
    if filters.sport and len({c.document_id for c in candidates}) < top_k:
        # too little for this sport: fall back to every sport
        widened = True
        wider_filters = replace(filters, sport=None)
        [wider] = await run_statements(
            session, [candidates_statement(embedder, prepared, wider_filters, limit)]
        )
        seen = {c.chunk_id for c in candidates}
        more, more_details = _read_candidates([row for row in wider if row[0] not in seen])
        candidates += more
        details |= more_details
    timings["vector"] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    scored = score_documents(_by_similarity(candidates), filters, settings)
    # enough documents for MMR after language versions of one document are merged
    shortlist = scored[: top_k * settings.shortlist_factor]
    heads = {doc.head.chunk_id for doc in shortlist}
    shortlisted = {key: value for key, value in details.items() if key in heads}
    ranked = rank_families(shortlist, shortlisted, filters, settings)
    chosen = select_passages(ranked, shortlisted, settings, top_k)
    extra = [c.chunk_id for _, c in chosen if c.chunk_id not in details]
    if extra:
        [found] = await run_statements(session, [details_statement(prepared, extra)])
        details |= _read_details(found)
    passages = [_passage(score, c, details[c.chunk_id]) for score, c in chosen]
    timings["rerank"] = (time.perf_counter() - started) * 1000
    return SearchResult(passages, usage, timings, widened)


def _passage(score: float, candidate: Candidate, detail: PassageDetail) -> Passage:
    return Passage(
        chunk_id=candidate.chunk_id,
        document_id=candidate.document_id,
        slug=detail.slug,
        title=detail.title,
        heading=detail.heading,
        topic=detail.topic,
        category=detail.category,
        sport=candidate.sport,
        language=candidate.language,
        source=detail.source,
        last_reviewed=detail.last_reviewed,
        content=detail.content,
        score=score,
        similarity=candidate.similarity,
        citation=f"{detail.title} — {detail.source} [kb:{candidate.document_id}]",
        embedding=detail.embedding,
    )


def score_documents(
    candidates: list[Candidate], filters: SearchFilters, settings: RagSettings
) -> list[ScoredDocument]:
    """Score documents from their best passage and best question, plus the metadata
    boosts. Best first; each document keeps its passages, best first."""
    documents: dict[str, ScoredDocument] = {}
    for candidate in candidates:
        doc = documents.get(candidate.document_id)
        if doc is None:  # scored below, once all its rows are in
            doc = documents[candidate.document_id] = ScoredDocument(0.0, [], None)
        if candidate.kind == "question":
            if doc.question is None or candidate.similarity > doc.question:
                doc.question = candidate.similarity
        else:
            doc.passages.append(candidate)
    scored = [doc for doc in documents.values() if doc.passages]
    if not scored:
        return []
    question_sims = [doc.question for doc in scored if doc.question is not None]
    # a document not among the retrieved questions scores as the weakest one retrieved
    question_floor = min(question_sims) if question_sims else 0.0
    for doc in scored:
        doc.passages.sort(key=lambda p: -p.similarity)
        head = doc.head
        question = doc.question if doc.question is not None else question_floor
        score = settings.passage_weight * head.similarity + settings.question_weight * question
        if filters.sport and head.sport == filters.sport:
            score += settings.sport_boost
        if filters.language and head.language == filters.language:
            score += settings.language_boost
        doc.score = score
    scored.sort(key=lambda doc: -doc.score)
    return scored


def rank_families(
    scored: list[ScoredDocument],
    details: dict[str, PassageDetail],
    filters: SearchFilters,
    settings: RagSettings,
) -> list[ScoredDocument]:
    """Fuse the full-text rank (reciprocal rank fusion) and keep one language version per
    document family: the user's language when it was found, scored with the family's
    best evidence, else the best-scoring version. Best first; `scored` is left as is."""
    lexical = sorted(
        ((chunk_id, d.lexical) for chunk_id, d in details.items() if d.lexical is not None),
        key=lambda item: -item[1],
    )
    lexical_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(lexical)}
    by_family: dict[str, list[tuple[float, ScoredDocument]]] = {}
    for doc in scored:
        head = doc.head.chunk_id
        if head not in details:
            continue
        score = doc.score
        if head in lexical_rank:
            score += settings.lexical_weight / (settings.rrf_k + lexical_rank[head] + 1)
        by_family.setdefault(details[head].slug, []).append((score, doc))
    ranked = []
    for versions in by_family.values():
        best_score, best = max(versions, key=lambda item: item[0])
        chosen = next((doc for _, doc in versions if doc.head.language == filters.language), best)
        ranked.append(ScoredDocument(best_score, chosen.passages, chosen.question))
    ranked.sort(key=lambda doc: -doc.score)
    return ranked


def select_passages(
    ranked: list[ScoredDocument],
    details: dict[str, PassageDetail],
    settings: RagSettings,
    top_k: int,
) -> list[tuple[float, Candidate]]:
    """MMR over the documents' best passages, then second passages if too few documents.
    Each passage comes with its document's score."""
    vectors = {
        chunk_id: detail.embedding
        for chunk_id, detail in details.items()
        if detail.embedding is not None
    }
    pool = [(doc, vectors[doc.head.chunk_id]) for doc in ranked if doc.head.chunk_id in vectors]
    chosen: list[tuple[ScoredDocument, np.ndarray]] = []
    while pool and len(chosen) < top_k:

        def mmr(index: int) -> float:
            doc, head = pool[index]
            redundancy = max((float(head @ other) for _, other in chosen), default=0.0)
            return settings.mmr_lambda * doc.score - (1 - settings.mmr_lambda) * redundancy

        chosen.append(pool.pop(max(range(len(pool)), key=mmr)))

    selected = [(doc.score, doc.head) for doc, _ in chosen]
    for doc, _ in chosen:  # fewer documents than asked: add second passages
        if len(selected) >= top_k:
            break
        extra = doc.passages[1 : settings.max_chunks_per_document]
        selected.extend((doc.score, candidate) for candidate in extra[: top_k - len(selected)])
    return selected
