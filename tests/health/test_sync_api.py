"""POST /v1/health/metrics through HTTP: every type under our names and the phones'
native identifiers, units normalized, validation errors with positions, idempotent
resync, consent and verification gating, the batch limit, and the health_sync policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.support.factories import bearer, create_user, login
from wellcoach.health.catalog import Reading, metric_of, normalize
from wellcoach.models import AuditLog, HealthMetric
from wellcoach.models.enums import HealthSource

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR_AGO = NOW - timedelta(hours=1)

HEALTH = {"data_processing": True, "health_data": True}


async def athlete(client, db_session, platform, *, consents=HEALTH, verified=True, **fields):
    user = await create_user(db_session, platform, consents=consents, verified=verified, **fields)
    return user, bearer(await login(client, user.email))


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


async def stored(db_session, user_id) -> list[HealthMetric]:
    return list(
        await db_session.scalars(
            select(HealthMetric)
            .where(HealthMetric.user_id == user_id)
            .order_by(HealthMetric.start_at)
        )
    )


# (type as sent, extra fields, the metric stored, the value in its canonical unit)
CASES = [
    ("steps", {"value": 420, "unit": "count", "start": at(30), "end": at(20)}, "steps", 420),
    (
        "HKQuantityTypeIdentifierStepCount",
        {"value": 12, "start": at(19), "end": at(18)},
        "steps",
        12,
    ),
    ("StepsRecord", {"value": 7, "unit": "steps", "start": at(17), "end": at(16)}, "steps", 7),
    ("heart_rate", {"value": 61, "unit": "bpm", "timestamp": at(15)}, "heart_rate", 61),
    (
        "HKQuantityTypeIdentifierHeartRate",
        {"value": 1.25, "unit": "count/s", "timestamp": at(14)},
        "heart_rate",
        75,
    ),
    (
        "androidx.health.connect.client.records.HeartRateRecord",
        {"value": 70, "unit": "beats/min", "timestamp": at(13)},
        "heart_rate",
        70,
    ),
    ("resting_heart_rate", {"value": 52, "timestamp": at(12)}, "resting_heart_rate", 52),
    (
        "HKQuantityTypeIdentifierRestingHeartRate",
        {"value": 50, "unit": "count/min", "timestamp": at(11)},
        "resting_heart_rate",
        50,
    ),
    ("RestingHeartRateRecord", {"value": 49, "timestamp": at(10)}, "resting_heart_rate", 49),
    ("hrv", {"value": 0.065, "unit": "s", "timestamp": at(9)}, "hrv", 65),
    (
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
        {"value": 48, "unit": "ms", "timestamp": at(8)},
        "hrv",
        48,
    ),
    ("HeartRateVariabilityRmssdRecord", {"value": 39, "unit": "ms", "timestamp": at(7)}, "hrv", 39),
    ("sleep", {"start": at(600), "end": at(540), "stage": "deep"}, "sleep", 60),
    (
        "HKCategoryTypeIdentifierSleepAnalysis",
        {"start": at(540), "end": at(530), "stage": "HKCategoryValueSleepAnalysisAsleepREM"},
        "sleep",
        10,
    ),
    (
        "SleepSessionRecord",
        {"value": 1.5, "unit": "h", "start": at(700), "end": at(610), "stage": "STAGE_TYPE_LIGHT"},
        "sleep",
        90,
    ),
    (
        "workout",
        {"value": 1800, "unit": "s", "start": at(200), "end": at(170), "activity": "running"},
        "workout",
        30,
    ),
    (
        "HKWorkoutTypeIdentifier",
        {
            "start": at(160),
            "end": at(115),
            "activity": "HKWorkoutActivityTypeTraditionalStrengthTraining",
            "energy_kcal": 310,
        },
        "workout",
        45,
    ),
    (
        "ExerciseSessionRecord",
        {"start": at(110), "end": at(100), "activity": "EXERCISE_TYPE_BIKING"},
        "workout",
        10,
    ),
    (
        "active_energy",
        {"value": 418.4, "unit": "kJ", "start": at(99), "end": at(98)},
        "active_energy",
        100,
    ),
    (
        "HKQuantityTypeIdentifierActiveEnergyBurned",
        {"value": 12.5, "unit": "Cal", "start": at(97), "end": at(96)},
        "active_energy",
        12.5,
    ),
    (
        "ActiveCaloriesBurnedRecord",
        {"value": 20000, "unit": "cal", "start": at(95), "end": at(94)},
        "active_energy",
        20000,
    ),
    ("mindfulness", {"start": at(90), "end": at(80)}, "mindfulness", 10),
    (
        "HKCategoryTypeIdentifierMindfulSession",
        {"value": 300, "unit": "s", "start": at(79), "end": at(74)},
        "mindfulness",
        5,
    ),
    ("MindfulnessSessionRecord", {"start": at(73), "end": at(70)}, "mindfulness", 3),
]


@pytest.mark.parametrize("sent, extra, metric, value", CASES, ids=[c[0] for c in CASES])
async def test_every_type_and_native_identifier_is_stored_in_its_canonical_unit(
    client, db_session, platform, sent, extra, metric, value
):
    user, headers = await athlete(client, db_session, platform)
    body = {"metrics": [{"type": sent, "source": "apple_health", **extra}]}
    response = await client.post("/v1/health/metrics", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "stored": 1, "duplicates": 0}

    [row] = await stored(db_session, user.id)
    assert row.metric_type.value == metric
    opened = await platform.vault.open_json(
        db_session, user.id, row.payload_encrypted, purpose="health_metric"
    )
    assert opened["v"] == pytest.approx(value, rel=1e-3)
    assert b'"v":' not in row.payload_encrypted  # sealed, not JSON in the clear


async def test_a_sync_keeps_details_and_the_canonical_unit(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    body = {
        "metrics": [
            {
                "type": "HKWorkoutTypeIdentifier",
                "source": "apple_health",
                "start": at(90),
                "end": at(30),
                "activity": "HKWorkoutActivityTypeRunning",
                "energy_kcal": 640,
                "distance_m": 10_200,
                "device": "Apple Watch",
            },
            {
                "type": "HeartRateVariabilityRmssdRecord",
                "source": "google_health",
                "value": 42,
                "timestamp": at(5),
            },
        ]
    }
    assert (await client.post("/v1/health/metrics", json=body, headers=headers)).status_code == 200
    workout, hrv = await stored(db_session, user.id)
    assert (workout.unit, hrv.unit) == ("min", "ms")
    assert (workout.source.value, hrv.source.value) == ("apple_health", "google_health")
    opened = await platform.vault.open_json(
        db_session, user.id, workout.payload_encrypted, purpose="health_metric"
    )
    assert opened == {
        "v": 60.0,
        "d": "Apple Watch",
        "a": "running",
        "x": {"energy_kcal": 640, "distance_m": 10200},
    }
    opened = await platform.vault.open_json(
        db_session, user.id, hrv.payload_encrypted, purpose="health_metric"
    )
    assert opened["x"] == {"method": "rmssd"}  # Health Connect's HRV is RMSSD, not SDNN


async def test_a_sleep_session_with_stages_is_stored_stage_by_stage(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    stages = [
        {"start": at(480), "end": at(400), "stage": "STAGE_TYPE_LIGHT"},
        {"start": at(400), "end": at(340), "stage": 5},  # Health Connect's number for deep
        {"start": at(340), "end": at(335), "stage": "awake"},
        {"start": at(335), "end": at(300), "stage": "rem"},
    ]
    body = {
        "metrics": [
            {"type": "SleepSessionRecord", "source": "google_health", "stages": stages},
        ]
    }
    response = await client.post("/v1/health/metrics", json=body, headers=headers)
    assert response.json() == {"received": 4, "stored": 4, "duplicates": 0}
    rows = await stored(db_session, user.id)
    opened = [
        await platform.vault.open_json(
            db_session, user.id, r.payload_encrypted, purpose="health_metric"
        )
        for r in rows
    ]
    assert [o["s"] for o in opened] == ["light", "deep", "awake", "rem"]
    assert [o["v"] for o in opened] == [80, 60, 5, 35]


async def test_a_resync_stores_nothing_twice(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    metrics = [
        {"type": "heart_rate", "source": "apple_health", "value": 60 + n, "timestamp": at(n)}
        for n in range(50)
    ]
    first = await client.post("/v1/health/metrics", json={"metrics": metrics}, headers=headers)
    assert first.json() == {"received": 50, "stored": 50, "duplicates": 0}
    # the app resends, with 10 new readings at the end
    more = metrics + [
        {"type": "heart_rate", "source": "apple_health", "value": 70, "timestamp": at(60 + n)}
        for n in range(10)
    ]
    again = await client.post("/v1/health/metrics", json={"metrics": more}, headers=headers)
    assert again.json() == {"received": 60, "stored": 10, "duplicates": 50}
    assert len(await stored(db_session, user.id)) == 60
    # the same moment from another source is another sample
    other = [{**metrics[0], "source": "manual"}]
    third = await client.post("/v1/health/metrics", json={"metrics": other}, headers=headers)
    assert third.json()["stored"] == 1


async def test_an_invalid_batch_is_refused_with_each_offending_index_and_nothing_stored(
    client, db_session, platform
):
    user, headers = await athlete(client, db_session, platform)
    good = {"type": "heart_rate", "source": "apple_health", "value": 65, "timestamp": at(1)}
    metrics = [
        good,
        {**good, "timestamp": at(2)},
        {**good, "timestamp": at(3)},
        {**good, "value": 900, "timestamp": at(4)},  # index 3
        {"type": "steps", "source": "apple_health", "value": 10, "start": at(5), "end": at(6)},
        {"type": "hrv", "source": "apple_health", "value": 50, "unit": "kg", "timestamp": at(7)},
        {
            "type": "HKQuantityTypeIdentifierBodyMass",
            "source": "apple_health",
            "value": 70,
            "timestamp": at(8),
        },
        {**good, "timestamp": (NOW + timedelta(days=2)).isoformat()},
        {
            "type": "sleep",
            "source": "apple_health",
            "start": at(9),
            "end": at(8),
            "stage": "dreaming",
        },
        {"type": "steps", "source": "apple_health", "start": at(10), "end": at(9)},
        {"type": "heart_rate", "source": "apple_health", "value": 60},
        {
            "type": "heart_rate",
            "source": "apple_health",
            "value": 60,
            "timestamp": at(1),
            "stage": "deep",
        },
    ]
    response = await client.post("/v1/health/metrics", json={"metrics": metrics}, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_health_metrics"
    found = {(e["index"], e["field"], e["code"]) for e in error["details"]["errors"]}
    assert found == {
        (3, "value", "out_of_range"),
        (4, "end", "end_before_start"),
        (5, "unit", "unknown_unit"),
        (6, "type", "unknown_metric_type"),
        (7, "end", "in_the_future"),
        (8, "stage", "unknown_sleep_stage"),
        (9, "value", "missing_value"),
        (10, "start", "missing_time"),
        (11, "stage", "unexpected_field"),
    }
    assert error["details"]["invalid"] == 9
    heart = next(e for e in error["details"]["errors"] if e["index"] == 3)
    assert "900" in heart["message"] and "250" in heart["message"]
    assert await stored(db_session, user.id) == []


async def test_schema_errors_name_the_position_too(client, db_session, platform):
    _, headers = await athlete(client, db_session, platform)
    metrics = [
        {"type": "heart_rate", "source": "apple_health", "value": 60, "timestamp": at(1)},
        {"type": "heart_rate", "source": "fitbit", "value": "fast", "timestamp": at(2)},
    ]
    response = await client.post("/v1/health/metrics", json={"metrics": metrics}, headers=headers)
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["error"]["details"]]
    assert ["body", "metrics", 1, "source"] in locs
    assert ["body", "metrics", 1, "value"] in locs


async def test_someone_elses_user_id_is_refused(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    other = await create_user(db_session, platform)
    metrics = [
        {
            "type": "steps",
            "source": "manual",
            "value": 10,
            "timestamp": at(1),
            "user_id": str(user.id),
        },
        {
            "type": "steps",
            "source": "manual",
            "value": 10,
            "timestamp": at(2),
            "user_id": str(other.id),
        },
    ]
    response = await client.post("/v1/health/metrics", json={"metrics": metrics}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"] == [
        {
            "index": 1,
            "field": "user_id",
            "code": "not_yours",
            "message": "user_id is not the signed-in user's id",
        }
    ]


async def test_without_health_consent_nothing_is_stored(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform, consents={"data_processing": True})
    body = {"metrics": [{"type": "steps", "source": "manual", "value": 1, "timestamp": at(1)}]}
    response = await client.post("/v1/health/metrics", json=body, headers=headers)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "consent_required" and error["details"] == {"consent": "health_data"}
    summary = await client.get("/v1/health/summary", headers=headers)
    assert summary.status_code == 403 and summary.json()["error"]["code"] == "consent_required"

    # consent given: accepted; withdrawn: refused again
    granted = await client.put("/v1/me/consents", json={"health_data": True}, headers=headers)
    assert granted.status_code == 200
    assert (await client.post("/v1/health/metrics", json=body, headers=headers)).status_code == 200
    await client.put("/v1/me/consents", json={"health_data": False}, headers=headers)
    assert (await client.post("/v1/health/metrics", json=body, headers=headers)).status_code == 403
    assert len(await stored(db_session, user.id)) == 1


async def test_an_unverified_email_cannot_sync(client, db_session, platform):
    _, headers = await athlete(client, db_session, platform, verified=False)
    body = {"metrics": [{"type": "steps", "source": "manual", "value": 1, "timestamp": at(1)}]}
    response = await client.post("/v1/health/metrics", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"


async def test_a_batch_holds_at_most_ten_thousand_metrics(client, db_session, platform):
    _, headers = await athlete(client, db_session, platform)
    one = {"type": "steps", "source": "manual", "value": 1, "timestamp": at(1)}
    response = await client.post(
        "/v1/health/metrics", json={"metrics": [one] * 10_001}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["type"] == "too_long"
    empty = await client.post("/v1/health/metrics", json={"metrics": []}, headers=headers)
    assert empty.status_code == 422


async def test_syncs_are_limited_to_ten_an_hour(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    try:
        for n in range(10):
            body = {
                "metrics": [{"type": "steps", "source": "manual", "value": 1, "timestamp": at(n)}]
            }
            response = await client.post("/v1/health/metrics", json=body, headers=headers)
            assert response.status_code == 200, response.text
        refused = await client.post("/v1/health/metrics", json=body, headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["policy"] == "health_sync"
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        await platform.gate.forget_identifier(str(user.id))


async def test_a_sync_is_audited_with_counts_only(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    body = {
        "metrics": [{"type": "heart_rate", "source": "manual", "value": 77, "timestamp": at(1)}]
    }
    await client.post("/v1/health/metrics", json=body, headers=headers)
    entry = await db_session.scalar(
        select(AuditLog).where(AuditLog.user_id == user.id, AuditLog.action == "health.synced")
    )
    assert entry is not None
    assert entry.details == {"received": 1, "stored": 1, "store": "postgresql", "source": "api"}
    assert "77" not in str(entry.details)


async def test_history_lands_in_its_own_monthly_partition(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    old = datetime(2021, 3, 14, 7, 0, tzinfo=UTC)
    body = {
        "metrics": [
            {
                "type": "resting_heart_rate",
                "source": "apple_health",
                "value": 51,
                "timestamp": old.isoformat(),
            }
        ]
    }
    assert (await client.post("/v1/health/metrics", json=body, headers=headers)).status_code == 200
    count = await db_session.scalar(
        select(func.count())
        .select_from(HealthMetric.__table__)
        .where(HealthMetric.user_id == user.id)
    )
    assert count == 1
    from sqlalchemy import text

    found = await db_session.scalar(
        text("SELECT count(*) FROM health_metrics_p2021_03 WHERE user_id = :u"), {"u": user.id}
    )
    assert found == 1


def test_the_catalog_reads_native_names_and_refuses_unknown_ones():
    assert metric_of("HKQuantityTypeIdentifierHeartRateVariabilitySDNN")[1] == "sdnn"
    assert metric_of("android.health.connect.datatypes.StepsRecord")[0].value == "steps"
    sample = normalize(
        Reading(type="sleep", start=HOUR_AGO, end=NOW, source=HealthSource.manual), NOW
    )
    assert (sample.value, sample.stage, sample.unit) == (60, "asleep", "min")
