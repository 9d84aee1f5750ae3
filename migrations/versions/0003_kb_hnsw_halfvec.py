"""kb HNSW graphs over half-precision vectors, and one more graph per category

Half precision: each index stores the vectors as `halfvec` (2 bytes per dimension). The
graph of 100k 512-d chunks shrinks from 260 to 130 MB, so more of it stays in shared
buffers, each distance reads half the bytes and the build is faster; recall does not
suffer at this precision (bench/retrieval_bench.py: recall@5 ≥ 0.96 at ef_search 64 on
100k chunks, as with full precision). The table keeps full-precision vectors: search
orders by the half-precision distance (so the index serves it) and scores with the exact
one.

Per category: a category filter keeps a quarter of the chunks or less (a crisis turn
searches emergency_protocols only), and the global graph then walks past three rows for
each one it keeps (100k chunks, 15 % kept: vector leg p95 ~8 ms; on its category's own
graph ~4 ms). The planner picks the partial graph when the query names the category;
the sport filter, which keeps more than half, stays an iterative-scan filter. Each chunk
is in two graphs, which only ingest pays.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMBEDDER_INDEXES = {
    "use-m3-512": 512,
    "openai-text-embedding-3-small-1536": 1536,
    "e5-small-384": 384,
}
CATEGORIES = (
    "conversational_patterns",
    "emergency_protocols",
    "sport_specific",
    "wellness_fundamentals",
)


def _create(name: str, kind: str, dim: int, where: str) -> None:
    op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute(
        f"CREATE INDEX {name} ON kb_chunks USING hnsw ((embedding::{kind}({dim}))"
        f" {kind}_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE {where}"
    )


def upgrade() -> None:
    for embedder_id, dim in EMBEDDER_INDEXES.items():
        name = "ix_kb_chunks_hnsw_" + embedder_id.split("-")[0]
        _create(name, "halfvec", dim, f"embedder_id = '{embedder_id}'")
        for category in CATEGORIES:
            _create(
                f"{name}_{category}",
                "halfvec",
                dim,
                f"embedder_id = '{embedder_id}' AND category = '{category}'",
            )


def downgrade() -> None:
    for embedder_id, dim in EMBEDDER_INDEXES.items():
        name = "ix_kb_chunks_hnsw_" + embedder_id.split("-")[0]
        for category in CATEGORIES:
            op.execute(f"DROP INDEX IF EXISTS {name}_{category}")
        _create(name, "vector", dim, f"embedder_id = '{embedder_id}'")
