"""With `WELLCOACH_INFLUX_URL` set, the platform keeps health series in InfluxDB (here the
v2 test double): the sync API writes there and not to PostgreSQL, the summary reads
from there, `/health` checks it, and deleting a user's series empties both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from api.main import create_app
from tests.doubles.influx_v2 import InfluxV2Double
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from wellcoach.config import HealthSettings
from wellcoach.health import service
from wellcoach.health.influx import InfluxHealthStore
from wellcoach.health.repository import PostgresHealthStore
from wellcoach.health.samples import Sample
from wellcoach.models import HealthMetric
from wellcoach.models.enums import HealthMetricType, HealthSource


@pytest.fixture
def influx() -> Iterator[InfluxV2Double]:
    with InfluxV2Double() as double:
        yield double


@pytest.fixture
async def influx_platform(settings, platform, influx):
    configured = settings.model_copy(
        update={
            "influx_url": influx.url,
            "health": HealthSettings(
                influx_token=SecretStr(influx.token),
                influx_org=influx.org,
                influx_bucket=influx.bucket,
            ),
        }
    )
    opened = platform.with_settings(configured)
    yield opened
    await opened.health_store.close()


@pytest.fixture
async def influx_client(influx_platform, app) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(influx_platform.settings, influx_platform, units=app.state.units)
    async with make_client(application) as http:
        yield http


async def test_the_sync_api_writes_to_influxdb_and_the_summary_reads_it(
    influx_client, influx_platform, influx, db_session
):
    assert isinstance(influx_platform.health_store, InfluxHealthStore)
    user = await create_user(
        db_session, influx_platform, consents={"data_processing": True, "health_data": True}
    )
    headers = bearer(await login(influx_client, user.email))
    now = datetime.now(UTC).replace(microsecond=0)
    metrics = [
        {
            "type": "HKQuantityTypeIdentifierStepCount",
            "source": "apple_health",
            "value": 500,
            "start": (now - timedelta(minutes=40 - n)).isoformat(),
            "end": (now - timedelta(minutes=39 - n)).isoformat(),
            "device": "Apple Watch",
        }
        for n in range(4)
    ]
    synced = await influx_client.post(
        "/v1/health/metrics", json={"metrics": metrics}, headers=headers
    )
    assert synced.status_code == 200, synced.text
    # InfluxDB overwrites a point written twice: it cannot tell new from resent
    assert synced.json() == {"received": 4, "stored": None, "duplicates": None}
    assert len(influx.points) == 4
    assert all(p.tags["user_id"] == str(user.id) for p in influx.points)
    assert all("500" not in str(p.fields) for p in influx.points)  # sealed
    in_postgres = await db_session.scalar(
        select(func.count()).select_from(HealthMetric).where(HealthMetric.user_id == user.id)
    )
    assert in_postgres == 0

    again = await influx_client.post(
        "/v1/health/metrics", json={"metrics": metrics}, headers=headers
    )
    assert again.status_code == 200 and len(influx.points) == 4  # no duplicates

    summary = await influx_client.get("/v1/health/summary?days=1", headers=headers)
    assert summary.status_code == 200, summary.text
    assert summary.json()["window"]["total_steps"] == 2000

    health = (await influx_client.get("/health")).json()
    assert health["checks"]["health_store"] == {
        "ok": True,
        "store": "influxdb",
        "latency_ms": health["checks"]["health_store"]["latency_ms"],
    }


async def test_deleting_a_users_series_empties_both_stores(influx_platform, influx, db_session):
    user = await create_user(db_session, influx_platform)
    other = await create_user(db_session, influx_platform)
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    samples = [
        Sample(HealthMetricType.heart_rate, HealthSource.manual, moment, moment, 60.0, "count/min")
    ]
    vault = influx_platform.vault
    for owner in (user, other):
        await service.store_samples(
            db_session, vault, influx_platform.health_store, owner.id, samples
        )
        # a copy in PostgreSQL too, as before the switch to InfluxDB
        await service.store_samples(db_session, vault, PostgresHealthStore(), owner.id, samples)
    assert len(influx.points) == 2

    await service.delete_series(
        db_session, influx_platform.health_store, influx_platform.redis, user.id
    )
    assert [p.tags["user_id"] for p in influx.points] == [str(other.id)]
    left = await db_session.scalars(
        select(HealthMetric.user_id).where(HealthMetric.user_id.in_([user.id, other.id]))
    )
    assert list(left) == [other.id]


async def test_an_influxdb_outage_is_a_503_and_health_says_degraded(
    influx_client, influx_platform, influx, db_session
):
    user = await create_user(
        db_session, influx_platform, consents={"data_processing": True, "health_data": True}
    )
    headers = bearer(await login(influx_client, user.email))
    influx.fail_next(503, n=3)
    body = {
        "metrics": [
            {
                "type": "steps",
                "source": "manual",
                "value": 1,
                "timestamp": datetime.now(UTC).isoformat(),
            }
        ]
    }
    response = await influx_client.post("/v1/health/metrics", json=body, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "Retry-After" in response.headers
