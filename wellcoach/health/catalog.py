"""What the platform knows of each health metric: the names phones give it (HealthKit and
Health Connect identifiers), its canonical unit and the units converted to it, the values
a body can produce, and sleep stages. `normalize` turns one reading, as a phone or an
Apple export describes it, into a `Sample`, or says which field is wrong and why.

Canonical units: steps `count`, heart rates `count/min`, HRV `ms`, energy `kcal`, and
durations (sleep, workout, mindfulness) `min`, computed from start and end when the
reading carries no value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from wellcoach.health.samples import Sample
from wellcoach.models.enums import HealthMetricType, HealthSource

M = HealthMetricType

CANONICAL_UNITS: dict[HealthMetricType, str] = {
    M.steps: "count",
    M.heart_rate: "count/min",
    M.resting_heart_rate: "count/min",
    M.hrv: "ms",
    M.sleep: "min",
    M.workout: "min",
    M.active_energy: "kcal",
    M.mindfulness: "min",
}

# a duration metric's value is its length: a value may be sent, else start/end give it
DURATIONS = frozenset({M.sleep, M.workout, M.mindfulness})

# the values a body (or a day) can produce, in the canonical unit, per sample
RANGES: dict[HealthMetricType, tuple[float, float]] = {
    M.steps: (0, 100_000),
    M.heart_rate: (20, 250),
    M.resting_heart_rate: (20, 150),
    M.hrv: (1, 500),
    M.sleep: (0, 24 * 60),
    M.workout: (0, 24 * 60),
    M.active_energy: (0, 20_000),
    M.mindfulness: (0, 24 * 60),
}

MAX_SPAN = timedelta(hours=24)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=10)  # phone clocks drift

_HEALTHKIT = {
    "HKQuantityTypeIdentifierStepCount": M.steps,
    "HKQuantityTypeIdentifierHeartRate": M.heart_rate,
    "HKQuantityTypeIdentifierRestingHeartRate": M.resting_heart_rate,
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN": M.hrv,
    "HKCategoryTypeIdentifierSleepAnalysis": M.sleep,
    "HKWorkoutTypeIdentifier": M.workout,
    "HKQuantityTypeIdentifierActiveEnergyBurned": M.active_energy,
    "HKCategoryTypeIdentifierMindfulSession": M.mindfulness,
}
_HEALTH_CONNECT = {
    "StepsRecord": M.steps,
    "HeartRateRecord": M.heart_rate,
    "RestingHeartRateRecord": M.resting_heart_rate,
    "HeartRateVariabilityRmssdRecord": M.hrv,
    "SleepSessionRecord": M.sleep,
    "SleepStageRecord": M.sleep,
    "ExerciseSessionRecord": M.workout,
    "ActiveCaloriesBurnedRecord": M.active_energy,
    "MindfulnessSessionRecord": M.mindfulness,
}
# HealthKit measures HRV as SDNN, Health Connect as RMSSD: both kept, the method recorded
HRV_METHODS = {
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN": "sdnn",
    "HeartRateVariabilityRmssdRecord": "rmssd",
}

# unit (lowercased) -> (canonical unit, factor)
_UNITS: dict[str, tuple[str, float]] = {
    "count": ("count", 1),
    "steps": ("count", 1),
    "count/min": ("count/min", 1),
    "bpm": ("count/min", 1),
    "beats/min": ("count/min", 1),
    "/min": ("count/min", 1),
    "count/s": ("count/min", 60),
    "ms": ("ms", 1),
    "s": ("ms", 1000),
    "kcal": ("kcal", 1),
    "cal": ("kcal", 1),  # HealthKit's "Cal" is the food calorie, a kilocalorie
    "kj": ("kcal", 1 / 4.184),
    "j": ("kcal", 1 / 4184),
    "min": ("min", 1),
    "h": ("min", 60),
    "hr": ("min", 60),
}
# a duration in seconds is seconds, not HRV's milliseconds
_DURATION_UNITS: dict[str, float] = {"min": 1, "s": 1 / 60, "sec": 1 / 60, "h": 60, "hr": 60}

SLEEP_STAGES = ("in_bed", "asleep", "light", "deep", "rem", "awake", "out_of_bed")
ASLEEP_STAGES = frozenset({"asleep", "light", "deep", "rem"})
_STAGE_NAMES = {
    # HealthKit's HKCategoryValueSleepAnalysis…
    "inbed": "in_bed",
    "asleep": "asleep",
    "asleepunspecified": "asleep",
    "asleepcore": "light",
    "asleepdeep": "deep",
    "asleeprem": "rem",
    "awake": "awake",
    # Health Connect's SleepSessionRecord.STAGE_TYPE_…
    "stage_type_unknown": "asleep",
    "stage_type_awake": "awake",
    "stage_type_sleeping": "asleep",
    "stage_type_out_of_bed": "out_of_bed",
    "stage_type_light": "light",
    "stage_type_deep": "deep",
    "stage_type_rem": "rem",
    "stage_type_awake_in_bed": "awake",
    # our own names and common synonyms
    **{stage: stage for stage in SLEEP_STAGES},
    "core": "light",
    "unspecified": "asleep",
}
_HEALTH_CONNECT_STAGE_NUMBERS = {
    0: "asleep",
    1: "awake",
    2: "asleep",
    3: "out_of_bed",
    4: "light",
    5: "deep",
    6: "rem",
    7: "awake",
}


class InvalidSample(ValueError):
    """One reading that cannot be stored: which field, a stable code, and why."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


_NAMES: dict[str, tuple[HealthMetricType, str | None]] = {
    **{metric.value: (metric, None) for metric in M},
    **{name: (metric, HRV_METHODS.get(name)) for name, metric in _HEALTHKIT.items()},
    **{name: (metric, HRV_METHODS.get(name)) for name, metric in _HEALTH_CONNECT.items()},
}


