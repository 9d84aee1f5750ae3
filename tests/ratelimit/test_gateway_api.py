"""The gateway's policies through HTTP (and Socket.IO): each boundary exactly (N allowed,
N+1 refused), the headers, the 429 body, midnight UTC, a change of tier, a request the
server fails to serve given back, two API processes sharing one count, Redis down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import delete, update

from api.gateway import gatekeeper, limited
from api.main import create_app
from tests.support.clients import make_client
from tests.support.clock import Clock
from tests.support.factories import PASSWORD, bearer, create_user, login
from tests.support.realtime import committed_user, connect, new_session, tokens
from tests.support.services import running_app
from tests.support.units import savepoint_units
from wellcoach.config import GatewayPolicy
from wellcoach.errors import ServiceUnavailable
from wellcoach.models import Message, User
from wellcoach.models.enums import Tier
from wellcoach.platform import open_platform
from wellcoach.runtime import valkey
from wellcoach.runtime.services import ServiceUrls

# 09:00:01 UTC: one second into an hour bucket, far from midnight
T0 = datetime(2026, 12, 7, 9, 0, 1, tzinfo=UTC).timestamp()


@pytest.fixture
def clock(platform) -> AsyncIterator[Clock]:
    """The gate's clock, moved by the test (the platform is shared: put back after)."""
    moved = Clock(T0)
    original, platform.gate.clock = platform.gate.clock, moved
    yield moved
    platform.gate.clock = original


def _probe_router() -> APIRouter:
    """Routes for the policies whose own routes come with later features (health sync,
    escalations, exports): the same gate, opted into by name."""
    router = APIRouter(prefix="/v1/probe", dependencies=[Depends(gatekeeper)])
    for name in ("health_sync", "escalation", "data_export"):

        async def probe() -> dict[str, str]:
            return {"ok": "yes"}

        router.add_api_route(f"/{name}", probe, methods=["POST"], openapi_extra=limited(name))

    async def failing() -> None:
        raise ServiceUnavailable("the probe's dependency is down")

    router.add_api_route("/failing", failing, methods=["POST"], openapi_extra=limited("chat_send"))
    return router


@pytest.fixture
def probed_app(settings, platform, db_session) -> FastAPI:
    app = create_app(settings, platform, units=savepoint_units(db_session.bind))
    app.include_router(_probe_router())
    return app


@pytest.fixture
async def probe_client(probed_app) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(probed_app) as http:
        yield http


