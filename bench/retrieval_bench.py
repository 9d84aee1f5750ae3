"""Retrieval benchmark: the hybrid knowledge-base search at 10k and 100k chunks.

Everything runs on this machine: the script starts its own embedded PostgreSQL (pgvector)
in a temporary directory, migrates it and

1. times the real offline embedder (`UseEmbedder(threads=1)`) on short queries;
2. runs the real ingest pipeline (`wellcoach.rag.ingest.ingest`) over the shipped `kb/`
   into a fresh database;
3. for N = 10k and 100k synthetic chunks (2,000 documents; 512-d clustered vectors,
   English/Italian texts) bulk loads them with binary COPY, rebuilds the embedder's partial
   HNSW indexes (`ix_kb_chunks_hnsw_use` and one per category) after the load, loads table
   and graphs into shared buffers
   (pg_prewarm: a served knowledge base is hot), and runs the real `search()` for every query (a
   transaction per query, warm-up first) with three filters; only the model is replaced, by
   an embedder that returns the query's prepared vector;
4. measures recall@5 of the vector leg (its SQL, captured from a real search() call)
   against exact search at ef_search 40, 100, 200 and the configured value, and EXPLAINs
   every statement once.

Synthetic vectors: 300 unit cluster centres; a chunk is its cluster's centre plus noise in a
24-d cluster subspace plus a little isotropic noise, L2-normalised (pairwise cosine ~0.0
across clusters, ~0.55 within one). A query is a stored chunk plus fresh noise of the same
shape (cosine to its source ~0.8). It prints figures and asserts nothing about timing, and
stops and deletes the server at the end.

    python bench/retrieval_bench.py           # full run (about 5 minutes on this machine)
    python bench/retrieval_bench.py --quick   # 10k chunks, fewer queries (about 1 minute)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from common import percentile
from pgvector.psycopg import register_vector
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from wellcoach.config import LlmSettings, RagSettings, Settings
from wellcoach.costs.ledger import Usage, estimate_tokens
from wellcoach.db import migrate
from wellcoach.db.session import Database, unit_of_work
from wellcoach.rag import retrieval
from wellcoach.rag.documents import CATEGORIES
from wellcoach.rag.embedders import UseEmbedder
from wellcoach.rag.ingest import ingest
from wellcoach.rag.retrieval import SearchFilters, search
from wellcoach.runtime import postgres

REPO = Path(__file__).resolve().parents[1]
EMBEDDER_ID = "use-m3-512"
DIM = 512
HNSW_INDEX = "ix_kb_chunks_hnsw_use"
DOCUMENTS = 2_000
CLUSTERS, SUBSPACE = 300, 24
CLUSTER_SPREAD, ISOTROPIC, QUERY_NOISE = 0.8, 0.02, 0.8
SPORTS = ("all", "basketball", "football", "tennis", "running")
SPORT_P = (0.5, 0.125, 0.125, 0.125, 0.125)
PASSES = (
    ("en", SearchFilters(language="en")),
    ("it+basketball", SearchFilters(language="it", sport="basketball")),
    (
        "it+basketball+sport_specific",
        SearchFilters(language="it", sport="basketball", category="sport_specific"),
    ),
)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


# ef_search values swept for recall and latency: the configured one among them
EFS = tuple(sorted({40, RagSettings().ef_search, 100, 200}))


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    queries: int
    warmup: int
    embed_queries: int
    search_budget_s: float  # per filter pass, measured queries
    exact_budget_s: float  # per pass: SQL exact search (numpy for the queries left)
    sweep_budget_s: float  # per ef_search value
    efs: tuple[int, ...] = EFS


FULL = Plan((10_000, 100_000), 200, 20, 200, 120.0, 60.0, 30.0)
QUICK = Plan((10_000,), 50, 10, 50, 40.0, 20.0, 15.0)


def pcts(values: list[float]) -> str:
    return "  ".join(f"p{int(q * 100)} {percentile(values, q):7.2f}" for q in (0.5, 0.95, 0.99))


# -- synthetic texts --------------------------------------------------------------------------

EN_WORDS = """athlete stress sleep recovery match training coach team anxiety focus breathing
confidence motivation pressure injury rest routine goal season game performance mind body
energy fatigue nutrition hydration mood calm nerves fear mistake failure success practice
habit rhythm tension muscle heart rate warm cool stretch relax visualise imagine plan
schedule travel tournament final shot serve pass free throw penalty sprint marathon pace
breath exercise talk support parent teammate captain referee crowd noise criticism praise
doubt worry panic attention reset cue ritual journal reflect gratitude balance school
exam study burnout overtraining boredom loneliness anger frustration joy pride trust
listen feedback effort progress setback comeback patience resilience strength weakness""".split()
IT_WORDS = """atleta stress sonno recupero partita allenamento allenatore squadra ansia
concentrazione respiro fiducia motivazione pressione infortunio riposo routine obiettivo
stagione gara prestazione mente corpo energia fatica alimentazione idratazione umore calma
nervi paura errore fallimento successo pratica abitudine ritmo tensione muscolo cuore
riscaldamento defaticamento allungamento rilassarsi visualizzare immaginare piano programma
viaggio torneo finale tiro servizio passaggio libero rigore scatto maratona andatura esercizio
parlare sostegno genitore compagno capitano arbitro pubblico rumore critica lode dubbio
preoccupazione panico attenzione segnale rituale diario riflettere gratitudine equilibrio
scuola esame studio esaurimento sovrallenamento noia solitudine rabbia frustrazione gioia
orgoglio ascoltare impegno progresso battuta ritorno pazienza resilienza forza""".split()
EN_STOP = "the a to and of in is it you your for on with before after when how".split()
IT_STOP = "il la di e che in un una per con prima dopo quando come non si".split()
SYLLABLES = "ka lo mi ra ve to ne si pa du re fo gi la mo te ri na".split()


@dataclass
class Vocab:
    words: np.ndarray
    p: np.ndarray
    stop: np.ndarray


def make_vocab(rng: np.random.Generator, head: list[str], stop: list[str], tail: int) -> Vocab:
    """Real domain words first, then invented ones; Zipf-like frequencies with a flat head."""
    invented = {
        "".join(rng.choice(SYLLABLES, size=int(rng.integers(3, 5)))) for _ in range(tail * 2)
    }
    words = list(dict.fromkeys(head + sorted(invented - set(head))))[: len(head) + tail]
    p = 1.0 / (np.arange(len(words)) + 20.0)
    return Vocab(np.array(words), p / p.sum(), np.array(stop))


def sentence(rng: np.random.Generator, vocab: Vocab, n_words: int) -> str:
    words = vocab.words[rng.choice(len(vocab.words), size=n_words, p=vocab.p)]
    stops = vocab.stop[rng.integers(0, len(vocab.stop), size=n_words)]
    mixed = np.where(rng.random(n_words) < 0.35, stops, words)
    return " ".join(mixed.tolist())


# -- synthetic corpus -------------------------------------------------------------------------


@dataclass
class Space:
    centres: np.ndarray  # (clusters, dim), unit
    bases: np.ndarray  # (clusters, dim, subspace)
    popularity: np.ndarray  # (clusters,)

    def noise(self, rng: np.random.Generator, clusters: np.ndarray) -> np.ndarray:
        out = np.empty((len(clusters), DIM), dtype=np.float32)
        for k in np.unique(clusters):
            idx = np.flatnonzero(clusters == k)
            z = rng.standard_normal((len(idx), SUBSPACE), dtype=np.float32)
            out[idx] = (z * (CLUSTER_SPREAD / math.sqrt(SUBSPACE))) @ self.bases[k].T
            out[idx] += rng.standard_normal((len(idx), DIM), dtype=np.float32) * ISOTROPIC
        return out


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def make_space(rng: np.random.Generator) -> Space:
    centres = unit(rng.standard_normal((CLUSTERS, DIM), dtype=np.float32))
    bases = rng.standard_normal((CLUSTERS, DIM, SUBSPACE), dtype=np.float32) / math.sqrt(DIM)
    popularity = 1.0 / (np.arange(CLUSTERS) + 10.0)
    return Space(centres, bases, popularity / popularity.sum())


@dataclass
class Documents:
    rows: list[tuple[Any, ...]]
    language: np.ndarray
    sport: np.ndarray
    category: np.ndarray
    cluster: np.ndarray
    weight: np.ndarray


def make_documents(rng: np.random.Generator, space: Space) -> Documents:
    language = rng.choice(np.array(["en", "it"]), size=DOCUMENTS, p=[0.7, 0.3])
    sport = rng.choice(np.array(SPORTS), size=DOCUMENTS, p=SPORT_P)
    categories = sorted(CATEGORIES)
    category = rng.choice(np.array(categories), size=DOCUMENTS)
    cluster = rng.choice(CLUSTERS, size=DOCUMENTS, p=space.popularity)
    english: list[int] = []  # English documents not translated yet
    rows, slugs = [], []
    for i in range(DOCUMENTS):
        slug = f"bench-{i:05d}"
        # half of the Italian documents translate an English one: same family, same topic
        if language[i] == "it" and english and rng.random() < 0.5:
            j = english.pop(int(rng.integers(0, len(english))))
            slug, cluster[i], sport[i], category[i] = slugs[j], cluster[j], sport[j], category[j]
        elif language[i] == "en":
            english.append(i)
        slugs.append(slug)
        topic = sorted(CATEGORIES[str(category[i])])[i % len(CATEGORIES[str(category[i])])]
        digest = hashlib.sha256(f"{slug}-{language[i]}".encode()).hexdigest()
        rows.append(
            (
                f"{slug}-{language[i]}",
                slug,
                f"Synthetic document {i}",
                str(category[i]),
                topic,
                str(sport[i]),
                str(language[i]),
                "bench synthetic corpus",
                0.9,
                dt.date(2025, 1, 1),
                ["bench"],
                f"bench/{slug}.md",
                digest,
                EMBEDDER_ID,
            )
        )
    weight = rng.lognormal(0.0, 0.6, size=DOCUMENTS)
    return Documents(rows, language, sport, category, cluster, weight / weight.sum())


@dataclass
class Chunks:
    ids: list[uuid.UUID]
    doc: np.ndarray
    ordinal: np.ndarray
    kind: np.ndarray
    cluster: np.ndarray
    vectors: np.ndarray
    content: list[str]
    language: np.ndarray
    sport: np.ndarray
    category: np.ndarray

    def matches(self, filters: SearchFilters) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        if filters.language:
            mask &= self.language == filters.language
        if filters.sport:
            mask &= (self.sport == filters.sport) | (self.sport == "all")
        if filters.category:
            mask &= self.category == filters.category
        return mask


def make_chunks(
    rng: np.random.Generator, n: int, docs: Documents, space: Space, vocab: dict[str, Vocab]
) -> Chunks:
    doc = np.sort(rng.choice(DOCUMENTS, size=n, p=docs.weight))
    starts = np.searchsorted(doc, doc, side="left")
    ordinal = np.arange(n) - starts
    kind = np.where(rng.random(n) < 0.1, "question", "passage")
    own = rng.random(n) < 0.7  # most chunks share their document's topic cluster
    cluster = np.where(own, docs.cluster[doc], rng.choice(CLUSTERS, size=n, p=space.popularity))
    vectors = unit(space.centres[cluster] + space.noise(rng, cluster))
    language = docs.language[doc]
    content = []
    for i in range(n):
        words = vocab[str(language[i])]
        if kind[i] == "question":
            content.append(sentence(rng, words, int(rng.integers(8, 15))) + "?")
        else:
            content.append(sentence(rng, words, int(rng.integers(40, 70))) + ".")
    ids = [uuid.UUID(bytes=rng.bytes(16), version=4) for _ in range(n)]
    return Chunks(
        ids,
        doc,
        ordinal,
        kind,
        cluster,
        vectors,
        content,
        language,
        docs.sport[doc],
        docs.category[doc],
    )


# -- loading ----------------------------------------------------------------------------------


def load_documents(url: str, docs: Documents) -> None:
    columns = (
        "id, slug, title, category, topic, sport, language, source, confidence,"
        " last_reviewed, tags, path, content_hash, embedder_id"
    )
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY kb_documents ({columns}) FROM STDIN") as copy:
            for row in docs.rows:
                copy.write_row(row)


def load_chunks(url: str, chunks: Chunks, docs: Documents) -> dict[str, Any]:
    """COPY into a staging table, INSERT with to_tsvector, rebuild the HNSW index, analyse."""
    figures: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        # the embedder's graphs: the global one and one per category (migration 0003)
        graphs = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s ORDER BY indexname",
            (HNSW_INDEX + "%",),
        ).fetchall()
        indexdef = dict(graphs)[HNSW_INDEX]
        figures["index_with"] = indexdef.split(" WITH ")[1].split(")")[0].strip("(")
        figures["graphs"] = len(graphs)
        for name, _ in graphs:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.execute("TRUNCATE kb_chunks")
        conn.execute("DROP TABLE IF EXISTS bench_stage")
        conn.execute(
            "CREATE UNLOGGED TABLE bench_stage (id uuid, document_id text, ordinal int,"
            " kind text, heading text, content text, content_hash text, language text,"
            " sport text, category text, embedding vector)"
        )
        types = ["uuid", "text", "int4"] + ["text"] * 7 + ["vector"]
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_stage FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for i in range(len(chunks.ids)):
                content = chunks.content[i]
                copy.write_row(
                    (
                        chunks.ids[i],
                        docs.rows[chunks.doc[i]][0],
                        int(chunks.ordinal[i]),
                        str(chunks.kind[i]),
                        None if chunks.kind[i] == "question" else content[:40].rsplit(" ", 1)[0],
                        content,
                        hashlib.sha256(content.encode()).hexdigest(),
                        str(chunks.language[i]),
                        str(chunks.sport[i]),
                        str(chunks.category[i]),
                        chunks.vectors[i],
                    )
                )
        figures["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO kb_chunks (id, document_id, ordinal, kind, heading, content,"
            " content_hash, embedder_id, language, sport, category, embedding, tsv, created_at)"
            " SELECT id, document_id, ordinal, kind, heading, content, content_hash,"
            f" '{EMBEDDER_ID}', language, sport, category, embedding,"
            " to_tsvector(CASE language WHEN 'it' THEN 'italian' ELSE 'english' END::regconfig,"
            " content), now() FROM bench_stage"
        )
        figures["insert_s"] = time.perf_counter() - started
        conn.execute("DROP TABLE bench_stage")
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(indexdef)
        figures["hnsw_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for name, definition in graphs:
            if name != HNSW_INDEX:
                conn.execute(definition)
        figures["category_hnsw_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) kb_chunks")
        conn.execute("ANALYZE kb_documents")
        figures["vacuum_s"] = time.perf_counter() - started
        # a served knowledge base is hot (autoprewarm keeps it so across restarts); bulk
        # loads bypass shared buffers, so load the table and its graph into them once
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for name, _ in [("kb_chunks", None), *graphs]:
            conn.execute("SELECT pg_prewarm(%s)", (name,))
        figures["prewarm_s"] = time.perf_counter() - started
        sizes = conn.execute(
            "SELECT pg_relation_size('kb_chunks'), pg_relation_size(reltoastrelid),"
            f" pg_relation_size('{HNSW_INDEX}'), pg_relation_size('ix_kb_chunks_tsv'),"
            " (SELECT sum(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes"
            f" WHERE indexrelname LIKE '{HNSW_INDEX}\\_%')"
            " FROM pg_class WHERE relname = 'kb_chunks'"
        ).fetchone()
        keys = ("heap_mb", "toast_mb", "hnsw_mb", "gin_mb", "category_hnsw_mb")
        for key, value in zip(keys, sizes, strict=True):
            figures[key] = value / 2**20
    return figures


# -- embedders --------------------------------------------------------------------------------


class PreparedEmbedder:
    """The Embedder protocol, returning the vector prepared for each (normalised) query text."""

    id = EMBEDDER_ID
    model = EMBEDDER_ID
    provider = "bench"
    dimension = DIM

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    async def embed(self, texts: list[str], *, purpose: str) -> tuple[np.ndarray, Usage]:
        vectors = np.stack([self.vectors[" ".join(t.split())] for t in texts])
        usage = Usage(self.provider, self.model, purpose, tokens_in=estimate_tokens(texts))
        return vectors, usage


class TimedEmbedder:
    """Wraps the real embedder to add up the time spent embedding during ingest."""

    def __init__(self, inner: UseEmbedder) -> None:
        self.inner = inner
        self.id, self.model = inner.id, inner.model
        self.provider, self.dimension = inner.provider, inner.dimension
        self.seconds = 0.0

    async def embed(self, texts: list[str], *, purpose: str) -> tuple[np.ndarray, Usage]:
        started = time.perf_counter()
        try:
            return await self.inner.embed(texts, purpose=purpose)
        finally:
            self.seconds += time.perf_counter() - started


def bench_embedder(plan: Plan, rng: np.random.Generator) -> dict[str, float]:
    questions = [
        "how do I calm my nerves before a {} final",
        "I can't sleep after a {} match, what helps",
        "come gestisco l'ansia prima di una partita di {}",
        "my coach criticises me after every {} game",
        "non riesco a concentrarmi durante l'allenamento di {}",
        "how to recover mentally after an injury in {}",
    ]
    sports = ["basketball", "football", "tennis", "running", "calcio", "pallavolo"]
    texts = [
        questions[i % 6].format(sports[int(rng.integers(0, 6))]) + f" ({i})"
        for i in range(plan.embed_queries)
    ]
    embedder = UseEmbedder(threads=1)
    started = time.perf_counter()
    embedder.embed_sync(["warm up"])
    cold = time.perf_counter() - started
    for text_ in texts[:20]:
        embedder.embed_sync([text_])
    samples = []
    for text_ in texts:
        started = time.perf_counter()
        embedder.embed_sync([text_])
        samples.append((time.perf_counter() - started) * 1000)
    return {"cold_s": cold, "p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95)}


async def bench_ingest(url: str, base: Path) -> dict[str, float]:
    settings = Settings(
        _env_file=None,
        env="development",
        data_dir=base / "data",
        database_url=url,
        llm=LlmSettings(provider="offline"),
        rag=RagSettings(),
        log_level="WARNING",
    )
    embedder = TimedEmbedder(UseEmbedder(threads=1))
    database = Database(url)
    try:
        started = time.perf_counter()
        async with unit_of_work(database) as session:
            report = await ingest(session, settings, embedder, REPO / "kb")
        seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    return {
        "documents": len(report.added) + len(report.updated),
        "chunks": report.chunks_embedded,
        "seconds": seconds,
        "embed_s": embedder.seconds,
    }


# -- queries ----------------------------------------------------------------------------------


@dataclass
class Query:
    text: str
    vector: np.ndarray
    source: int


def make_queries(
    rng: np.random.Generator,
    chunks: Chunks,
    space: Space,
    filters: SearchFilters,
    vocab: Vocab,
    count: int,
    embedder: PreparedEmbedder,
) -> list[Query]:
    """Perturbed copies of stored chunks that match the filter, with a few words of text."""
    candidates = np.flatnonzero(chunks.matches(filters))
    sources = rng.choice(candidates, size=count, replace=len(candidates) < count)
    noise = space.noise(rng, chunks.cluster[sources]) * QUERY_NOISE
    vectors = unit(chunks.vectors[sources] + noise)
    queries = []
    for i, source in enumerate(sources):
        own = [w for w in chunks.content[source].rstrip(".?").split() if len(w) > 4]
        for _ in range(20):  # texts key the prepared vectors, so they must be unique
            picked = list(rng.choice(own, size=min(2, len(own)), replace=False)) if own else []
            text_ = " ".join(picked + [sentence(rng, vocab, int(rng.integers(2, 5)))])
            if text_ not in embedder.vectors:
                break
        else:
            text_ = f"{text_} {i}"
        embedder.vectors[text_] = vectors[i]
        queries.append(Query(text_, vectors[i], int(source)))
    return queries


@dataclass
class PassResult:
    label: str
    selectivity: float
    latency: list[float] = field(default_factory=list)  # search() call, ms
    request: list[float] = field(default_factory=list)  # session + transaction + search, ms
    parts: dict[str, list[float]] = field(default_factory=dict)
    widened: int = 0  # searches that sent a second vector query (SearchResult.widened)
    where: str = ""
    vector_selectivity: float = math.nan
    passages: list[int] = field(default_factory=list)
    hnsw_scans: int = 0
    seq_scans: int = 0
    recall: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    sql_exact: int = 0  # queries whose exact top-5 came from SQL (the rest: numpy)
    sql_agrees: int = 0  # ... and on which numpy found the same top-5
    plan_hnsw: dict[int, bool] = field(default_factory=dict)  # per ef: the planner picks HNSW
    forced_hnsw: dict[int, bool] = field(default_factory=dict)  # ... with seq/bitmap scans off


def index_counters(url: str) -> tuple[int, int]:
    time.sleep(0.6)  # backends flush their statistics when they exit
    with psycopg.connect(url) as conn:
        hnsw = conn.execute(
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s", (HNSW_INDEX,)
        ).fetchone()[0]
        seq = conn.execute(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'kb_chunks'"
        ).fetchone()[0]
    return int(hnsw or 0), int(seq or 0)


async def run_searches(
    url: str,
    libpq: str,
    embedder: PreparedEmbedder,
    queries: list[Query],
    warmup: list[Query],
    filters: SearchFilters,
    result: PassResult,
    budget_s: float,
) -> None:
    """The production path: Database(url), one session and transaction per query."""
    rag = RagSettings()
    before = index_counters(libpq)
    database = Database(url)
    try:
        for phase, batch in (("warmup", warmup), ("measure", queries)):
            deadline = time.perf_counter() + budget_s
            for query in batch:
                if result.latency and time.perf_counter() > deadline:
                    break
                started = time.perf_counter()
                async with database.sessions() as session, session.begin():
                    t0 = time.perf_counter()
                    found = await search(session, embedder, query.text, filters, rag)
                    elapsed = (time.perf_counter() - t0) * 1000
                if phase == "warmup":
                    continue
                result.request.append((time.perf_counter() - started) * 1000)
                result.latency.append(elapsed)
                for part, ms in found.timings_ms.items():
                    result.parts.setdefault(part, []).append(ms)
                result.widened += found.widened
                result.passages.append(len(found.passages))
    finally:
        await database.dispose()
    after = index_counters(libpq)
    result.hnsw_scans, result.seq_scans = after[0] - before[0], after[1] - before[1]


def literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"


VECTOR_LEG = "vector leg"
CANDIDATES = "candidates (the vector leg + best passages of question-only documents)"


def _leg_name(statement: str) -> str:
    if "set_config(" in statement:
        return "settings"
    if statement.startswith("WITH v AS"):
        return CANDIDATES
    if "c.content" in statement:
        return "passage details (with the full-text rank)"
    return VECTOR_LEG


async def capture_search(
    sessions: Any, embedder: PreparedEmbedder, query: Query, filters: SearchFilters
) -> list[tuple[str, dict[str, Any]]]:
    """Run one search() and return its statements, as the driver got them; first the vector
    leg alone (search() sends it inside the candidates statement)."""
    embedder.vectors[" ".join(query.text.split())] = query.vector
    captured: list[tuple[str, dict[str, Any]]] = []
    original = retrieval.run_statements

    async def recording(session: Any, statements: list[Any]) -> list[list[tuple[Any, ...]]]:
        captured.extend(statements)
        return await original(session, statements)

    retrieval.run_statements = recording
    try:
        async with sessions() as session, session.begin():
            await search(session, embedder, query.text, filters, RagSettings())
    finally:
        retrieval.run_statements = original
    params = next(p for s, p in captured if _leg_name(s) == CANDIDATES)
    query_params = {key: params[key] for key in ("q", "text", "config")}
    leg = retrieval.vector_leg_statement(embedder, query_params, filters, RagSettings().candidates)
    return [leg, *captured]


async def explain_search(
    sessions: Any, libpq: str, captured: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    """EXPLAIN ANALYZE each SELECT of one search() (with its SET LOCALs), the vector leg with
    index scans off (the exact reference), and the vector leg's generic plan."""
    rag = RagSettings()
    lines: list[str] = []
    async with sessions() as session, session.begin():
        conn = await session.connection()
        await conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {int(rag.ef_search)}")
        await conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
        for statement, parameters in captured:
            plan = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
            )
            lines.append(f"{_leg_name(statement)}:")
            lines.extend("    " + row[0][:120] for row in plan if _interesting(row[0]))
        await conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
        plan = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF) " + captured[0][0], captured[0][1]
        )
        lines.append("vector leg, exact reference (enable_indexscan = off):")
        lines.extend("    " + row[0][:120] for row in plan if _interesting(row[0]))
    numbers: dict[str, int] = {}
    statement = re.sub(
        r"%\((\w+)\)s",
        lambda m: f"${numbers.setdefault(m.group(1), len(numbers) + 1)}",
        captured[0][0],
    )
    with psycopg.connect(libpq) as raw:
        plan = raw.execute("EXPLAIN (GENERIC_PLAN, COSTS OFF) " + statement).fetchall()
    uses = any(HNSW_INDEX in row[0] for row in plan)
    lines.append(f"vector leg generic plan (what auto-prepare may settle on) uses HNSW: {uses}")
    return lines


