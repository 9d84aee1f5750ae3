"""A health sample as the core handles it: the metric, when, how much in the metric's
canonical unit, and where it came from. Stores never see the value in the clear: they
get a `SealedSample`, whose payload the user's data key sealed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wellcoach.models.enums import HealthMetricType, HealthSource


@dataclass(slots=True)
class Sample:
    """One measurement. `start` and `end` are aware UTC datetimes (equal for an instant
    reading such as a heart rate); `value` is in the metric's canonical unit
    (`wellcoach.health.catalog.CANONICAL_UNITS`)."""

    metric: HealthMetricType
    source: HealthSource
    start: datetime
    end: datetime
    value: float
    unit: str
    device: str | None = None
    stage: str | None = None  # sleep: in_bed, asleep, light, deep, rem, awake, out_of_bed
    activity: str | None = None  # workout: running, cycling, ...
    details: dict[str, Any] = field(default_factory=dict)  # e.g. workout energy_kcal

    @property
    def key(self) -> tuple[str, str, datetime, datetime]:
        """What makes a sample the same sample on a resync (with its user)."""
        return (self.metric.value, self.source.value, self.start, self.end)

    def payload(self) -> bytes:
        """The sealed part: the value and everything that describes it."""
        packed: dict[str, Any] = {"v": self.value}
        if self.device:
            packed["d"] = self.device
        if self.stage:
            packed["s"] = self.stage
        if self.activity:
            packed["a"] = self.activity
        if self.details:
            packed["x"] = self.details
        return json.dumps(packed, separators=(",", ":")).encode()

    @classmethod
    def from_payload(
        cls,
        raw: bytes,
        *,
        metric: HealthMetricType,
        source: HealthSource,
        start: datetime,
        end: datetime,
        unit: str,
    ) -> Sample:
        packed = json.loads(raw)
        return cls(
            metric=metric,
            source=source,
            start=start,
            end=end,
            value=float(packed["v"]),
            unit=unit,
            device=packed.get("d"),
            stage=packed.get("s"),
            activity=packed.get("a"),
            details=packed.get("x") or {},
        )


@dataclass(frozen=True, slots=True)
class SealedSample:
    """A sample as a store keeps it: the key in the clear (for idempotency and time
    range queries; the device only as a digest keyed by the user's data key), the rest
    sealed with the user's data key (purpose `health_metric`)."""

    metric: HealthMetricType
    source: HealthSource
    start: datetime
    end: datetime
    unit: str
    payload: bytes
    # a keyed digest of the device (empty: none): two devices measuring the same interval
    # are two samples, one device resending it is the same sample
    device_tag: bytes = b""
