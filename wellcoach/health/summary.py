"""The HealthSummary of SPEC.md, per day (the user's days) and over a window, with the
alerts the coach and the escalation triage use.

Per day: steps (devices counted once, `overlap`), average heart rate, the night's sleep
score (`sleep`), workout minutes (overlapping recordings of one workout counted once),
and the stress indicators: HRV and resting heart rate (the day's means) and sleep
disruptions (the night's awakenings). A day without data has nulls, not zeros: "no
steps recorded" is not "no steps taken". A sample that spans midnight is shared between
the two days in proportion to its time in each.

Alerts compare the last three days with the user's own 28-day baseline before them (the
median of the daily values, from at least seven days):

- `resting_hr_elevated`: resting heart rate at least 10 % above baseline;
- `hrv_low`: HRV at least 25 % below baseline;
- `short_sleep_streak`: under six hours asleep for three or more nights running, up to
  last night.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wellcoach.health.overlap import deduplicated
from wellcoach.health.samples import Sample
from wellcoach.health.sleep import Night, nights
from wellcoach.models.enums import HealthMetricType as M

BASELINE_DAYS = 28
RECENT_DAYS = 3
MIN_BASELINE_DAYS = 7
RESTING_HR_RISE = 0.10
HRV_DROP = 0.25
SHORT_SLEEP_MINUTES = 6 * 60
SHORT_SLEEP_STREAK = 3

# what the alerts read: a baseline of these reaches 31 days back whatever the window
BASELINE_METRICS = (M.resting_heart_rate, M.hrv, M.sleep)
WINDOW_METRICS = (M.steps, M.heart_rate, M.workout, M.active_energy, M.mindfulness)


@dataclass
class Day:
    day: date
    steps: float | None = None
    heart_rates: list[float] = field(default_factory=list)
    resting: list[float] = field(default_factory=list)
    hrv: list[float] = field(default_factory=list)
    workout_minutes: float | None = None
    active_energy: float | None = None
    mindfulness_minutes: float | None = None
    night: Night | None = None

    def add(self, name: str, amount: float) -> None:
        setattr(self, name, (getattr(self, name) or 0.0) + amount)

    def as_json(self) -> dict[str, Any]:
        night = self.night
        return {
            "date": self.day.isoformat(),
            "daily_steps": None if self.steps is None else round(self.steps),
            "avg_heart_rate": _mean(self.heart_rates, 1),
            "sleep_score": night.score if night else None,
            "workout_minutes": _round(self.workout_minutes),
            "stress_indicators": {
                "hrv": _mean(self.hrv, 1),
                "resting_hr": _mean(self.resting, 1),
                "sleep_disruptions": night.awakenings if night else None,
            },
            "sleep_minutes": night.asleep_minutes if night else None,
            "active_energy_kcal": _round(self.active_energy),
            "mindfulness_minutes": _round(self.mindfulness_minutes),
        }


def _mean(values: list[float], digits: int) -> float | None:
    return round(statistics.fmean(values), digits) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _spread(sample: Sample, amount: float, tz: ZoneInfo, days: dict[date, Day], name: str) -> None:
    """Add `amount` to the days `sample` covers, in proportion to its time in each."""
    start, end = sample.start.astimezone(tz), sample.end.astimezone(tz)
    if start.date() == end.date() or end <= start:
        if start.date() in days:
            days[start.date()].add(name, amount)
        return
    total = (end - start).total_seconds()
    cursor = start
    while cursor < end:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), tz)
        piece_end = min(end, midnight)
        if cursor.date() in days:
            days[cursor.date()].add(name, amount * (piece_end - cursor).total_seconds() / total)
        cursor = piece_end


def daily(samples: Iterable[Sample], tz: ZoneInfo, first: date, last: date) -> list[Day]:
    """One `Day` per day from `first` to `last`, in the user's time zone."""
    days = {
        first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(_span(first, last))
    }
    by_metric: dict[M, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_metric[sample.metric].append(sample)
    for metric, name in (
        (M.steps, "steps"),
        (M.active_energy, "active_energy"),
        (M.workout, "workout_minutes"),
        (M.mindfulness, "mindfulness_minutes"),
    ):
        for sample, amount in deduplicated(by_metric[metric]):
            _spread(sample, amount, tz, days, name)
    for metric, name in (
        (M.heart_rate, "heart_rates"),
        (M.resting_heart_rate, "resting"),
        (M.hrv, "hrv"),
    ):
        for sample in by_metric[metric]:
            day = days.get(sample.start.astimezone(tz).date())
            if day is not None:
                getattr(day, name).append(sample.value)
    for night in nights(by_metric[M.sleep], tz):
        day = days.get(night.day)
        if day is not None:
            # two sleeps ending the same day (a nap): the longer one is the night
            if day.night is None or night.asleep_minutes > day.night.asleep_minutes:
                day.night = night
    return [days[key] for key in sorted(days)]


def _span(first: date, last: date) -> int:
    return (last - first).days + 1


def window(days: list[Day]) -> dict[str, Any]:
    """The window's figures: averages over the days that have data, workout minutes and
    sleep disruptions in total."""
    steps = [d.steps for d in days if d.steps is not None]
    heart = [rate for d in days for rate in d.heart_rates]
    scores = [d.night.score for d in days if d.night]
    workouts = [d.workout_minutes for d in days if d.workout_minutes is not None]
    hrv = [value for d in days for value in d.hrv]
    resting = [value for d in days for value in d.resting]
    disruptions = [d.night.awakenings for d in days if d.night]
    return {
        "start": days[0].day.isoformat(),
        "end": days[-1].day.isoformat(),
        "days": len(days),
        "days_with_data": sum(1 for d in days if _has_data(d)),
        "total_steps": round(sum(steps)) if steps else None,
        "daily_steps": round(statistics.fmean(steps)) if steps else None,
        "avg_heart_rate": _mean(heart, 1),
        "sleep_score": round(statistics.fmean(scores)) if scores else None,
        "workout_minutes": round(sum(workouts), 1) if workouts else None,
        "stress_indicators": {
            "hrv": _mean(hrv, 1),
            "resting_hr": _mean(resting, 1),
            "sleep_disruptions": sum(disruptions) if disruptions else None,
        },
    }


def _has_data(day: Day) -> bool:
    return bool(
        day.steps is not None
        or day.heart_rates
        or day.resting
        or day.hrv
        or day.night
        or day.workout_minutes is not None
    )


@dataclass(frozen=True)
class Alert:
    code: str
    severity: str
    message: str
    since: date
    value: float
    baseline: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "since": self.since.isoformat(),
            "value": self.value,
            "baseline": self.baseline,
        }


