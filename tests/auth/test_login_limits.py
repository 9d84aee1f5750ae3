"""The sliding-window limiter against real Redis, and its behaviour when Redis is down."""

import httpx
import pytest

from api.main import create_app
from tests.support.factories import PASSWORD, create_user
from wellcoach.errors import RateLimited, ServiceUnavailable
from wellcoach.platform import open_platform
from wellcoach.ratelimit import RateLimiter
from wellcoach.runtime.services import ServiceUrls

DEAD_REDIS = "redis://127.0.0.1:1/0"


async def test_sliding_window_counts_and_reports(platform):
    limiter = platform.limiter
    decisions = [await limiter.hit("3/minute", "t", "a") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[-1]
    assert 0 < refused.reset_after <= 60
    assert refused.headers()["Retry-After"] == str(refused.reset_after)
    assert refused.headers()["RateLimit-Limit"] == "3"
    assert (await limiter.hit("3/minute", "t", "b")).allowed  # another identity, own window
    with pytest.raises(RateLimited) as raised:
        await limiter.enforce("3/minute", "t", "a")
    assert raised.value.retry_after >= 1
    await limiter.reset("3/minute", "t", "a")
    assert await limiter.peek("3/minute", "t", "a") == 3


async def test_fail_open_and_fail_closed_when_redis_is_down():
    limiter = RateLimiter(DEAD_REDIS)
    decision = await limiter.hit("1/minute", "x", fail_open=True)
    assert decision.allowed and decision.degraded
    with pytest.raises(ServiceUnavailable):
        await limiter.hit("1/minute", "x", fail_open=False)


async def test_login_fails_closed_without_redis(settings, services, db_session, platform):
    user = await create_user(db_session, platform)
    broken = await open_platform(
        settings, ServiceUrls(services.database_url, DEAD_REDIS, False, False)
    )
    try:
        app = create_app(settings, broken)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(
                "/v1/auth/login", json={"email": user.email, "password": PASSWORD}
            )
    finally:
        await broken.close()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0  # when to try again


async def test_a_team_of_30_signs_in_from_one_address(app, db_session, platform):
    """The club's network: 30 athletes, one IP, each signing in (twice, for two devices);
    successes are never counted as guesses."""
    from tests.support.clients import make_client

    team = [await create_user(db_session, platform) for _ in range(30)]
    async with make_client(app, "10.30.0.1") as http:
        for athlete in [*team, *team[:10]]:
            response = await http.post(
                "/v1/auth/login", json={"email": athlete.email, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text


async def test_failures_from_one_address_are_throttled_and_all_attempts_capped(
    settings, app, db_session, platform
):
    from tests.support.clients import make_client

    athlete = await create_user(db_session, platform)
    async with make_client(app, "10.30.0.2") as http:
        for _ in range(5):  # guesses at five different accounts
            wrong = await http.post(
                "/v1/auth/login", json={"email": f"x{_}@example.com", "password": "guess 1234"}
            )
            assert wrong.status_code == 401
        blocked = await http.post(
            "/v1/auth/login", json={"email": athlete.email, "password": PASSWORD}
        )
    assert blocked.status_code == 429  # this address has guessed enough
    assert int(blocked.headers["Retry-After"]) > 0

    capped = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"login_attempts_per_ip": "3/minute"})}
    )
    strict = create_app(capped, platform.with_settings(capped), units=app.state.units)
    async with make_client(strict, "10.30.0.3") as http:
        answers = [
            (
                await http.post(
                    "/v1/auth/login", json={"email": athlete.email, "password": PASSWORD}
                )
            ).status_code
            for _ in range(4)
        ]
    assert answers == [200, 200, 200, 429]  # the cap on all attempts is a setting
