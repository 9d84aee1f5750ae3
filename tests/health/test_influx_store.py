"""The InfluxDB health store, through the real `influxdb-client`, against the v2 API
double (no InfluxDB 2 server can be installed here). No database is needed: the store
ignores its session."""

from __future__ import annotations

import json
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.doubles.influx_v2 import InfluxV2Double
from wellcoach.errors import ServiceUnavailable
from wellcoach.health.influx import (
    InfluxHealthStore,
    InfluxMisconfigured,
    flux_query,
    line_protocol,
)
from wellcoach.health.samples import SealedSample
from wellcoach.models.enums import HealthMetricType, HealthSource

T0 = datetime(2024, 1, 1, tzinfo=UTC)
USER = uuid.UUID("6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
OTHER = uuid.UUID("0b9e8d7c-6f5e-4d3c-9b2a-1f0e9d8c7b6a")
EVERY_METRIC = list(HealthMetricType)


def sample(
    metric: HealthMetricType = HealthMetricType.steps,
    start: datetime = T0,
    *,
    minutes: int = 1,
    source: HealthSource = HealthSource.apple_health,
    unit: str = "count",
    payload: bytes = b"sealed",
) -> SealedSample:
    return SealedSample(metric, source, start, start + timedelta(minutes=minutes), unit, payload)


def many(count: int, seed: int) -> list[SealedSample]:
    """Samples 30 s apart plus some microseconds, every metric and source, random bytes."""
    rng = random.Random(seed)
    sources = list(HealthSource)
    return [
        SealedSample(
            metric=EVERY_METRIC[i % len(EVERY_METRIC)],
            source=sources[i % len(sources)],
            start=T0 + timedelta(seconds=30 * i, microseconds=rng.randrange(1_000_000)),
            end=T0 + timedelta(seconds=30 * i + 20, microseconds=rng.randrange(1_000_000)),
            unit="count",
            payload=os.urandom(rng.randrange(1, 80)),
        )
        for i in range(count)
    ]


@pytest.fixture
def influx() -> Iterator[InfluxV2Double]:
    with InfluxV2Double() as double:
        yield double


@pytest.fixture
async def store(influx: InfluxV2Double) -> AsyncIterator[InfluxHealthStore]:
    opened = InfluxHealthStore(influx.url, influx.token, influx.org, influx.bucket)
    yield opened
    await opened.close()


# -- what is sent ---------------------------------------------------------


def test_line_protocol_is_exact_and_escapes_tag_values() -> None:
    lines = line_protocol(
        USER,
        [
            sample(payload=b'"quoted" \\ bytes'),
            sample(
                HealthMetricType.heart_rate,
                T0 + timedelta(microseconds=123_456),
                minutes=0,
                source=HealthSource.manual,
                unit="beats per, min=1",
            ),
        ],
    )

    assert lines == [
        "health_metrics,metric_type=steps,source=apple_health,unit=count,"
        f"user_id={USER} end_ns=1704067260000000000i,"
        'payload="InF1b3RlZCIgXCBieXRlcw==" 1704067200000000000',
        "health_metrics,metric_type=heart_rate,source=manual,unit=beats\\ per\\,\\ min\\=1,"
        f"user_id={USER} end_ns=1704067200123456000i,"
        'payload="c2VhbGVk" 1704067200123456000',
    ]


def test_line_protocol_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="tag value"):
        line_protocol(USER, [sample(unit="count\nx")])
    with pytest.raises(ValueError, match="timezone-aware"):
        line_protocol(USER, [sample(start=datetime(2024, 1, 1))])


def test_the_double_reads_escaped_lines_like_influxdb(influx: InfluxV2Double) -> None:
    from influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS

    with InfluxDBClient(url=influx.url, token=influx.token, org=influx.org) as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            influx.bucket,
            record='m\\ x,t=a\\,b\\=c\\ d s="say \\"hi\\" \\\\o/",i=-12i,f=1.5,b=t 42',
        )
    [point] = influx.points
    assert (point.measurement, point.tags, point.time_ns) == ("m x", {"t": "a,b=c d"}, 42)
    assert point.fields == {"s": 'say "hi" \\o/', "i": -12, "f": 1.5, "b": True}


