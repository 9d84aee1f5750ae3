"""`wellcoach kb ...` against its own database: ingest, incremental re-ingest, search, eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.support.data import KB_EVAL_SMALL, KB_SMALL
from tests.support.services import fresh_database

runner = CliRunner()


@pytest.fixture(scope="module")
def kb_database(services) -> str:
    return fresh_database(services.database_url, "wellcoach_test_kb")


@pytest.fixture
def kb_env(cli_env, kb_database, monkeypatch, tmp_path) -> Path:
    corpus = tmp_path / "kb"
    shutil.copytree(KB_SMALL, corpus)
    monkeypatch.setenv("WELLCOACH_DATABASE_URL", kb_database)
    monkeypatch.setenv("WELLCOACH_RAG__KB_PATH", str(corpus))
    from wellcoach.config import get_settings

    get_settings.cache_clear()
    return corpus


def kb(*args: str):
    return runner.invoke(app, ["kb", *args])


def test_ingest_is_idempotent_and_incremental(kb_env):
    first = kb("ingest", "--full", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert len(report["added"]) + len(report["updated"]) == 4
    assert report["embedder_id"] == "use-m3-512"

    again = kb("ingest")
    assert again.exit_code == 0
    assert "up to date" in again.stdout and "nothing embedded" in again.stdout

    touched = kb_env / "wellness_fundamentals/recovery_strategies/sleep-hygiene.en.md"
    touched.write_text(touched.read_text().replace("seven to nine hours", "eight hours or so"))
    partial = json.loads(kb("ingest", "--json").stdout)
    assert partial["updated"] == ["sleep-hygiene-en"]
    assert partial["added"] == [] and partial["unchanged"] == 3
    chunks = json.loads(kb("show", "sleep-hygiene-en", "--json").stdout)["chunks"]
    # its passages, its one question and its title-and-tags probe
    assert partial["chunks_embedded"] == len(chunks) + 2
    assert partial["kb_version"] != report["kb_version"]

    (kb_env / "emergency_protocols/resource_directories/emergency-numbers.en.md").unlink()
    removed = json.loads(kb("ingest", "--json").stdout)
    assert removed["removed"] == ["emergency-numbers-en"]
    assert kb("show", "emergency-numbers-en").exit_code == 3


def test_invalid_files_are_reported_and_nothing_changes(kb_env):
    assert kb("ingest").exit_code == 0
    bad = kb_env / "wellness_fundamentals/stress_management/box-breathing.en.md"
    bad.write_text(bad.read_text().replace("language: en", "language: english"))
    result = kb("ingest")
    assert result.exit_code == 2
    assert "box-breathing.en.md" in result.stderr and "language" in result.stderr
    stats = json.loads(kb("stats", "--json").stdout)
    assert stats["documents"] == 4


def test_list_show_stats(kb_env):
    kb("ingest")
    listed = json.loads(kb("list", "--language", "it", "--json").stdout)
    assert [row["id"] for row in listed] == ["box-breathing-it"]
    shown = json.loads(kb("show", "box-breathing-en", "--json").stdout)
    assert shown["questions"] and shown["chunks"][1]["heading"] == "How to do it"
    stats = json.loads(kb("stats", "--json").stdout)
    assert stats["kb_version"] and stats["units"]["passage"] >= 8
    assert "4 document(s)" in kb("list").stdout
    assert "Box Breathing" in kb("show", "box-breathing-en").stdout


def test_search_json_has_the_passage_fields(kb_env):
    kb("ingest")
    result = kb("search", "my heart is pounding before the match", "--json", "--language", "en")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    assert results[0]["document_id"] == "box-breathing-en"
    for key in (
        "document_id",
        "title",
        "topic",
        "category",
        "sport",
        "language",
        "score",
        "citation",
        "content",
    ):
        assert key in results[0]
    assert "[kb:box-breathing-en]" in results[0]["citation"]
    # one language version per document: the Italian twin is not listed as well
    assert "box-breathing-it" not in [r["document_id"] for r in results]


def test_italian_query_prefers_italian_and_falls_back_across_languages(kb_env):
    kb("ingest")
    italian = json.loads(kb("search", "ho il cuore a mille", "--language", "it", "--json").stdout)
    assert italian[0]["document_id"] == "box-breathing-it"
    # no Italian sleep document: the English one answers
    sleep = json.loads(
        kb(
            "search", "non riesco a dormire la notte prima della gara", "--language", "it", "--json"
        ).stdout
    )
    assert "sleep-hygiene-en" in [r["document_id"] for r in sleep[:2]]


def test_category_and_sport_filters(kb_env):
    kb("ingest")
    emergency = json.loads(
        kb("search", "I need help", "--category", "emergency_protocols", "--json").stdout
    )
    assert {r["category"] for r in emergency} == {"emergency_protocols"}
    tennis = json.loads(kb("search", "breathing", "--sport", "tennis", "--json").stdout)
    assert all(r["sport"] in ("tennis", "all") for r in tennis)
    empty = kb("search", "   ")
    assert empty.exit_code == 2


def test_eval_prints_metrics_and_fails_below_threshold(kb_env):
    kb("ingest")
    ok = kb(
        "eval", "--set", str(KB_EVAL_SMALL), "--json", "--min-hit3", "0.5", "--min-hit3-it", "0.5"
    )
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["overall"]["queries"] == 4
    assert set(report["by_language"]) == {"en", "it"}
    impossible = kb("eval", "--set", str(KB_EVAL_SMALL), "--min-hit3", "1.01")
    assert impossible.exit_code == 1
    assert "below threshold" in impossible.stderr
    assert "hit@3" in impossible.stdout


def test_openai_embeddings_replace_the_offline_ones_batched_retried_and_paid_for(
    kb_env, kb_database, fake_openai, monkeypatch
):
    """`WELLCOACH_RAG__EMBEDDER=openai`: the next ingest re-embeds everything with
    text-embedding-3-small (1536-d, half-precision graph), in batches, through the real
    `openai` client with its retries, and every call is a ledger row; search uses it."""
    from wellcoach.config import get_settings
    from wellcoach.runtime.services import to_libpq_url

    assert kb("ingest").exit_code == 0  # the offline embedder first
    fake_openai.reset()
    monkeypatch.setenv("WELLCOACH_OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("WELLCOACH_OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("WELLCOACH_RAG__EMBEDDER", "openai")
    monkeypatch.setenv("WELLCOACH_RAG__EMBED_BATCH", "8")
    get_settings.cache_clear()
    fake_openai.fail_next(1, status=500, endpoint="embeddings")  # retried by the client

    switched = kb("ingest", "--json")
    assert switched.exit_code == 0, switched.output
    report = json.loads(switched.stdout)
    assert report["embedder_id"] == "openai-text-embedding-3-small-1536"
    assert len(report["added"]) + len(report["updated"]) == 4  # every document re-embedded
    calls = fake_openai.requests_for("embeddings")
    sizes = [len(call.body["input"]) for call in calls]
    # full batches of 8 across documents (the last one holds the rest); the first call
    # failed and was retried with the same batch
    assert sizes[0] == sizes[1] == 8 and all(size == 8 for size in sizes[1:-1])
    assert sum(sizes[1:]) == report["chunks_embedded"] and 0 < sizes[-1] <= 8

    with psycopg.connect(to_libpq_url(kb_database)) as conn:
        stored = conn.execute(
            "SELECT DISTINCT embedder_id, vector_dims(embedding) FROM kb_chunks"
        ).fetchall()
        ledger = conn.execute(
            "SELECT count(*), sum(tokens_in), bool_and(cost_usd > 0) FROM llm_calls"
            " WHERE provider = 'openai' AND model = 'text-embedding-3-small'"
            " AND purpose = 'kb_ingest'"
        ).fetchone()
    assert stored == [("openai-text-embedding-3-small-1536", 1536)]
    assert ledger[0] == len(calls) - 1 and ledger[1] > 0 and ledger[2] is True

    found = kb("search", "box breathing before the match", "--language", "en", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)  # answered from the 1536-d vectors
    assert fake_openai.requests_for("embeddings")[-1].body["input"] == [
        "box breathing before the match"
    ]