GUCS = {
    "exact": ("SET LOCAL enable_indexscan = off",),
    "planner": ("SET LOCAL hnsw.ef_search = {ef}", "SET LOCAL hnsw.iterative_scan = relaxed_order"),
    "forced": (
        "SET LOCAL hnsw.ef_search = {ef}",
        "SET LOCAL hnsw.iterative_scan = relaxed_order",
        "SET LOCAL enable_seqscan = off",
        "SET LOCAL enable_bitmapscan = off",
        "SET LOCAL enable_sort = off",
    ),
}


async def run_recall(
    url: str,
    libpq: str,
    queries: list[Query],
    plan: Plan,
    filters: SearchFilters,
    chunks: Chunks,
    result: PassResult,
    explain: bool,
) -> list[str]:
    """Recall@5 of the vector leg's own SQL (captured from search()) against exact search.

    Exact = the same SQL with `enable_indexscan = off` for as many queries as its time budget
    allows, numpy over the same rows (the WHERE of the captured SQL) for the rest. Each sweep
    runs with the planner's own choice, and again with seq/bitmap scans off when the planner
    did not pick HNSW. Its own engine with psycopg's auto-prepare off, so no plan survives a
    planner setting; each query runs in its own transaction."""
    engine = create_async_engine(url, connect_args={"prepare_threshold": None})
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    rag = RagSettings()
    plans: list[str] = []
    try:
        captured = await capture_search(sessions, PreparedEmbedder(), queries[0], filters)
        vector_sql = [(s, p) for s, p in captured if _leg_name(s) == VECTOR_LEG]
        if not vector_sql or not {"q", "limit"} <= set(vector_sql[0][1]):
            raise RuntimeError("could not find the vector leg's SQL (q, limit) in search()")
        statement, base = vector_sql[0]
        result.where = statement.split(" WHERE ", 1)[1].split(" ORDER BY ")[0]
        if explain:
            plans = await explain_search(
                sessions,
                libpq,
                vector_sql[:1]
                + [(s, p) for s, p in captured if _leg_name(s) not in ("settings", VECTOR_LEG)],
            )

        async def leg(
            vector: str, mode: str, ef: int, limit: int, sql: str = statement
        ) -> tuple[list[str], float]:
            async with sessions() as session, session.begin():
                conn = await session.connection()
                for guc in GUCS[mode]:
                    await conn.exec_driver_sql(guc.format(ef=int(ef)))
                started = time.perf_counter()
                rows = await conn.exec_driver_sql(sql, {**base, "q": vector, "limit": limit})
                found = [(row._mapping["similarity"], row._mapping["chunk_id"]) for row in rows]
                ms = (time.perf_counter() - started) * 1000
            return [chunk_id for _, chunk_id in sorted(found, key=lambda r: -r[0])], ms

        async def uses_hnsw(mode: str, ef: int) -> bool:
            async with sessions() as session, session.begin():
                conn = await session.connection()
                for guc in GUCS[mode]:
                    await conn.exec_driver_sql(guc.format(ef=int(ef)))
                params = {**base, "q": literal(queries[0].vector), "limit": rag.candidates}
                rows = await conn.exec_driver_sql("EXPLAIN (COSTS OFF) " + statement, params)
                return any(HNSW_INDEX in row[0] for row in rows)

        source = statement.index(" FROM kb_chunks")
        matching_sql = "SELECT c.id::text" + statement[source:].split(" ORDER BY ")[0]
        async with sessions() as session:
            matching = await (await session.connection()).exec_driver_sql(matching_sql, base)
            allowed = {row[0] for row in matching}
        mask = np.array([str(chunk_id) in allowed for chunk_id in chunks.ids])
        result.vector_selectivity = float(mask.mean())
        rows_idx = np.flatnonzero(mask)
        truth: list[list[str]] = []
        deadline = time.perf_counter() + plan.exact_budget_s
        for query in queries:
            vector = literal(query.vector)
            as_sent = np.array(vector[1:-1].split(","), dtype=np.float32)
            best = rows_idx[np.argsort(-(chunks.vectors[rows_idx] @ as_sent))[:5]]
            truth.append([str(chunks.ids[i]) for i in best])
            if result.sql_exact == 0 or time.perf_counter() < deadline:
                ids, _ = await leg(vector, "exact", 0, rag.candidates)
                result.sql_exact += 1
                result.sql_agrees += ids[:5] == truth[-1]
                truth[-1] = ids[:5]
        for ef in plan.efs:
            result.plan_hnsw[ef] = await uses_hnsw("planner", ef)
            modes = ["planner"] if result.plan_hnsw[ef] else ["planner", "forced"]
            if not result.plan_hnsw[ef]:
                result.forced_hnsw[ef] = await uses_hnsw("forced", ef)
            for mode in modes:
                stats: dict[str, list[float]] = {"r": [], "r5": [], "rows": [], "ms": []}
                deadline = time.perf_counter() + plan.sweep_budget_s
                for query, exact in zip(queries, truth, strict=True):
                    if stats["r"] and time.perf_counter() > deadline:
                        break
                    vector = literal(query.vector)
                    ids, ms = await leg(vector, mode, ef, rag.candidates)
                    stats["ms"].append(ms)
                    stats["r"].append(len(set(ids[:5]) & set(exact)) / 5)
                    stats["rows"].append(len(ids))
                    ids5, _ = await leg(vector, mode, ef, 5)
                    stats["r5"].append(len(set(ids5) & set(exact)) / 5)
                result.recall[(mode, ef)] = {
                    "recall": float(np.mean(stats["r"])),
                    "recall_limit5": float(np.mean(stats["r5"])),
                    "rows": float(np.mean(stats["rows"])),
                    "n": len(stats["r"]),
                    "p50": percentile(stats["ms"], 0.5),
                    "p95": percentile(stats["ms"], 0.95),
                }
    finally:
        await engine.dispose()
    return plans


