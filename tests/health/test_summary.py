"""Health summaries: the arithmetic (devices counted once, nights and the sleep score,
midnight in the user's zone, alerts against the 28-day baseline) and GET
/v1/health/summary (the contract, validation, the 30-minute cache and its invalidation)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.factories import bearer, create_user, login
from wellcoach.health import service
from wellcoach.health.catalog import CANONICAL_UNITS
from wellcoach.health.overlap import deduplicated, rank
from wellcoach.health.samples import Sample
from wellcoach.health.sleep import Night, nights
from wellcoach.health.summary import alerts, daily, window
from wellcoach.models.enums import HealthMetricType as M
from wellcoach.models.enums import HealthSource as S

ROME = ZoneInfo("Europe/Rome")


def sample(metric, start, end=None, value=0.0, *, device=None, source=S.apple_health, **more):
    end = end or start
    if metric in (M.sleep, M.workout, M.mindfulness) and not value:
        value = (end - start).total_seconds() / 60
    return Sample(metric, source, start, end, float(value), CANONICAL_UNITS[metric], device, **more)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ROME).astimezone(UTC)


# --- devices counted once --------------------------------------------------------------


def test_a_watch_and_a_phone_counting_the_same_walk_count_it_once():
    walk = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    watch = sample(M.steps, walk, walk + timedelta(minutes=10), 1000, device="Apple Watch")
    phone = sample(M.steps, walk, walk + timedelta(minutes=10), 950, device="iPhone")
    # the phone alone, later: the watch was charging
    alone = sample(M.steps, walk + timedelta(hours=2), walk + timedelta(hours=2, minutes=5), 400,
                   device="iPhone")  # fmt: skip
    # half of this phone sample overlaps the watch
    half = sample(M.steps, walk + timedelta(minutes=5), walk + timedelta(minutes=15), 200,
                  device="iPhone 15")  # fmt: skip
    counted = {id(s): v for s, v in deduplicated([phone, alone, watch, half])}
    assert counted[id(watch)] == 1000
    assert counted[id(phone)] == 0
    assert counted[id(alone)] == 400
    assert counted[id(half)] == pytest.approx(100)
    assert sum(counted.values()) == pytest.approx(1500)


def test_source_priority_is_wearable_then_phone_then_other_then_manual():
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert rank(sample(M.steps, moment, device="Pixel Watch 2")) == 0
    assert rank(sample(M.steps, moment, device="Galaxy S24")) == 1
    assert rank(sample(M.steps, moment, device="Strava")) == 2
    assert rank(sample(M.steps, moment, device="Apple Watch", source=S.manual)) == 3
    manual = sample(M.steps, moment, moment + timedelta(hours=1), 3000, source=S.manual)
    app = sample(M.steps, moment, moment + timedelta(minutes=30), 2000, device="Strava")
    counted = {id(s): v for s, v in deduplicated([manual, app])}
    assert counted[id(app)] == 2000 and counted[id(manual)] == pytest.approx(1500)


# --- nights and the sleep score --------------------------------------------------------


def test_the_sleep_score_follows_the_documented_formula():
    assert Night(date(2026, 1, 1), 420, 420 / 0.9, 2, staged=True).score == 81
    assert Night(date(2026, 1, 1), 300, 300 / 0.8, 5, staged=True).score == 46
    assert Night(date(2026, 1, 1), 480, 480, 0, staged=True).score == 100
    # time in bed only (a phone alone): 85 % efficiency assumed
    assert Night(date(2026, 1, 1), 480, 480, 0, staged=False).score == 50 + 20 + 20


def test_a_night_merges_sources_and_counts_awakenings():
    night = date(2026, 11, 3)
    bed = local(night - timedelta(days=1), 23, 0)
    stages = [
        ("in_bed", 0, 480, "iPhone"),  # the phone: time in bed, overlapping the watch
        ("light", 10, 100, "Apple Watch"),
        ("deep", 100, 190, "Apple Watch"),
        ("awake", 190, 200, "Apple Watch"),
        ("rem", 200, 300, "Apple Watch"),
        ("light", 300, 400, "Apple Watch"),
        ("awake", 400, 402, "Apple Watch"),
        ("light", 402, 470, "Apple Watch"),
    ]
    samples = [
        sample(
            M.sleep,
            bed + timedelta(minutes=a),
            bed + timedelta(minutes=b),
            stage=stage,
            device=device,
        )  # fmt: skip
        for stage, a, b, device in stages
    ]
    [found] = nights(samples, ROME)
    assert found.day == night  # the day it ends on, in Rome
    assert found.asleep_minutes == 90 + 90 + 100 + 100 + 68
    assert found.in_bed_minutes == 480
    assert found.awakenings == 2
    efficiency = 448 / 480
    expected = 50 * 448 / 480 + 30 * (efficiency - 0.65) / 0.30 + 20 * (1 - 2 / 5)
    assert found.score == round(expected)


def test_two_hours_apart_is_two_sleeps_and_the_longer_is_the_night():
    day = date(2026, 11, 4)
    bed = local(day - timedelta(days=1), 23)
    samples = [
        sample(M.sleep, bed, bed + timedelta(hours=7), stage="asleep"),
        sample(M.sleep, local(day, 14), local(day, 14, 40), stage="asleep"),  # a nap
    ]
    assert [n.asleep_minutes for n in nights(samples, ROME)] == [420, 40]
    [today] = daily(samples, ROME, day, day)
    assert today.night is not None and today.night.asleep_minutes == 420


# --- days in the user's zone -----------------------------------------------------------


def test_days_are_the_users_days_and_midnight_splits_a_sample():
    day = date(2026, 11, 5)
    late = sample(M.steps, local(day, 23, 50), local(day + timedelta(days=1), 0, 10), 600)
    heart = sample(M.heart_rate, local(day + timedelta(days=1), 0, 30), value=58)
    first, second = daily([late, heart], ROME, day, day + timedelta(days=1))
    assert (first.steps, second.steps) == (pytest.approx(300), pytest.approx(300))
    assert first.heart_rates == [] and second.heart_rates == [58]
    # in UTC the heart rate is still on the first day
    utc_first, _ = daily([heart], ZoneInfo("UTC"), day, day + timedelta(days=1))
    assert utc_first.heart_rates == [58]


def test_a_day_without_data_is_null_not_zero():
    [empty] = daily([], ROME, date(2026, 11, 5), date(2026, 11, 5))
    out = empty.as_json()
    assert out["daily_steps"] is None and out["sleep_score"] is None
    assert out["stress_indicators"] == {"hrv": None, "resting_hr": None, "sleep_disruptions": None}
    assert window([empty])["days_with_data"] == 0


# --- alerts ----------------------------------------------------------------------------


def month(today: date, per_day) -> list:
    return [s for n in range(31) for s in per_day(today - timedelta(days=30 - n), n)]


def test_resting_heart_rate_ten_percent_above_baseline_is_an_alert():
    today = date(2026, 11, 30)

    def per_day(day, n):
        value = 50 if n < 28 else 56  # +12 %
        return [sample(M.resting_heart_rate, local(day, 7), value=value)]

    found = alerts(daily(month(today, per_day), ROME, today - timedelta(days=30), today))
    assert [a.code for a in found] == ["resting_hr_elevated"]
    assert (found[0].value, found[0].baseline) == (56, 50)
    assert "12% above" in found[0].message

    def calm(day, n):
        return [sample(M.resting_heart_rate, local(day, 7), value=50 if n < 28 else 54)]  # +8 %

    assert alerts(daily(month(today, calm), ROME, today - timedelta(days=30), today)) == []


def test_hrv_well_below_baseline_is_an_alert_and_needs_a_baseline():
    today = date(2026, 11, 30)

    def per_day(day, n):
        return [sample(M.hrv, local(day, 7), value=60 if n < 28 else 42)]  # -30 %

    found = alerts(daily(month(today, per_day), ROME, today - timedelta(days=30), today))
    assert [a.code for a in found] == ["hrv_low"]

    def short_history(day, n):
        return [] if n < 24 else [sample(M.hrv, local(day, 7), value=60 if n < 28 else 42)]

    days = daily(month(today, short_history), ROME, today - timedelta(days=30), today)
    assert alerts(days) == []  # four days of baseline are not a baseline


def test_three_short_nights_running_are_an_alert():
    today = date(2026, 11, 30)

    def per_day(day, n):
        hours = 7.5 if n < 27 else 5.5  # the last four nights short
        bed = local(day - timedelta(days=1), 23)
        return [sample(M.sleep, bed, bed + timedelta(hours=hours), stage="asleep")]

    found = alerts(daily(month(today, per_day), ROME, today - timedelta(days=30), today))
    assert [a.code for a in found] == ["short_sleep_streak"]
    assert found[0].value == 4 and found[0].since == today - timedelta(days=3)
    assert found[0].message == "Under 6 h of sleep for 4 nights running (last night 5 h 30 min)."


# --- GET /v1/health/summary ------------------------------------------------------------

HEALTH = {"data_processing": True, "health_data": True}


async def athlete(client, db_session, platform):
    user = await create_user(db_session, platform, consents=HEALTH, timezone="Europe/Rome")
    return user, bearer(await login(client, user.email))


async def test_the_summary_per_day_and_over_the_window(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    today = datetime.now(ROME).date()
    yesterday = today - timedelta(days=1)
    walk = local(yesterday, 10)
    bed = local(yesterday - timedelta(days=1), 23)
    samples = [
        sample(M.steps, walk, walk + timedelta(minutes=30), 3000, device="Apple Watch"),
        sample(M.steps, walk, walk + timedelta(minutes=30), 2800, device="iPhone"),
        sample(M.heart_rate, walk, value=110, device="Apple Watch"),
        sample(M.heart_rate, walk + timedelta(minutes=10), value=120, device="Apple Watch"),
        sample(M.resting_heart_rate, local(yesterday, 7), value=52),
        sample(M.hrv, local(yesterday, 7), value=61),
        sample(M.sleep, bed, bed + timedelta(hours=7), stage="asleep"),
        sample(M.workout, local(yesterday, 18), local(yesterday, 18, 45), activity="running"),
    ]
    await service.store_samples(db_session, platform.vault, platform.health_store, user.id, samples)

    response = await client.get("/v1/health/summary", params={"days": 7}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "Europe/Rome"
    assert [d["date"] for d in body["days"]] == [
        (today - timedelta(days=6 - n)).isoformat() for n in range(7)
    ]
    day = body["days"][-2]
    assert day == {
        "date": yesterday.isoformat(),
        "daily_steps": 3000,
        "avg_heart_rate": 115.0,
        "sleep_score": Night(yesterday, 420, 420, 0, staged=True).score,
        "workout_minutes": 45.0,
        "stress_indicators": {"hrv": 61.0, "resting_hr": 52.0, "sleep_disruptions": 0},
        "sleep_minutes": 420.0,
        "active_energy_kcal": None,
        "mindfulness_minutes": None,
    }
    assert body["window"]["total_steps"] == 3000
    assert body["window"]["days_with_data"] == 1
    assert body["alerts"] == []


async def test_the_summary_is_cached_and_new_data_refreshes_it(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    now = datetime.now(UTC).replace(microsecond=0)
    first = (await client.get("/v1/health/summary", headers=headers)).json()
    again = (await client.get("/v1/health/summary", headers=headers)).json()
    assert again["generated_at"] == first["generated_at"]  # the cached one

    # data stored behind the API's back is not seen until the cache expires...
    await service.store_samples(
        db_session,
        platform.vault,
        platform.health_store,
        user.id,
        [sample(M.steps, now - timedelta(minutes=20), now - timedelta(minutes=10), 777)],
    )
    stale = (await client.get("/v1/health/summary", headers=headers)).json()
    assert stale["window"]["total_steps"] is None
    # ...while a sync refreshes it at once
    body = {
        "metrics": [
            {
                "type": "steps",
                "source": "manual",
                "value": 23,
                "start": (now - timedelta(minutes=9)).isoformat(),
                "end": (now - timedelta(minutes=5)).isoformat(),
            }
        ]
    }
    assert (await client.post("/v1/health/metrics", json=body, headers=headers)).status_code == 200
    fresh = (await client.get("/v1/health/summary", headers=headers)).json()
    assert fresh["window"]["total_steps"] == 800
    # a window of another length is its own entry
    assert (await client.get("/v1/health/summary?days=3", headers=headers)).json()["window"][
        "days"
    ] == 3


async def test_the_cached_summary_is_sealed_in_redis(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    await client.get("/v1/health/summary", headers=headers)
    keys = [k async for k in platform.redis.scan_iter(f"health:summary:{user.id}:*")]
    values = [await platform.redis.get(k) for k in keys if not k.endswith(b"generation")]
    assert values and all(b"daily_steps" not in v for v in values)


@pytest.mark.parametrize("days", ["0", "91", "seven"])
async def test_days_out_of_range_are_refused(client, db_session, platform, days):
    _, headers = await athlete(client, db_session, platform)
    response = await client.get("/v1/health/summary", params={"days": days}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["query", "days"]
