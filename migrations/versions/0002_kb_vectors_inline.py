"""kb vectors inline, HNSW graphs built with a wider beam

pgvector stores `vector` values out of line (TOAST) once a row passes ~2 kB, and a
512-d vector alone is 2,056 bytes: every passage the vector leg returned was read
back from the TOAST table to recompute its distance, and a filtered exact scan
detoasted every candidate (bench/retrieval_bench.py: 70 ms for 1.5k rows). PLAIN
keeps vectors in the heap row; content and tsv still move out when rows are large.
Existing values are rewritten so they move back inline.

The HNSW indexes are rebuilt with ef_construction 128 (was 64): a better graph gives
the same recall at a lower ef_search, i.e. faster queries, for a slower build that only
ingest pays.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMBEDDER_INDEXES = {
    "use-m3-512": 512,
    "openai-text-embedding-3-small-1536": 1536,
    "e5-small-384": 384,
}


def _rebuild_indexes(ef_construction: int) -> None:
    for embedder_id, dim in EMBEDDER_INDEXES.items():
        name = "ix_kb_chunks_hnsw_" + embedder_id.split("-")[0]
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(
            f"CREATE INDEX {name} ON kb_chunks USING hnsw ((embedding::vector({dim}))"
            f" vector_cosine_ops) WITH (m = 16, ef_construction = {ef_construction})"
            f" WHERE embedder_id = '{embedder_id}'"
        )


def upgrade() -> None:
    op.execute("ALTER TABLE kb_chunks ALTER COLUMN embedding SET STORAGE PLAIN")
    # a value keeps its TOAST pointer through an UPDATE unless it changes: a text
    # round trip makes a new value, stored by the new rule
    op.execute("UPDATE kb_chunks SET embedding = CAST(CAST(embedding AS text) AS vector)")
    _rebuild_indexes(128)


def downgrade() -> None:
    op.execute("ALTER TABLE kb_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL")
    _rebuild_indexes(64)
