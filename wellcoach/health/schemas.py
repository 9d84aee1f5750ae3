"""The Health Data Contract of SPEC.md as the API speaks it: HealthMetric batches in,
HealthSummary out, and the state of an Apple Health import."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wellcoach.models.enums import HealthImportStatus, HealthSource
from wellcoach.text import IsoDateTime, OneLine, Uuid

Name = Annotated[str, StringConstraints(min_length=1, max_length=120), OneLine]
Short = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=20), OneLine]
Stage = Annotated[str, StringConstraints(min_length=1, max_length=60), OneLine] | int


class SleepStageIn(BaseModel):
    """One stage of a sleep session (Health Connect's SleepSessionRecord.Stage)."""

    model_config = ConfigDict(extra="forbid")

    start: IsoDateTime
    end: IsoDateTime
    stage: Stage = Field(
        description="in_bed, asleep, light, deep, rem, awake, out_of_bed; or HealthKit's"
        " HKCategoryValueSleepAnalysis… / Health Connect's STAGE_TYPE_… name or number."
    )


class HealthMetricIn(BaseModel):
    """One reading, as HealthKit or Health Connect gives it."""

    model_config = ConfigDict(extra="forbid")

    type: Name = Field(
        description="steps, heart_rate, resting_heart_rate, hrv, sleep, workout,"
        " active_energy, mindfulness; or the native identifier"
        " (HKQuantityTypeIdentifierStepCount, HKCategoryTypeIdentifierSleepAnalysis,"
        " HKWorkoutTypeIdentifier, StepsRecord, SleepSessionRecord, ...)."
    )
    value: float | None = Field(
        None,
        description="In `unit`. Optional for durations (sleep, workout, mindfulness):"
        " then end − start.",
    )
    unit: Unit | None = Field(
        None,
        description="Converted to the canonical unit: count, count/min (bpm), ms (or s),"
        " kcal (Cal, kJ), min (s, h). Absent: the canonical unit.",
    )
    timestamp: IsoDateTime | None = Field(
        None, description="The moment of an instant reading (SPEC's contract); or use start."
    )
    start: IsoDateTime | None = None
    end: IsoDateTime | None = Field(None, description="Absent: an instant reading.")
    source: HealthSource
    device: Short | None = None
    user_id: Uuid | None = Field(None, description="If given, must be yours.")
    stage: Stage | None = Field(None, description="Sleep only: the stage of this interval.")
    stages: list[SleepStageIn] | None = Field(
        None, max_length=500, description="Sleep only: a session's stages, stored one by one."
    )
    activity: Short | None = Field(
        None, description="Workout only: HKWorkoutActivityType… or EXERCISE_TYPE_… or a name."
    )
    energy_kcal: float | None = Field(None, description="Workout only.")
    distance_m: float | None = Field(None, description="Workout only.")


class HealthSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[HealthMetricIn] = Field(min_length=1, max_length=10_000)


class HealthSyncOut(BaseModel):
    received: int = Field(description="Samples in the request (sleep stages one by one).")
    stored: int | None = Field(description="New samples; null when the store cannot tell.")
    duplicates: int | None = Field(description="Samples already stored, left as they were.")


class StressIndicatorsOut(BaseModel):
    hrv: float | None = Field(description="Mean HRV, ms.")
    resting_hr: float | None = Field(description="Mean resting heart rate, bpm.")
    sleep_disruptions: int | None = Field(description="Awakenings during the night.")


class DaySummaryOut(BaseModel):
    date: str = Field(description="YYYY-MM-DD in the user's time zone.")
    daily_steps: int | None
    avg_heart_rate: float | None
    sleep_score: int | None = Field(description="0-100, of the night that ended this day.")
    workout_minutes: float | None
    stress_indicators: StressIndicatorsOut
    sleep_minutes: float | None
    active_energy_kcal: float | None
    mindfulness_minutes: float | None


class WindowOut(BaseModel):
    start: str
    end: str
    days: int
    days_with_data: int
    total_steps: int | None
    daily_steps: int | None = Field(description="Average over the days with steps.")
    avg_heart_rate: float | None
    sleep_score: int | None = Field(description="Average over the nights recorded.")
    workout_minutes: float | None = Field(description="Total over the window.")
    stress_indicators: StressIndicatorsOut


class HealthAlertOut(BaseModel):
    code: Literal["resting_hr_elevated", "hrv_low", "short_sleep_streak"]
    severity: Literal["info", "warning"]
    message: str
    since: str
    value: float
    baseline: float | None


class HealthSummaryOut(BaseModel):
    timezone: str
    generated_at: datetime
    days: list[DaySummaryOut]
    window: WindowOut
    alerts: list[HealthAlertOut]


class HealthImportOut(BaseModel):
    id: uuid.UUID
    status: HealthImportStatus
    progress: float = Field(description="0 to 1, by bytes of the export read.")
    size_bytes: int
    records_seen: int
    samples_stored: int
    duplicates: int
    skipped: int = Field(description="Records of types the coach does not use.")
    rejected: int = Field(description="Records out of range or with impossible times.")
    error_code: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
