import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from wellcoach.db import migrate
from wellcoach.models import metadata
from wellcoach.ops.partitions import ensure_partitions, list_partitions
from wellcoach.rag.documents import CATEGORIES


async def test_every_model_table_exists(db_session):
    rows = await db_session.execute(
        text(
            "SELECT CASE WHEN schemaname = 'public' THEN tablename"
            " ELSE schemaname || '.' || tablename END"
            " FROM pg_tables WHERE schemaname IN ('public', 'keystore')"
        )
    )
    existing = {row[0] for row in rows}
    assert set(metadata.tables) <= existing


def test_database_is_at_head(services):
    assert migrate.current(services.database_url) == migrate.head()


async def test_messages_and_health_are_partitioned_by_month(db_session):
    now = datetime.now(UTC)
    current = f"messages_p{now:%Y_%m}"
    partitions = await list_partitions(db_session, "messages")
    assert current in partitions
    assert "messages_default" in partitions
    assert f"health_metrics_p{now:%Y_%m}" in await list_partitions(db_session, "health_metrics")


async def test_ensure_partitions_is_idempotent_and_creates_ahead(db_session):
    await ensure_partitions(db_session, months_ahead=6)
    again = await ensure_partitions(db_session, months_ahead=6)
    assert again == {"messages": 0, "health_metrics": 0}
    assert len(await list_partitions(db_session, "messages")) >= 7


async def test_a_row_outside_prepared_months_is_kept_in_the_default_partition(db_session):
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    await db_session.execute(
        text("INSERT INTO users (id, email, password_hash) VALUES (:id, :email, 'x')"),
        {"id": user_id, "email": f"{user_id}@example.com"},
    )
    await db_session.execute(
        text("INSERT INTO chat_sessions (id, user_id) VALUES (:id, :user)"),
        {"id": session_id, "user": user_id},
    )
    await db_session.execute(
        text(
            "INSERT INTO messages (id, created_at, session_id, user_id, type, content_encrypted,"
            " status, updated_at)"
            " VALUES (:id, '2099-01-01', :s, :u, 'user', '\\x00', 'sent', now())"
        ),
        {"id": uuid.uuid4(), "s": session_id, "u": user_id},
    )
    where = await db_session.scalar(
        text("SELECT tableoid::regclass::text FROM messages WHERE user_id = :u"), {"u": user_id}
    )
    assert where == "messages_default"


async def test_kb_chunks_have_an_hnsw_index_per_embedder(db_session):
    rows = await db_session.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'kb_chunks'")
    )
    hnsw = {name: definition for name, definition in rows if "hnsw" in definition}
    # half-precision graphs (migration 0003), each partial on its embedder
    assert any("halfvec(512)" in d and "use-m3-512" in d for d in hnsw.values())
    assert any("halfvec(1536)" in d for d in hnsw.values())
    assert all("halfvec_cosine_ops" in d for d in hnsw.values())
    # and a graph per category, which category-filtered searches (crisis turns) walk
    for category in CATEGORIES:
        definition = hnsw[f"ix_kb_chunks_hnsw_use_{category}"]
        assert f"category)::text = '{category}'" in definition
