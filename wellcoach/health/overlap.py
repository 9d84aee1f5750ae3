"""Samples of one quantity from several devices, counted once.

An iPhone in a pocket and an Apple Watch on the wrist both count the steps of the same
walk; a watch and a running app both record the same run. Like the Health app, we keep
one source for each moment: for every stretch of time, the highest-priority source that
has a sample there wins, and a lower-priority sample counts only for the part of its
interval no better source covers (its value pro-rated by that part).

Priority, highest first:

1. a wearable (watch, band, ring): worn all day, including when the phone sits in a
   bag or a locker, and it measures the body rather than the pocket;
2. a phone;
3. any other app or device;
4. manual entries, which fill gaps (a walk without the phone) but never add to what a
   device measured at the same time.

Samples of the same rank do not cover each other: one device does not overlap itself,
and two sources of the same rank are rare enough that a double count beats a guess.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

from wellcoach.health.samples import Sample
from wellcoach.models.enums import HealthSource

WEARABLE_HINTS = ("watch", "band", "ring", "whoop", "garmin", "fitbit", "polar", "wear", "oura")
PHONE_HINTS = ("phone", "pixel", "galaxy", "android", "pocket")


def rank(sample: Sample) -> int:
    """0 for a wearable, 1 a phone, 2 another app or device, 3 a manual entry."""
    if sample.source == HealthSource.manual:
        return 3
    device = (sample.device or "").lower()
    if any(hint in device for hint in WEARABLE_HINTS):
        return 0
    if any(hint in device for hint in PHONE_HINTS):
        return 1
    return 2


class _Covered:
    """Disjoint, sorted time intervals (epoch seconds) that better sources cover."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    def overlap(self, start: float, end: float) -> float:
        """How much of [start, end) is covered."""
        total = 0.0
        index = max(0, bisect_right(self.starts, start) - 1)
        while index < len(self.starts) and self.starts[index] < end:
            total += max(0.0, min(end, self.ends[index]) - max(start, self.starts[index]))
            index += 1
        return total

    def contains(self, moment: float) -> bool:
        index = bisect_right(self.starts, moment) - 1
        return index >= 0 and moment < self.ends[index]

    def add(self, intervals: Iterable[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for start, end in sorted([*zip(self.starts, self.ends, strict=True), *intervals]):
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]


def deduplicated(samples: Iterable[Sample]) -> Iterator[tuple[Sample, float]]:
    """Each sample with the value it contributes once overlaps are resolved (0 when a
    better source covers it entirely). Instant samples count unless a better source
    covers their moment."""
    by_rank: dict[int, list[Sample]] = {}
    for sample in samples:
        by_rank.setdefault(rank(sample), []).append(sample)
    covered = _Covered()
    for level in sorted(by_rank):
        spans = []
        for sample in by_rank[level]:
            start, end = sample.start.timestamp(), sample.end.timestamp()
            if end <= start:
                yield sample, 0.0 if covered.contains(start) else sample.value
                continue
            free = 1.0 - covered.overlap(start, end) / (end - start)
            yield sample, sample.value * max(0.0, free)
            spans.append((start, end))
        covered.add(spans)