def _refused(response: httpx.Response, policy: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["policy"] == policy and error["details"]["limit"] == limit
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert f'policy="{policy}"' in response.headers["RateLimit-Policy"]


async def test_chat_send_allows_the_free_tier_20_an_hour(client, db_session, platform, kb, clock):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    url = f"/v1/chat/sessions/{session_id}/messages"
    for i in range(20):
        sent = await client.post(
            url, json={"content": f"how do I sleep better {i}"}, headers=headers
        )
        assert sent.status_code == 200, sent.text
    assert sent.headers["RateLimit-Remaining"] == "0"
    assert sent.headers["RateLimit-Limit"] == "20"
    refused = await client.post(url, json={"content": "one more"}, headers=headers)
    _refused(refused, "chat_send", 20)
    assert refused.json()["error"]["details"]["window"] == "hour"
    # the refused message was not stored
    listed = await client.get(f"/v1/chat/sessions/{session_id}", headers=headers)
    contents = [m["content"] for m in listed.json()["messages"] if m["type"] == "user"]
    assert "one more" not in contents and len(contents) == 20
    # other routes are still open to the user
    assert (await client.get("/v1/me", headers=headers)).status_code == 200
    # an hour later, minus what is still inside the sliding window
    clock.now += int(refused.headers["Retry-After"])
    again = await client.post(url, json={"content": "back again"}, headers=headers)
    assert again.status_code == 200


async def test_a_change_of_tier_applies_to_the_next_request(client, db_session, platform, clock):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    for _ in range(100):
        assert (await client.get("/v1/me", headers=headers)).status_code == 200
    refused = await client.get("/v1/me", headers=headers)
    _refused(refused, "requests", 100)
    midnight = datetime(2026, 12, 8, tzinfo=UTC).timestamp()
    assert int(refused.headers["Retry-After"]) == midnight - clock.now

    await db_session.execute(update(User).where(User.id == user.id).values(tier=Tier.premium))
    premium = await client.get("/v1/me", headers=headers)
    assert premium.status_code == 200
    assert premium.headers["RateLimit-Limit"] in {"1000", "20"}  # the closest to refusing
    assert "1000;w=86400" in premium.headers["RateLimit-Policy"]


async def test_the_daily_quota_resets_at_midnight_utc(client, db_session, platform, clock):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    clock.now = datetime(2026, 12, 7, 23, 59, 0, tzinfo=UTC).timestamp()
    for _ in range(100):
        await client.get("/v1/me", headers=headers)
    _refused(await client.get("/v1/me", headers=headers), "requests", 100)
    clock.now += 59
    _refused(await client.get("/v1/me", headers=headers), "requests", 100)
    clock.now += 1
    fresh = await client.get("/v1/me", headers=headers)
    assert fresh.status_code == 200


async def test_global_1000_an_hour_per_client_address(app, clock):
    async with (
        make_client(app, ip="198.51.100.7") as one,
        make_client(app, ip="198.51.100.8") as other,
    ):
        for _ in range(1000):
            response = await one.get("/v1/meta")
            assert response.status_code == 200
        _refused(await one.get("/v1/meta"), "global", 1000)
        assert (await other.get("/v1/meta")).status_code == 200
    # not limited: probes and metrics
    async with make_client(app, ip="198.51.100.7") as one:
        assert (await one.get("/health")).status_code == 200


@pytest.mark.parametrize(
    ("policy", "limit"), [("health_sync", 10), ("escalation", 3), ("data_export", 1)]
)
async def test_route_policies_by_name(probe_client, db_session, platform, clock, policy, limit):
    user = await create_user(db_session, platform, tier=Tier.team)
    headers = bearer(await login(probe_client, user.email))
    for _ in range(limit):
        allowed = await probe_client.post(f"/v1/probe/{policy}", headers=headers)
        assert allowed.status_code == 200
    _refused(await probe_client.post(f"/v1/probe/{policy}", headers=headers), policy, limit)


async def test_a_request_the_server_fails_to_serve_is_given_back(
    probe_client, db_session, platform, clock
):
    user = await create_user(db_session, platform)
    headers = bearer(await login(probe_client, user.email))
    for _ in range(25):
        failed = await probe_client.post("/v1/probe/failing", headers=headers)
        assert failed.status_code == 503
    session_id = (await probe_client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    sent = await probe_client.post(
        f"/v1/chat/sessions/{session_id}/messages", json={"content": "hi"}, headers=headers
    )
    assert sent.status_code == 200
    assert "20;w=3600" in sent.headers["RateLimit-Policy"]
    used = await platform.gate.peek(
        [c for c in _user_checks(platform, user.id) if c.policy.name == "chat_send"]
    )
    assert used[0].used == 1


def _user_checks(platform, user_id: uuid.UUID):
    from wellcoach.ratelimit.policies import Caller, checks_for

    return checks_for(platform.settings.ratelimit, Caller("x", user_id, "free"), ["chat_send"])


async def test_socket_messages_count_against_chat_send(live_server, platform):
    user_id, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    session_id = await new_session(live_server, access)
    async with platform.unit_of_work() as session:
        await session.execute(update(User).where(User.id == user_id).values(tier=Tier.free))
    checks = [c for c in _user_checks(platform, user_id) if c.policy.name == "chat_send"]
    # 19 sent over REST...
    async with httpx.AsyncClient(base_url=live_server) as http:
        for i in range(19):
            sent = await http.post(
                f"/v1/chat/sessions/{session_id}/messages",
                json={"content": f"rest {i}", "mode": "async"},
                headers={"Authorization": f"Bearer {access}"},
            )
            assert sent.status_code in (200, 202), sent.text
    socket = await connect(live_server, access)
    try:
        ack = await socket.call(
            "send_message",
            {"session_id": session_id, "content": "the twentieth"},
            namespace="/chat",
            timeout=5,
        )
        assert ack["ok"] is True
        refused = await socket.call(
            "send_message",
            {"session_id": session_id, "content": "the twenty-first"},
            namespace="/chat",
            timeout=5,
        )
    finally:
        await socket.disconnect()
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["details"]["policy"] == "chat_send"
    assert (await platform.gate.peek(checks))[0].used == 20
    # the queued turns stay unanswered (no worker runs here): committed, they would be
    # found by other tests' sweeps of lost turns
    async with platform.unit_of_work() as session:
        await session.execute(delete(Message).where(Message.user_id == user_id))


async def test_two_api_processes_share_one_limit(settings, platform):
    _, email = await committed_user(platform)
    with running_app(settings) as first, running_app(settings) as second:
        access = (await tokens(first, email))["access_token"]
        headers = {"Authorization": f"Bearer {access}"}
        codes = []
        async with httpx.AsyncClient() as http:
            for i in range(101):
                url = (first if i % 2 else second) + "/v1/me"
                codes.append((await http.get(url, headers=headers)).status_code)
    assert codes[:100] == [200] * 100
    assert codes[100] == 429


async def test_redis_stopped_mid_test(settings, services, db_session, platform, tmp_path):
    """A private Valkey, stopped while the API runs: requests are served without counts
    (fail open, documented), login refuses (fail closed), /health says degraded; once
    it is back, counting resumes."""
    handle = valkey.start_valkey(tmp_path / "valkey")
    own = await open_platform(
        settings, ServiceUrls(services.database_url, handle.url, False, False)
    )
    user = await create_user(db_session, platform)
    try:
        app = create_app(settings, own, units=savepoint_units(db_session.bind))
        async with make_client(app) as http:
            headers = bearer(await login(http, user.email))
            counted = await http.get("/v1/me", headers=headers)
            assert counted.status_code == 200 and "RateLimit-Remaining" in counted.headers
            assert (await http.get("/health")).json()["status"] == "healthy"

            valkey.stop_valkey(tmp_path / "valkey")
            served = await http.get("/v1/me", headers=headers)
            assert served.status_code == 200
            assert "RateLimit-Remaining" not in served.headers  # nothing was counted
            health = (await http.get("/health")).json()
            assert health["status"] == "degraded"
            refused = await http.post(
                "/v1/auth/login", json={"email": user.email, "password": PASSWORD}
            )
            assert refused.status_code == 503 and "Retry-After" in refused.headers

            valkey.start_valkey(tmp_path / "valkey", port=handle.port)
            own.gate._closed_until = 0  # skip the breaker's pause
            resumed = await http.get("/v1/me", headers=headers)
            assert resumed.status_code == 200 and "RateLimit-Remaining" in resumed.headers
    finally:
        await own.close()
        valkey.stop_valkey(tmp_path / "valkey")


@pytest.mark.parametrize("trusted", ["127.0.0.1,::1", ""])
async def test_the_client_address_comes_from_a_trusted_proxy_only(settings, trusted):
    """Behind a trusted proxy (loopback here) X-Forwarded-For names the client, so two
    clients have two budgets; from an untrusted peer the header is ignored, and every
    request counts against the peer's address."""
    policies = {**settings.ratelimit.policies, "global": GatewayPolicy(rate="3/hour", per="ip")}
    configured = settings.model_copy(
        update={
            "api": settings.api.model_copy(update={"trusted_proxies": trusted}),
            "ratelimit": settings.ratelimit.model_copy(update={"policies": policies}),
        }
    )
    with running_app(configured) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            first = [
                (await http.get("/v1/meta", headers={"X-Forwarded-For": "203.0.113.1"}))
                for _ in range(4)
            ]
            other = await http.get("/v1/meta", headers={"X-Forwarded-For": "203.0.113.2"})
    assert [r.status_code for r in first] == [200, 200, 200, 429]
    assert other.status_code == (200 if trusted else 429)