def metric_of(name: str) -> tuple[HealthMetricType, str | None]:
    """The metric a name means (ours, HealthKit's or Health Connect's, with or without
    its Java package), and the HRV method it implies."""
    found = _NAMES.get(name)
    if found is not None:
        return found
    short = name.rsplit(".", 1)[-1]  # androidx.health.connect.client.records.StepsRecord
    if short in _HEALTH_CONNECT:
        return _NAMES[short]
    raise InvalidSample("type", "unknown_metric_type", f"unknown health metric type {name!r}")


def sleep_stage(raw: str | int | None) -> str:
    """A sleep stage in our names, from HealthKit's, Health Connect's (name or number) or
    ours; a sleep reading without a stage is time asleep."""
    if raw is None:
        return "asleep"
    if isinstance(raw, int):
        if raw in _HEALTH_CONNECT_STAGE_NUMBERS:
            return _HEALTH_CONNECT_STAGE_NUMBERS[raw]
        raise InvalidSample("stage", "unknown_sleep_stage", f"unknown sleep stage {raw}")
    key = raw.strip().lower().removeprefix("hkcategoryvaluesleepanalysis")
    if key in _STAGE_NAMES:
        return _STAGE_NAMES[key]
    raise InvalidSample("stage", "unknown_sleep_stage", f"unknown sleep stage {raw!r}")


@dataclass(frozen=True, slots=True)
class Reading:
    """A reading as received, before normalization."""

    type: str
    start: datetime
    end: datetime | None = None
    value: float | None = None
    unit: str | None = None
    source: HealthSource = HealthSource.manual
    device: str | None = None
    stage: str | int | None = None
    activity: str | None = None
    energy_kcal: float | None = None
    distance_m: float | None = None


def normalize(reading: Reading, now: datetime) -> Sample:
    """The reading as a `Sample` in canonical units, or `InvalidSample`."""
    metric, hrv_method = metric_of(reading.type)
    start, end = _times(reading.start, reading.end, now)
    unit = CANONICAL_UNITS[metric]
    value = _value(metric, reading, start, end)
    low, high = RANGES[metric]
    if not low <= value <= high:
        raise InvalidSample(
            "value",
            "out_of_range",
            f"{metric.value} must be between {low:g} and {high:g} {unit}, got {value:g}",
        )
    details: dict[str, Any] = {}
    stage = activity = None
    if metric == M.sleep:
        stage = sleep_stage(reading.stage)
    elif reading.stage is not None:
        raise InvalidSample("stage", "unexpected_field", "only sleep readings have a stage")
    if metric == M.hrv and hrv_method:
        details["method"] = hrv_method
    if metric == M.workout:
        activity = _activity(reading.activity)
        for name, extra, ceiling in (
            ("energy_kcal", reading.energy_kcal, 20_000),
            ("distance_m", reading.distance_m, 1_000_000),
        ):
            if extra is not None:
                if not 0 <= extra <= ceiling:
                    raise InvalidSample(
                        name, "out_of_range", f"{name} must be between 0 and {ceiling}"
                    )
                details[name] = round(extra, 3)
    return Sample(
        metric=metric,
        source=reading.source,
        start=start,
        end=end,
        value=round(value, 3),
        unit=unit,
        device=(reading.device or None) and reading.device[:100],
        stage=stage,
        activity=activity,
        details=details,
    )


def _times(start: datetime, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise InvalidSample("start", "naive_time", "times need a UTC offset (ISO 8601)")
    start = start.astimezone(UTC)
    end = start if end is None else end.astimezone(UTC)
    if end < start:
        raise InvalidSample("end", "end_before_start", "end is before start")
    if end - start > MAX_SPAN:
        raise InvalidSample("end", "span_too_long", "a reading spans at most 24 hours")
    if start < EARLIEST:
        raise InvalidSample("start", "too_old", "readings before 2000 are not accepted")
    if end > now + FUTURE_TOLERANCE:
        raise InvalidSample("end", "in_the_future", "the reading ends in the future")
    return start, end


def _value(metric: HealthMetricType, reading: Reading, start: datetime, end: datetime) -> float:
    if metric in DURATIONS:
        if reading.value is None:
            return (end - start).total_seconds() / 60
        factor = _DURATION_UNITS.get((reading.unit or "min").strip().lower())
        if factor is None:
            raise InvalidSample("unit", "unknown_unit", f"{reading.unit!r} is not a duration")
        return reading.value * factor
    if reading.value is None:
        raise InvalidSample("value", "missing_value", f"{metric.value} needs a value")
    if reading.value != reading.value:  # NaN
        raise InvalidSample("value", "not_a_number", "the value is not a number")
    canonical = CANONICAL_UNITS[metric]
    if reading.unit is None:
        return reading.value
    found = _UNITS.get(reading.unit.strip().lower())
    if found is None or found[0] != canonical:
        raise InvalidSample(
            "unit",
            "unknown_unit",
            f"{reading.unit!r} is not a unit of {metric.value} (expected {canonical})",
        )
    return reading.value * found[1]


def _activity(raw: str | None) -> str:
    """`HKWorkoutActivityTypeTraditionalStrengthTraining` → `traditional_strength_training`;
    Health Connect's `EXERCISE_TYPE_RUNNING` → `running`."""
    if not raw:
        return "other"
    name = raw.strip().removeprefix("HKWorkoutActivityType").removeprefix("EXERCISE_TYPE_")
    if name.isupper() or "_" in name:
        return name.lower()[:50]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return snake[:50] or "other"
