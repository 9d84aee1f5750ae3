"""The crisis check: categories, idioms, negation, normalisation, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from wellcoach.chat.safety import assess, explain, normalize

HOLDOUT = Path(__file__).parents[1] / "bench" / "data" / "crisis_holdout.jsonl"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I want to kill myself", "suicidal_ideation"),
        ("honestly i dont want to be alive anymore", "suicidal_ideation"),
        ("everyone would be better off without me", "suicidal_ideation"),
        ("voglio farla finita", "suicidal_ideation"),
        ("non ha più senso vivere", "suicidal_ideation"),
        ("my teammate said he wants to kill himself", "suicidal_ideation"),
        ("i cut myself again last night", "self_harm"),
        ("mi taglio per sentire qualcosa", "self_harm"),
        ("took all my sleeping pills", "overdose"),
        ("ho preso tutte le pastiglie", "overdose"),
        ("chest pain and I can't breathe after the sprint", "medical_emergency"),
        ("un compagno è svenuto e non si sveglia", "medical_emergency"),
        ("my coach hits me when we lose", "abuse"),
        ("l'allenatore mi picchia", "abuse"),
        ("im going to hurt him after practice", "harm_to_others"),
        ("porto un coltello domani", "harm_to_others"),
    ],
)
def test_crisis_categories(text, category):
    verdict = assess(text)
    assert verdict.crisis, text
    assert verdict.category == category
    assert 0.5 <= verdict.score <= 1.0
    assert category in explain(verdict) and text not in explain(verdict)


@pytest.mark.parametrize(
    "text",
    [
        "this drill is killing me",
        "we killed it today",
        "I'm dying to play saturday",
        "my legs are dead after that session",
        "suicide sprints again, coach is brutal",
        "shoot to kill on the break",
        "gonna kill them on saturday",
        "mi sta uccidendo questo allenamento",
        "sono morto dopo la gara",
        "muoio dalla voglia di giocare",
        "li abbiamo distrutti",
        "mi tocca allenarmi alle sei",
        "mi sono tagliato i capelli prima della finale",
        "I'm so nervous for tomorrow",
        "I would never hurt myself, don't worry",
        "how do I fix my free throw routine?",
    ],
)
def test_idioms_and_ordinary_messages_are_not_crises(text):
    verdict = assess(text)
    assert not verdict.crisis, (text, verdict)
    assert verdict.category is None


def test_an_idiom_never_hides_a_real_statement():
    verdict = assess("this drill is killing me and honestly I want to kill myself")
    assert verdict.crisis and verdict.category == "suicidal_ideation"


def test_normalisation_handles_caps_accents_apostrophes_and_stretching():
    assert normalize("NON HA PIÙ SENSO   vivere") == "non ha piu senso vivere"
    assert normalize("I don’t") == "i dont"
    assert assess("I DONT WANT TO LIVEEEEE ANYMORE").crisis
    assert assess("non voglio più vivere").crisis
    assert assess("").crisis is False


def test_cli_reads_stdin_and_text():
    runner = CliRunner()
    result = runner.invoke(app, ["safety", "assess"], input="we killed it\nvoglio morire\n\n")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {"crisis": False, "category": None, "score": 0.0},
        {"crisis": True, "category": "suicidal_ideation", "score": 0.95},
    ]
    one = runner.invoke(app, ["safety", "assess", "--text", "i took 20 pills", "--language", "en"])
    assert json.loads(one.stdout)["category"] == "overdose"


def test_held_out_set_recall_and_precision_do_not_regress():
    """A regression gate at the measured level on the held-out set (written blind to the
    detector; bench/crisis_bench.py prints the detail). The issue's targets, recall 0.95
    and precision 0.85, are not reached yet: see the closing note."""
    rows = [json.loads(line) for line in HOLDOUT.read_text().splitlines() if line.strip()]
    assert len(rows) >= 80
    guesses = [(row["crisis"], assess(row["text"], row["language"]).crisis) for row in rows]
    tp = sum(1 for truth, guess in guesses if truth and guess)
    fn = sum(1 for truth, guess in guesses if truth and not guess)
    fp = sum(1 for truth, guess in guesses if guess and not truth)
    assert tp / (tp + fn) >= 0.90
    assert tp / (tp + fp) >= 0.74