def _interesting(line: str) -> bool:
    keys = ("Scan", "Limit", "Sort", "Join", "Loop", "Execution Time", "Rows Removed", "Buffers")
    return any(key in line for key in keys) and "Planning" not in line


# -- the benchmark ----------------------------------------------------------------------------


def run_size(
    n: int,
    plan: Plan,
    handle: postgres.PostgresHandle,
    docs: Documents,
    space: Space,
    vocab: dict[str, Vocab],
    rng: np.random.Generator,
    summary: list[dict[str, Any]],
) -> None:
    url, libpq = handle.url(), handle.libpq_url()
    console.print(f"\n[bold]N = {n:,} chunks[/bold] ({DOCUMENTS:,} documents)")
    started = time.perf_counter()
    chunks = make_chunks(rng, n, docs, space, vocab)
    console.print(f"  generated in {time.perf_counter() - started:.1f}s")
    load = load_chunks(libpq, chunks, docs)
    console.print(
        f"  COPY (binary) into staging: {n / load['copy_s']:,.0f} rows/s ({load['copy_s']:.1f}s);"
        f" INSERT…SELECT with to_tsvector + GIN/btree: {n / load['insert_s']:,.0f} rows/s"
        f" ({load['insert_s']:.1f}s); end to end {n / (load['copy_s'] + load['insert_s']):,.0f}"
        " rows/s"
    )
    console.print(
        f"  HNSW build ({load['index_with']}, halfvec, maintenance_work_mem=1GB): global"
        f" {load['hnsw_s']:.1f}s, {load['graphs'] - 1} per-category graphs"
        f" {load['category_hnsw_s']:.1f}s; VACUUM ANALYZE {load['vacuum_s']:.1f}s; pg_prewarm"
        f" of heap and graphs {load['prewarm_s']:.1f}s; sizes: heap {load['heap_mb']:.0f} MB,"
        f" TOAST {load['toast_mb']:.0f} MB, HNSW {load['hnsw_mb']:.0f} MB + per category"
        f" {load['category_hnsw_mb'] or 0:.0f} MB, GIN {load['gin_mb']:.0f} MB"
    )
    summary.append({"kind": "load", "n": n, **load})
    for index, (label, filters) in enumerate(PASSES):
        embedder = PreparedEmbedder()
        vocab_ = vocab[filters.language or "en"]
        queries = make_queries(rng, chunks, space, filters, vocab_, plan.queries, embedder)
        warmup = make_queries(rng, chunks, space, filters, vocab_, plan.warmup, embedder)
        result = PassResult(label, float(chunks.matches(filters).mean()))
        asyncio.run(
            run_searches(
                url, libpq, embedder, queries, warmup, filters, result, plan.search_budget_s
            )
        )
        plans = asyncio.run(
            run_recall(url, libpq, queries, plan, filters, chunks, result, explain=True)
        )
        console.print(f"  [bold]{label}[/bold]")
        console.print(
            f"    {filters}: queries come from the {result.selectivity:.1%} of chunks matching"
            f" it; the vector leg's WHERE ({result.where}) keeps {result.vector_selectivity:.1%};"
            f" {len(result.latency)} of {len(queries)} queries measured (budget"
            f" {plan.search_budget_s:.0f}s) after {len(warmup)} warm-up",
            markup=False,
        )
        console.print(f"    search() ms      {pcts(result.latency)}")
        console.print(f"    request ms       {pcts(result.request)}  (session+BEGIN+search+COMMIT)")
        for part in ("embed", "vector", "rerank"):
            console.print(f"    {part:<16} {pcts(result.parts.get(part, []))}")
        console.print(
            f"    second vector queries (SearchResult.widened) {result.widened}; passages"
            f" returned mean {np.mean(result.passages):.2f}; HNSW index scans {result.hnsw_scans}"
            f" for {len(result.latency) + len(warmup) + result.widened} vector queries;"
            f" kb_chunks seq scans {result.seq_scans}"
        )
        sims = [float(q.vector @ chunks.vectors[q.source]) for q in queries]
        console.print(
            f"    exact top-5: SQL (enable_indexscan = off) for {result.sql_exact} queries, numpy"
            f" for {len(queries) - result.sql_exact}; numpy agreed with SQL on"
            f" {result.sql_agrees}/{result.sql_exact}; query↔source cosine mean {np.mean(sims):.3f}"
        )
        console.print(
            "    the planner's plan for the vector leg uses HNSW at ef_search "
            + ", ".join(f"{ef}: {used}" for ef, used in result.plan_hnsw.items())
            + "".join(
                f"; forced at {ef} (seq/bitmap scans off) uses HNSW: {used}"
                for ef, used in result.forced_hnsw.items()
            )
        )
        candidates = RagSettings().candidates
        for (mode, ef), r in result.recall.items():
            console.print(
                f"    {'planner' if mode == 'planner' else 'forced '} ef_search {ef:>3}: recall@5"
                f" {r['recall']:.3f} (LIMIT {candidates} re-sorted), {r['recall_limit5']:.3f}"
                f" (LIMIT 5); rows {r['rows']:.1f}; vector leg p50 {r['p50']:.2f} ms"
                f" p95 {r['p95']:.2f} ms; {r['n']} queries"
            )
        if index == 0 or n == plan.sizes[-1]:
            console.print("    EXPLAIN ANALYZE of one search():")
            for line in plans:
                console.print("      " + line, markup=False)
        summary.append({"kind": "pass", "n": n, "result": result})