def test_flux_query_is_exact() -> None:
    query = flux_query(
        "health",
        USER,
        [HealthMetricType.steps, HealthMetricType.heart_rate],
        T0,
        T0 + timedelta(days=7),
    )

    assert query == (
        'from(bucket: "health")\n'
        "  |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-08T00:00:00Z)\n"
        '  |> filter(fn: (r) => r._measurement == "health_metrics" and r.user_id == '
        f'"{USER}")\n'
        '  |> filter(fn: (r) => r.metric_type == "heart_rate" or r.metric_type == "steps")\n'
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        '  |> keep(columns: ["_time", "device", "metric_type", "source", "unit", "payload",'
        ' "end_ns"])\n'
        "  |> group()\n"
        '  |> sort(columns: ["_time"])'
    )


def test_flux_query_quotes_the_bucket_and_converts_times_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    query = flux_query(
        'he"a\\lth${x}',
        USER,
        ["sleep"],  # type: ignore[list-item]  # a plain string goes through the enum too
        datetime(2024, 1, 1, 1, 0, 0, 500_000, tzinfo=paris),
        datetime(2024, 1, 2, 1, tzinfo=paris),
    )
    assert query.startswith('from(bucket: "he\\"a\\\\lth\\${x}")\n')
    assert "range(start: 2024-01-01T00:00:00.5Z, stop: 2024-01-02T00:00:00Z)" in query
    with pytest.raises(ValueError):
        flux_query("health", USER, ['steps" or true or "'], T0, T0)  # type: ignore[list-item]


# -- through the client and the double --------------------------------------


async def test_writes_12000_samples_and_reads_a_range_back(
    influx: InfluxV2Double, store: InfluxHealthStore
) -> None:
    mine = many(12_000, seed=1)
    theirs = many(500, seed=2)
    shuffled = random.Random(3).sample(mine, len(mine))

    assert await store.write(None, USER, shuffled) is None
    await store.write(None, OTHER, theirs)

    writes = [r for r in influx.requests if r.path == "/api/v2/write"]
    assert [r.body.count(b"\n") + 1 for r in writes] == [5_000, 5_000, 2_000, 500]
    assert {r.params["precision"] for r in writes} == {"ns"}
    assert len(influx.points) == 12_500

    start, end = mine[1_000].start, mine[9_000].start
    wanted = [HealthMetricType.steps, HealthMetricType.heart_rate]
    got = await store.read(None, USER, wanted, start, end)

    expected = [s for s in mine if s.metric in wanted and start <= s.start < end]
    assert len(expected) == 2_000
    assert got == expected  # payload, metric, source, start, end, unit; oldest first
    assert all(s.start.tzinfo is not None for s in got)

    everything = await store.read(None, OTHER, EVERY_METRIC, T0, T0 + timedelta(days=30))
    assert everything == theirs


async def test_a_resync_overwrites_instead_of_duplicating(
    influx: InfluxV2Double, store: InfluxHealthStore
) -> None:
    samples = many(50, seed=4)
    await store.write(None, USER, samples)
    await store.write(None, USER, samples)
    assert len(influx.points) == 50

    changed = [
        SealedSample(s.metric, s.source, s.start, s.end, s.unit, b"resealed") for s in samples
    ]
    await store.write(None, USER, changed)

    got = await store.read(None, USER, EVERY_METRIC, T0, T0 + timedelta(days=1))
    assert got == changed


async def test_two_devices_over_the_same_interval_are_two_points(
    influx: InfluxV2Double, store: InfluxHealthStore
) -> None:
    """An iPhone and a watch counting the same minutes: the device digest is a tag, so
    neither overwrites the other (one device resending still overwrites itself)."""
    phone = replace(sample(), device_tag=bytes.fromhex("0102030405060708"))
    watch = replace(sample(payload=b"watch"), device_tag=bytes.fromhex("a1a2a3a4a5a6a7a8"))
    assert line_protocol(USER, [watch])[0].startswith(
        "health_metrics,device=a1a2a3a4a5a6a7a8,metric_type=steps,"
    )
    await store.write(None, USER, [phone, watch])
    await store.write(None, USER, [phone, watch])
    assert len(influx.points) == 2
    got = await store.read(None, USER, [HealthMetricType.steps], T0, T0 + timedelta(days=1))
    assert sorted(s.device_tag for s in got) == sorted([phone.device_tag, watch.device_tag])


