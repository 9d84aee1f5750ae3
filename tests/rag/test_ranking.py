"""The pure ranking steps of retrieval: document scores, language families, full-text
fusion and MMR. The SQL legs are exercised by the kb tests through the CLI."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from wellcoach.config import RagSettings
from wellcoach.rag.retrieval import (
    Candidate,
    PassageDetail,
    SearchFilters,
    rank_families,
    score_documents,
    select_passages,
)

SETTINGS = RagSettings()


def row(
    chunk: str,
    document: str,
    similarity: float,
    *,
    kind: str = "passage",
    sport: str = "all",
    language: str = "en",
) -> Candidate:
    return Candidate(chunk, document, kind, sport, language, similarity)


def detail(slug: str, *, lexical: float | None = None, vector=None) -> PassageDetail:
    return PassageDetail(
        heading=None,
        category="recovery",
        content="…",
        slug=slug,
        title=slug,
        topic="sleep",
        source="test",
        last_reviewed=date(2024, 1, 1),
        embedding=np.asarray(vector, dtype=np.float32) if vector is not None else None,
        lexical=lexical,
    )


def test_a_matching_question_lifts_its_document_above_a_closer_passage():
    rows = [
        row("p1", "doc-a", 0.62),
        row("p2", "doc-b", 0.55),
        row("q2", "doc-b", 0.90, kind="question"),
        row("q1", "doc-a", 0.40, kind="question"),
    ]
    scored = score_documents(rows, SearchFilters(), SETTINGS)
    assert [doc.head.document_id for doc in scored] == ["doc-b", "doc-a"]


def test_documents_found_only_through_questions_are_dropped_until_a_passage_is_known():
    rows = [row("q1", "doc-a", 0.9, kind="question"), row("p2", "doc-b", 0.5)]
    scored = score_documents(rows, SearchFilters(), SETTINGS)
    assert [doc.head.document_id for doc in scored] == ["doc-b"]


def test_sport_and_language_boosts_break_near_ties():
    rows = [
        row("p1", "generic", 0.600),
        row("p2", "tennis-it", 0.580, sport="tennis", language="it"),
    ]
    filters = SearchFilters(sport="tennis", language="it")
    scored = score_documents(rows, filters, SETTINGS)
    assert scored[0].head.document_id == "tennis-it"
    boost = SETTINGS.sport_boost + SETTINGS.language_boost
    assert abs(scored[0].score - (0.580 + boost) * SETTINGS.passage_weight) < 0.2


def test_one_version_per_family_in_the_users_language_with_the_best_evidence():
    scored = score_documents(
        [
            row("en1", "breathing-en", 0.80, language="en"),
            row("it1", "breathing-it", 0.60, language="it"),
            row("x1", "sleep-en", 0.70, language="en"),
        ],
        SearchFilters(language="it"),
        SETTINGS,
    )
    details = {
        "en1": detail("breathing"),
        "it1": detail("breathing"),
        "x1": detail("sleep"),
    }
    ranked = rank_families(scored, details, SearchFilters(language="it"), SETTINGS)
    heads = [doc.head.chunk_id for doc in ranked]
    assert heads == ["it1", "x1"]  # the Italian version, ranked by the English one's score
    english_score = next(doc.score for doc in scored if doc.head.chunk_id == "en1")
    assert ranked[0].score == english_score


def test_full_text_rank_is_fused_as_evidence_and_orders_otherwise_equal_documents():
    scored = score_documents(
        [row("a", "doc-a", 0.5), row("b", "doc-b", 0.5)], SearchFilters(), SETTINGS
    )
    details = {"a": detail("a"), "b": detail("b", lexical=0.3)}
    ranked = rank_families(scored, details, SearchFilters(), SETTINGS)
    assert ranked[0].head.chunk_id == "b"
    bonus = SETTINGS.lexical_weight / (SETTINGS.rrf_k + 1)
    assert ranked[0].score - ranked[1].score == pytest.approx(bonus)


def test_mmr_prefers_a_different_document_to_a_near_duplicate():
    scored = score_documents(
        [row("a", "doc-a", 0.70), row("a2", "doc-a2", 0.69), row("b", "doc-b", 0.60)],
        SearchFilters(),
        SETTINGS,
    )
    same, other = [1.0, 0.0], [0.0, 1.0]
    details = {
        "a": detail("a", vector=same),
        "a2": detail("a2", vector=same),
        "b": detail("b", vector=other),
    }
    ranked = rank_families(scored, details, SearchFilters(), SETTINGS)
    chosen = select_passages(ranked, details, SETTINGS, top_k=2)
    assert [passage.chunk_id for _, passage in chosen] == ["a", "b"]


def test_second_passages_fill_the_result_when_documents_run_out():
    scored = score_documents(
        [row("a1", "doc-a", 0.70), row("a2", "doc-a", 0.65), row("a3", "doc-a", 0.60)],
        SearchFilters(),
        SETTINGS,
    )
    details = {"a1": detail("a", vector=[1.0, 0.0])}
    ranked = rank_families(scored, details, SearchFilters(), SETTINGS)
    chosen = select_passages(ranked, details, SETTINGS, top_k=3)
    # at most max_chunks_per_document passages of one document
    assert [passage.chunk_id for _, passage in chosen] == ["a1", "a2"]
