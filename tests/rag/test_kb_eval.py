"""The shipped knowledge base, ingested and evaluated exactly as CI's gate runs it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.support.services import fresh_database

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def full_kb_env(cli_env, services, monkeypatch):
    monkeypatch.setenv(
        "WELLCOACH_DATABASE_URL", fresh_database(services.database_url, "wellcoach_test_kb_full")
    )
    from wellcoach.config import get_settings

    get_settings.cache_clear()


def test_shipped_kb_ingests_and_meets_the_retrieval_thresholds(full_kb_env, capsys):
    ingested = runner.invoke(app, ["kb", "ingest", "--json"])
    assert ingested.exit_code == 0, ingested.output
    report = json.loads(ingested.stdout)
    assert len(report["added"]) >= 60
    stats = json.loads(runner.invoke(app, ["kb", "stats", "--json"]).stdout)
    by_language = {}
    for row in stats["by_category_language"]:
        by_language.setdefault(row["category"], set()).add(row["language"])
    assert by_language["wellness_fundamentals"] == {"en", "it"}
    assert by_language["emergency_protocols"] == {"en", "it"}

    evaluated = runner.invoke(app, ["kb", "eval", "--json"])
    metrics = json.loads(evaluated.stdout)
    with capsys.disabled():  # the figures belong in every CI log
        print("\nkb eval:", json.dumps({k: v for k, v in metrics.items() if k != "misses"}))
    assert evaluated.exit_code == 0, evaluated.stderr
    assert metrics["overall"]["queries"] >= 80
    assert metrics["overall"]["hit@3"] >= 0.90
    assert metrics["by_language"]["it"]["hit@3"] >= 0.85
