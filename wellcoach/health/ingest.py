"""A sync batch, checked whole: every reading becomes canonical samples, or the batch is
refused with each offending reading's index, field and reason, and nothing is stored
(an app drops or fixes those readings and sends the batch again)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from wellcoach.errors import WellcoachError
from wellcoach.health.catalog import InvalidSample, Reading, metric_of, normalize
from wellcoach.health.samples import Sample
from wellcoach.health.schemas import HealthMetricIn
from wellcoach.models.enums import HealthMetricType

MAX_LISTED = 100


class InvalidHealthMetrics(WellcoachError):
    """Some metrics of the batch are not valid; nothing was stored."""

    code = "invalid_health_metrics"
    kind = "invalid"


def samples_from(
    metrics: Sequence[HealthMetricIn], user_id: uuid.UUID, now: datetime
) -> list[Sample]:
    samples: list[Sample] = []
    problems: list[dict[str, Any]] = []
    for index, metric in enumerate(metrics):
        try:
            samples.extend(_samples_of(metric, user_id, now))
        except InvalidSample as exc:
            problems.append(
                {"index": index, "field": exc.field, "code": exc.code, "message": exc.message}
            )
    if problems:
        raise InvalidHealthMetrics(
            f"{len(problems)} of {len(metrics)} metrics are not valid; nothing was stored.",
            details={"invalid": len(problems), "errors": problems[:MAX_LISTED]},
        )
    return samples


def _samples_of(metric: HealthMetricIn, user_id: uuid.UUID, now: datetime) -> Iterator[Sample]:
    if metric.user_id is not None and metric.user_id != user_id:
        raise InvalidSample("user_id", "not_yours", "user_id is not the signed-in user's id")
    if metric.stages:
        if metric_of(metric.type)[0] != HealthMetricType.sleep:
            raise InvalidSample("stages", "unexpected_field", "only sleep sessions have stages")
        for position, stage in enumerate(metric.stages):
            try:
                yield normalize(
                    Reading(
                        type=metric.type,
                        start=stage.start,
                        end=stage.end,
                        source=metric.source,
                        device=metric.device,
                        stage=stage.stage,
                    ),
                    now,
                )
            except InvalidSample as exc:
                raise InvalidSample(
                    f"stages[{position}].{exc.field}", exc.code, exc.message
                ) from exc
        return
    start = metric.start or metric.timestamp
    if start is None:
        raise InvalidSample("start", "missing_time", "give the reading's timestamp or start")
    yield normalize(
        Reading(
            type=metric.type,
            start=start,
            end=metric.end,
            value=metric.value,
            unit=metric.unit,
            source=metric.source,
            device=metric.device,
            stage=metric.stage,
            activity=metric.activity,
            energy_kcal=metric.energy_kcal,
            distance_m=metric.distance_m,
        ),
        now,
    )