def alerts(days: list[Day]) -> list[Alert]:
    """The alerts as of the last day of `days` (which must reach back 31 days)."""
    recent, before = days[-RECENT_DAYS:], days[-RECENT_DAYS - BASELINE_DAYS : -RECENT_DAYS]
    found: list[Alert] = []
    rise = _versus_baseline(recent, before, "resting")
    if rise and rise[0] >= rise[1] * (1 + RESTING_HR_RISE):
        value, baseline = rise
        found.append(
            Alert(
                "resting_hr_elevated",
                "warning",
                f"Resting heart rate {value:.0f} bpm over the last {RECENT_DAYS} days,"
                f" {100 * (value / baseline - 1):.0f}% above the 28-day baseline of"
                f" {baseline:.0f} bpm.",
                recent[0].day,
                round(value, 1),
                round(baseline, 1),
            )
        )
    drop = _versus_baseline(recent, before, "hrv")
    if drop and drop[0] <= drop[1] * (1 - HRV_DROP):
        value, baseline = drop
        found.append(
            Alert(
                "hrv_low",
                "warning",
                f"HRV {value:.0f} ms over the last {RECENT_DAYS} days,"
                f" {100 * (1 - value / baseline):.0f}% below the 28-day baseline of"
                f" {baseline:.0f} ms.",
                recent[0].day,
                round(value, 1),
                round(baseline, 1),
            )
        )
    streak: list[Day] = []
    for day in reversed(days):
        if day.night is None or day.night.asleep_minutes >= SHORT_SLEEP_MINUTES:
            break
        streak.append(day)
    if len(streak) >= SHORT_SLEEP_STREAK:
        last_night = streak[0].night
        assert last_night is not None
        hours, minutes = divmod(round(last_night.asleep_minutes), 60)
        found.append(
            Alert(
                "short_sleep_streak",
                "warning",
                f"Under 6 h of sleep for {len(streak)} nights running"
                f" (last night {hours} h {minutes:02d} min).",
                streak[-1].day,
                len(streak),
            )
        )
    return found


def _versus_baseline(recent: list[Day], before: list[Day], name: str) -> tuple[float, float] | None:
    """(recent mean, baseline median) of a daily series, when both have enough data."""
    now = [statistics.fmean(getattr(d, name)) for d in recent if getattr(d, name)]
    then = [statistics.fmean(getattr(d, name)) for d in before if getattr(d, name)]
    if len(now) < 2 or len(then) < MIN_BASELINE_DAYS:
        return None
    return statistics.fmean(now), statistics.median(then)