def print_summary(
    summary: list[dict[str, Any]], embed: dict[str, float], ingested: dict[str, float]
) -> None:
    rag = RagSettings()
    table = Table(title="retrieval bench summary (targets: search p95 ≤ 10 ms, recall@5 ≥ 0.95)")
    columns = ["N", "filter", "vec sel", "p50", "p95", "p99", "cand p95", "rerank p95"]
    columns += ["vec plan"] + [f"R@5 ef{ef}" for ef in EFS] + ["p95≤10", "R≥.95"]
    for column in columns:
        table.add_column(column, justify="left" if column == "filter" else "right", no_wrap=True)
    for item in summary:
        if item["kind"] != "pass":
            continue
        r: PassResult = item["result"]
        p95 = percentile(r.latency, 0.95)
        recalls = []
        for ef in EFS:
            mode = "planner" if r.plan_hnsw.get(ef, True) else "forced"
            value = r.recall.get((mode, ef), {}).get("recall", math.nan)
            if mode == "forced" and not r.forced_hnsw.get(ef):
                recalls.append("n/a")  # not even forcing got an HNSW plan
            else:
                recalls.append(f"{value:.3f}" + ("" if mode == "planner" else "f"))
        mode = "planner" if r.plan_hnsw.get(rag.ef_search, True) else "forced"
        recall = r.recall.get((mode, rag.ef_search), {}).get("recall", math.nan)
        plans = "/".join("H" if r.plan_hnsw.get(ef) else "seq" for ef in EFS)
        table.add_row(
            f"{item['n'] // 1000}k",
            r.label,
            f"{r.vector_selectivity:.0%}",
            f"{percentile(r.latency, 0.5):.1f}",
            f"{p95:.1f}",
            f"{percentile(r.latency, 0.99):.1f}",
            f"{percentile(r.parts['vector'], 0.95):.1f}",
            f"{percentile(r.parts['rerank'], 0.95):.1f}",
            plans,
            *recalls,
            "yes" if p95 <= 10 else "NO",
            "yes" if recall >= 0.95 else "NO",
        )
    console.print()
    console.print(table)
    console.print(
        f"latencies in ms, search() with a prepared query vector (ef_search {rag.ef_search},"
        f" {rag.candidates} candidates); R@5 = recall@5 of the vector leg vs exact search."
        " vec plan: the planner's scan for the vector leg at ef"
        f" {'/'.join(map(str, EFS))} (H = HNSW, seq = exact scan); where it is seq, R@5"
        " shows HNSW forced with seq/bitmap scans and sorts"
        " off (f)."
    )
    for item in summary:
        if item["kind"] == "load":
            n = item["n"]
            console.print(
                f"load {n // 1000}k: COPY {n / item['copy_s']:,.0f} rows/s, INSERT+tsv"
                f" {n / item['insert_s']:,.0f} rows/s, HNSW build {item['hnsw_s']:.1f}s"
                f" (+ per-category graphs {item['category_hnsw_s']:.1f}s)"
            )
    console.print(
        f"real embedder (UseEmbedder threads=1), one short query: p50 {embed['p50']:.2f} ms,"
        f" p95 {embed['p95']:.2f} ms (cold start {embed['cold_s']:.1f}s) — add it to search()"
    )
    console.print(
        f"real ingest of kb/: {ingested['documents']} documents, {ingested['chunks']} chunks in"
        f" {ingested['seconds']:.1f}s = {ingested['documents'] / ingested['seconds']:.1f}"
        f" documents/s, {ingested['chunks'] / ingested['seconds']:.1f} chunks/s"
        f" (embedding {ingested['embed_s']:.1f}s of it)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k chunks only, fewer queries")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL

    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    rng = np.random.default_rng(20240611)
    base = Path(tempfile.mkdtemp(prefix="wellcoach-retrieval-bench-"))
    base.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    pgdata = base / "pg"
    started_at = time.perf_counter()
    try:
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        console.print(f"starting embedded PostgreSQL in {base}… (load average {load})")
        handle = postgres.start_postgres(pgdata)
        migrate.upgrade(handle.url())
        with psycopg.connect(handle.libpq_url()) as conn:
            names = (
                "server_version",
                "shared_buffers",
                "work_mem",
                "jit",
                "max_parallel_maintenance_workers",
            )
            shown = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}
            version = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()[0]
        console.print(
            "  " + ", ".join(f"{k}={v}" for k, v in shown.items()) + f", pgvector {version}"
        )

        console.print("\n[bold]real embedder[/bold] UseEmbedder(threads=1).embed_sync(\\[query])")
        embed = bench_embedder(plan, rng)
        console.print(
            f"  {plan.embed_queries} short queries after 20 warm-up: p50 {embed['p50']:.2f} ms,"
            f" p95 {embed['p95']:.2f} ms; model load {embed['cold_s']:.2f}s"
        )

        console.print("\n[bold]real ingest[/bold] of kb/ into a fresh database (model warm)")
        ingest_handle = postgres.start_postgres(pgdata, database="wellcoach_ingest")
        migrate.upgrade(ingest_handle.url("wellcoach_ingest"))
        ingested = asyncio.run(bench_ingest(ingest_handle.url("wellcoach_ingest"), base))
        console.print(
            f"  {ingested['documents']} documents, {ingested['chunks']} chunks in"
            f" {ingested['seconds']:.1f}s: {ingested['documents'] / ingested['seconds']:.1f}"
            f" documents/s, {ingested['chunks'] / ingested['seconds']:.1f} chunks/s;"
            f" {ingested['embed_s']:.1f}s of it in the embedder"
        )

        space = make_space(rng)
        vocab = {
            "en": make_vocab(rng, EN_WORDS, EN_STOP, 2000),
            "it": make_vocab(rng, IT_WORDS, IT_STOP, 2000),
        }
        docs = make_documents(rng, space)
        load_documents(handle.libpq_url(), docs)
        summary: list[dict[str, Any]] = []
        for n in plan.sizes:
            run_size(n, plan, handle, docs, space, vocab, rng, summary)
        print_summary(summary, embed, ingested)
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        console.print(
            f"total {time.perf_counter() - started_at:.0f}s; load average now {load}"
            f" ({os.cpu_count()} CPUs; other processes on this machine share them)"
        )
    finally:
        postgres.stop_postgres(pgdata, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
