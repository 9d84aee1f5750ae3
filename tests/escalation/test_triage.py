"""Every triage rule, one at a time, and the clamping of the total."""

from __future__ import annotations

import pytest

from wellcoach.escalation.triage import assess
from wellcoach.models.enums import EscalationReason as R
from wellcoach.models.enums import Urgency as U


@pytest.mark.parametrize(
    ("urgency", "points"), [(U.critical, 60), (U.high, 40), (U.medium, 20), (U.low, 5)]
)
def test_urgency_sets_the_base(urgency: U, points: int) -> None:
    result = assess(R.general_inquiry, urgency)
    assert result.priority == points
    assert result.reasons == [f"urgency {urgency.value} +{points}"]


@pytest.mark.parametrize(
    ("reason", "points"),
    [
        (R.emergency_support, 20),
        (R.needs_human_support, 10),
        (R.feedback_complaint, 5),
        (R.technical_issue, 0),
        (R.general_inquiry, 0),
    ],
)
def test_reason_adds_its_points(reason: R, points: int) -> None:
    assert assess(reason, U.low).priority == 5 + points


def test_a_crisis_flag_adds_twenty() -> None:
    assert assess(R.general_inquiry, U.low, crisis=True).priority == 25
    assert "crisis flag +20" in assess(R.general_inquiry, U.low, crisis=True).reasons


def test_low_mood_raises_more_than_poor_mood_and_good_mood_nothing() -> None:
    base = assess(R.general_inquiry, U.low).priority
    assert assess(R.general_inquiry, U.low, moods=[2, 3, 4]).priority == base + 15  # mean 3
    assert assess(R.general_inquiry, U.low, moods=[5, 5]).priority == base + 5
    assert assess(R.general_inquiry, U.low, moods=[8, 7]).priority == base
    # only the five latest scores count: the old low ones are ignored
    assert assess(R.general_inquiry, U.low, moods=[9, 9, 9, 9, 9, 1, 1, 1]).priority == base


def test_stress_counts_its_peak() -> None:
    base = assess(R.general_inquiry, U.low).priority
    assert assess(R.general_inquiry, U.low, stresses=[3, 9]).priority == base + 10
    assert assess(R.general_inquiry, U.low, stresses=[6, 2]).priority == base + 5
    assert assess(R.general_inquiry, U.low, stresses=[5]).priority == base


def test_health_alerts_add_five_each_up_to_fifteen() -> None:
    base = assess(R.general_inquiry, U.low).priority
    assert assess(R.general_inquiry, U.low, health_alerts=1).priority == base + 5
    assert assess(R.general_inquiry, U.low, health_alerts=2).priority == base + 10
    assert assess(R.general_inquiry, U.low, health_alerts=7).priority == base + 15
    assert assess(R.general_inquiry, U.low, health_alerts=0).priority == base


def test_the_total_is_clamped_to_one_hundred_and_deterministic() -> None:
    worst = dict(crisis=True, moods=[1, 1], stresses=[10], health_alerts=3)
    result = assess(R.emergency_support, U.critical, **worst)
    assert result.priority == 100  # 60+20+20+15+10+15 = 140
    assert result == assess(R.emergency_support, U.critical, **worst)
    assert len(result.reasons) == 6


def test_a_crisis_always_outranks_a_non_crisis_high_request() -> None:
    crisis = assess(R.emergency_support, U.critical, crisis=True)
    high = assess(R.needs_human_support, U.high, moods=[1], stresses=[10], health_alerts=3)
    assert crisis.priority > high.priority
