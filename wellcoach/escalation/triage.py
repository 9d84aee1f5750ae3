"""Triage: a deterministic priority from 0 to 100 (higher is served first), with the
rules that produced it, so a coach can see why a case sits where it does.

The rules, added up and clamped to 0-100:

| signal | points |
|---|---|
| urgency: critical / high / medium / low | 60 / 40 / 20 / 5 |
| reason: emergency_support | +20 |
| reason: needs_human_support | +10 |
| reason: feedback_complaint | +5 (technical_issue, general_inquiry: 0) |
| a crisis flag (a crisis turn opened or joined the case) | +20 |
| recent mood (1-10, mean of the last scores) ≤ 3 / ≤ 5 | +15 / +5 |
| recent stress (1-10, highest of the last scores) ≥ 8 / ≥ 6 | +10 / +5 |
| health alerts | +5 each, at most +15 |

So a crisis is at least 80 whatever else is known (60 + 20), a critical request from a
user in low mood reaches 95+, and a low-urgency general question with nothing else
stays at 5. Equal priorities are ordered by the SLA deadline in the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wellcoach.models.enums import EscalationReason, Urgency

URGENCY_POINTS = {Urgency.critical: 60, Urgency.high: 40, Urgency.medium: 20, Urgency.low: 5}
REASON_POINTS = {
    EscalationReason.emergency_support: 20,
    EscalationReason.needs_human_support: 10,
    EscalationReason.feedback_complaint: 5,
    EscalationReason.technical_issue: 0,
    EscalationReason.general_inquiry: 0,
}
CRISIS_POINTS = 20
LOW_MOOD, LOW_MOOD_POINTS = 3.0, 15
POOR_MOOD, POOR_MOOD_POINTS = 5.0, 5
HIGH_STRESS, HIGH_STRESS_POINTS = 8, 10
RAISED_STRESS, RAISED_STRESS_POINTS = 6, 5
HEALTH_ALERT_POINTS, HEALTH_ALERT_CAP = 5, 15
# how many of the latest mood entries count as "recent"
RECENT_SCORES = 5


@dataclass(frozen=True)
class Triage:
    priority: int
    # one line per rule that fired, e.g. "urgency critical +60"
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"priority": self.priority, "reasons": list(self.reasons)}


def assess(
    reason: EscalationReason,
    urgency: Urgency,
    *,
    crisis: bool = False,
    moods: Sequence[int] = (),
    stresses: Sequence[int] = (),
    health_alerts: int = 0,
) -> Triage:
    """The priority of a case. `moods` and `stresses` are the user's latest scores
    (1-10), newest first; only the first `RECENT_SCORES` count."""
    lines: list[str] = []

    def add(points: int, why: str) -> int:
        if points:
            lines.append(f"{why} +{points}")
        return points

    total = add(URGENCY_POINTS[urgency], f"urgency {urgency.value}")
    total += add(REASON_POINTS[reason], f"reason {reason.value}")
    if crisis:
        total += add(CRISIS_POINTS, "crisis flag")
    recent_moods = [m for m in moods[:RECENT_SCORES] if m > 0]
    if recent_moods:
        mean = sum(recent_moods) / len(recent_moods)
        if mean <= LOW_MOOD:
            total += add(LOW_MOOD_POINTS, f"low mood (mean {mean:.1f})")
        elif mean <= POOR_MOOD:
            total += add(POOR_MOOD_POINTS, f"poor mood (mean {mean:.1f})")
    recent_stress = [s for s in stresses[:RECENT_SCORES] if s > 0]
    if recent_stress:
        peak = max(recent_stress)
        if peak >= HIGH_STRESS:
            total += add(HIGH_STRESS_POINTS, f"high stress ({peak})")
        elif peak >= RAISED_STRESS:
            total += add(RAISED_STRESS_POINTS, f"raised stress ({peak})")
    if health_alerts > 0:
        total += add(
            min(HEALTH_ALERT_CAP, HEALTH_ALERT_POINTS * health_alerts),
            f"{health_alerts} health alert(s)",
        )
    return Triage(priority=max(0, min(100, total)), reasons=lines)