async def test_delete_user_removes_only_that_user(
    influx: InfluxV2Double, store: InfluxHealthStore
) -> None:
    await store.write(None, USER, many(100, seed=5))
    theirs = many(100, seed=6)
    await store.write(None, OTHER, theirs)

    await store.delete_user(None, USER)

    window = (T0, T0 + timedelta(days=1))
    assert await store.read(None, USER, EVERY_METRIC, *window) == []
    assert await store.read(None, OTHER, EVERY_METRIC, *window) == theirs
    [delete] = [r for r in influx.requests if r.path == "/api/v2/delete"]
    sent = json.loads(delete.body)
    assert sent["predicate"] == f'_measurement="health_metrics" AND user_id="{USER}"'
    assert sent["start"].startswith("1970-01-01T00:00:00")
    assert delete.params == {"org": influx.org, "bucket": influx.bucket}


async def test_no_metric_means_no_query(influx: InfluxV2Double, store: InfluxHealthStore) -> None:
    assert await store.read(None, USER, [], T0, T0 + timedelta(days=1)) == []
    assert influx.requests == []


@pytest.mark.parametrize("status", [500, 503])
async def test_a_server_error_is_service_unavailable(
    influx: InfluxV2Double, store: InfluxHealthStore, status: int
) -> None:
    influx.fail_next(status)
    with pytest.raises(ServiceUnavailable):
        await store.write(None, USER, [sample()])
    influx.fail_next(status)
    with pytest.raises(ServiceUnavailable):
        await store.read(None, USER, EVERY_METRIC, T0, T0 + timedelta(days=1))
    influx.fail_next(status)
    with pytest.raises(ServiceUnavailable):
        await store.delete_user(None, USER)


async def test_an_unreachable_server_is_service_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = InfluxHealthStore(f"http://127.0.0.1:{port}", "t", "o", "b", timeout_ms=2_000)
    try:
        with pytest.raises(ServiceUnavailable):
            await store.write(None, USER, [sample()])
        assert await store.ping() is False
    finally:
        await store.close()


async def test_a_bad_token_is_a_configuration_error(influx: InfluxV2Double) -> None:
    store = InfluxHealthStore(influx.url, "wrong-token", influx.org, influx.bucket)
    try:
        with pytest.raises(InfluxMisconfigured) as refused:
            await store.write(None, USER, [sample()])
        assert refused.value.code == "influx_misconfigured"
        assert not isinstance(refused.value, ServiceUnavailable)  # retrying cannot help
        with pytest.raises(InfluxMisconfigured):
            await store.read(None, USER, EVERY_METRIC, T0, T0 + timedelta(days=1))
    finally:
        await store.close()
    assert influx.points == []


async def test_an_unknown_bucket_is_a_configuration_error(influx: InfluxV2Double) -> None:
    store = InfluxHealthStore(influx.url, influx.token, influx.org, "elsewhere")
    try:
        with pytest.raises(InfluxMisconfigured, match="elsewhere"):
            await store.write(None, USER, [sample()])
    finally:
        await store.close()


async def test_ping(influx: InfluxV2Double, store: InfluxHealthStore) -> None:
    assert await store.ping() is True
    assert influx.requests[-1].path == "/ping"


def test_the_double_refuses_flux_it_does_not_understand(influx: InfluxV2Double) -> None:
    from influxdb_client import InfluxDBClient
    from influxdb_client.rest import ApiException

    with InfluxDBClient(url=influx.url, token=influx.token, org=influx.org) as client:
        with pytest.raises(ApiException) as refused:
            client.query_api().query(
                'from(bucket: "health") |> range(start: -1h) |> mean()', org=influx.org
            )
    assert refused.value.status == 400
