"""The gate's arithmetic against a real Redis, with a clock the tests move: exact
boundaries, nothing counted on a refusal, the sliding window's decay, the calendar
day's reset at midnight UTC, Retry-After that tells the truth, two processes sharing
one count, and Redis down."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from tests.support.clock import Clock
from wellcoach.errors import RateLimited, ServiceUnavailable
from wellcoach.ratelimit.gate import Check, Gate, Policy, seconds_until_midnight_utc

HOURLY = Policy("chat_send", limit=5, window_seconds=3600, per="user")
DAILY = Policy("requests", limit=3, window_seconds=86_400, per="user", calendar_day=True)
LOGIN = Policy("auth_login", limit=5, window_seconds=600, per="ip", fail_closed=True)
# a bucket boundary, so the previous bucket is empty and weighs nothing
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture
async def clock(platform):
    yield Clock(T0 + 1)


@pytest.fixture
async def gate(platform, services, clock):
    opened = Gate(services.redis_url, clock=clock)
    yield opened
    await opened.close()


async def test_n_allowed_then_refused_with_the_truth_about_when(gate, clock):
    check = [Check(HOURLY, "user-1")]
    for expected_remaining in (4, 3, 2, 1, 0):
        decision = await gate.check(check)
        assert decision.allowed
        assert decision.usages[0].remaining == expected_remaining
    refused = await gate.check(check)
    assert not refused.allowed and refused.refused_by is not None
    retry_after = refused.usages[0].retry_after
    # within the bucket, nothing slides out: the next bucket, once enough of this one has
    # slid out of the window (5 * (1 - s / 3600) < 5 for any s > 0)
    assert retry_after == 3600 - 1 + 1
    headers = refused.headers()
    assert headers["RateLimit-Remaining"] == "0" and headers["Retry-After"] == str(retry_after)
    with pytest.raises(RateLimited) as raised:
        refused.raise_if_refused()
    assert raised.value.details["policy"] == "chat_send"
    assert raised.value.retry_after == retry_after

    clock.now += retry_after - 2
    assert not (await gate.check(check)).allowed
    clock.now += 2
    assert (await gate.check(check)).allowed


async def test_a_refused_request_counts_against_no_policy(gate):
    roomy = Policy("global", limit=100, window_seconds=3600, per="ip")
    checks = [Check(roomy, "ip-1"), Check(DAILY, "user-2")]
    for _ in range(3):
        assert (await gate.check(checks)).allowed
    for _ in range(4):
        refused = await gate.check(checks)
        assert not refused.allowed
        assert refused.refused_by is not None and refused.refused_by.policy is DAILY
    (global_usage,) = await gate.peek([Check(roomy, "ip-1")])
    assert global_usage.used == 3  # the refused four were not counted anywhere
    assert refused.binding is refused.refused_by


async def test_the_sliding_window_forgets_gradually(gate, clock):
    check = [Check(HOURLY, "user-3")]
    for _ in range(5):
        assert (await gate.check(check)).allowed
    # 45 minutes into the next hour, a quarter of the last hour still lies in the window:
    # floor(5 * 0.25) = 1 counts, so 4 fit
    clock.now = T0 + 3600 + 2700
    allowed = 0
    while (await gate.check(check)).allowed:
        allowed += 1
    assert allowed == 4


async def test_a_daily_quota_resets_at_midnight_utc(gate, clock):
    clock.now = datetime(2026, 12, 7, 23, 59, 30, tzinfo=UTC).timestamp()
    check = [Check(DAILY, "user-4")]
    for _ in range(3):
        assert (await gate.check(check)).allowed
    refused = await gate.check(check)
    assert not refused.allowed
    assert refused.usages[0].retry_after == 30 == seconds_until_midnight_utc(clock.now)
    clock.now += 29
    assert not (await gate.check(check)).allowed
    clock.now += 1  # 00:00:00 UTC
    fresh = await gate.check(check)
    assert fresh.allowed and fresh.usages[0].remaining == 2


async def test_two_processes_share_one_count(services, clock):
    first, second = Gate(services.redis_url, clock=clock), Gate(services.redis_url, clock=clock)
    try:
        check = [Check(HOURLY, "user-5")]
        results = [await (first if i % 2 else second).check(check) for i in range(6)]
        assert [r.allowed for r in results] == [True] * 5 + [False]
    finally:
        await first.close()
        await second.close()


async def test_peek_and_reset(gate):
    check = Check(HOURLY, "user-6")
    for _ in range(5):
        await gate.check([check])
    (usage,) = await gate.peek([check])
    assert (usage.used, usage.remaining) == (5, 0)
    assert await gate.reset([check]) >= 1
    (usage,) = await gate.peek([check])
    assert (usage.used, usage.remaining) == (0, 5)
    assert (await gate.check([check])).allowed


def _dead_redis_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def test_without_redis_requests_pass_unless_a_policy_fails_closed(clock):
    gate = Gate(_dead_redis_url(), clock=clock)
    try:
        decision = await gate.check([Check(HOURLY, "user-7")])
        assert decision.allowed and decision.degraded and decision.headers() == {}
        with pytest.raises(ServiceUnavailable):
            await gate.check([Check(HOURLY, "user-7"), Check(LOGIN, "ip-7")])
        with pytest.raises(ServiceUnavailable):
            await gate.peek([Check(HOURLY, "user-7")])
    finally:
        await gate.close()


def test_window_labels():
    assert HOURLY.window_label == "hour"
    assert Policy("x", 1, 600, "ip").window_label == "10 minutes"
    assert Policy("x", 1, 7 * 86_400, "user").window_label == "week"
    assert DAILY.window_label.startswith("day")
