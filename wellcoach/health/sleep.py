"""Nights of sleep from sleep-stage samples, and the sleep score.

A night is a run of sleep samples with no gap of two hours or more; it belongs to the
day its last sample ends on, in the user's time zone (last night's sleep is today's).
Several sources may describe the same night (the watch's stages and the phone's time in
bed), so stages are merged as time intervals, never summed.

- asleep: the union of the asleep stages (asleep, light, deep, rem); a night that has
  only time in bed (a phone alone) counts its time in bed, minus time awake, as asleep.
- time in bed: from the night's first sample to its last.
- efficiency: asleep / time in bed.
- awakenings: awake stretches of a minute or more between the first and the last
  asleep moment; without awake samples, gaps of five minutes or more between asleep
  stretches.

Sleep score, 0-100 = duration (50) + efficiency (30) + continuity (20):

- duration: 50 × min(asleep, 8 h) / 8 h;
- efficiency: 30 × (efficiency − 65 %) / (95 % − 65 %), clipped to [0, 30]; a night
  with no stages (time in bed only) gets 21, the points of 85 %;
- continuity: 20 × (1 − awakenings / 5), clipped to [0, 20].

Seven hours asleep at 90 % efficiency with two awakenings scores 81; five hours at
80 % with five awakenings scores 46.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from wellcoach.health.catalog import ASLEEP_STAGES
from wellcoach.health.samples import Sample

NIGHT_GAP = timedelta(hours=2)
TARGET_MINUTES = 8 * 60
UNKNOWN_EFFICIENCY = 0.85


@dataclass(frozen=True)
class Night:
    day: date  # the day the night ends on, in the user's time zone
    asleep_minutes: float
    in_bed_minutes: float
    awakenings: int
    staged: bool  # the night has sleep stages, not only time in bed

    @property
    def efficiency(self) -> float | None:
        if not self.staged or self.in_bed_minutes <= 0:
            return None
        return min(1.0, self.asleep_minutes / self.in_bed_minutes)

    @property
    def score(self) -> int:
        duration = 50 * min(self.asleep_minutes, TARGET_MINUTES) / TARGET_MINUTES
        efficiency = self.efficiency
        efficiency = UNKNOWN_EFFICIENCY if efficiency is None else efficiency
        quality = 30 * min(1.0, max(0.0, (efficiency - 0.65) / 0.30))
        continuity = 20 * min(1.0, max(0.0, 1 - self.awakenings / 5))
        return round(duration + quality + continuity)


def _union(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _minutes(intervals: list[tuple[datetime, datetime]]) -> float:
    return sum((end - start).total_seconds() for start, end in intervals) / 60


def nights(samples: Iterable[Sample], tz: ZoneInfo) -> list[Night]:
    """The nights in `samples` (sleep samples, any order), oldest first."""
    ordered = sorted((s for s in samples if s.end > s.start), key=lambda s: s.start)
    groups: list[list[Sample]] = []
    last_end: datetime | None = None
    for sample in ordered:
        if last_end is None or sample.start - last_end >= NIGHT_GAP:
            groups.append([])
        groups[-1].append(sample)
        last_end = sample.end if last_end is None else max(last_end, sample.end)
    return [_night(group, tz) for group in groups]


def _night(group: list[Sample], tz: ZoneInfo) -> Night:
    first = min(s.start for s in group)
    last = max(s.end for s in group)
    asleep = _union((s.start, s.end) for s in group if s.stage in ASLEEP_STAGES)
    awake = _union((s.start, s.end) for s in group if s.stage == "awake")
    staged = bool(asleep)
    if staged:
        asleep_minutes = _minutes(asleep)
        inside = [
            (start, end)
            for start, end in awake
            if start >= asleep[0][0]
            and end <= asleep[-1][1]
            and end - start >= timedelta(minutes=1)
        ]
        if awake:
            awakenings = len(inside)
        else:
            awakenings = sum(
                1
                for (_, end), (start, _) in zip(asleep, asleep[1:], strict=False)
                if start - end >= timedelta(minutes=5)
            )
    else:
        in_bed = _union((s.start, s.end) for s in group if s.stage in ("in_bed", None))
        asleep_minutes = max(0.0, _minutes(in_bed) - _minutes(awake))
        awakenings = len([1 for start, end in awake if end - start >= timedelta(minutes=1)])
    return Night(
        day=last.astimezone(tz).date(),
        asleep_minutes=round(asleep_minutes, 1),
        in_bed_minutes=round((last - first).total_seconds() / 60, 1),
        awakenings=awakenings,
        staged=staged,
    )
