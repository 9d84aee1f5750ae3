"""Auth benchmark: login throughput/latency at bcrypt cost 12, and access-token verification.

Everything runs on this machine and talks only to 127.0.0.1: the script starts its own
embedded PostgreSQL and Valkey in a temporary directory, migrates, creates verified users
(bcrypt cost 12), starts ONE uvicorn API process (1 worker) and measures

1. POST /v1/auth/login with closed-loop workers at concurrency 1, 4 and 16;
2. access-token verification, in-process (`Signer.verify_access`) and over HTTP (GET /v1/me)
   at concurrency 1 and 16.

It prints figures and asserts nothing about timing. Login is rate limited per client IP
(failures: wellcoach.auth.service.LOGIN_FAILURES_PER_IP; all attempts:
auth.login_attempts_per_ip), so every request carries its own X-Forwarded-For
(uvicorn trusts it from 127.0.0.1) and the bench's own Valkey is flushed between rounds.
Everything it started is stopped and deleted at the end.

    python bench/auth_bench.py           # full run (~2 minutes)
    python bench/auth_bench.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import (
    HOST,
    cpu_seconds,
    embedded_services,
    free_port,
    log_tail,
    percentile,
    service_env,
    spawn,
    stop_process,
    wait_http,
)
from rich.console import Console
from rich.table import Table

from wellcoach.audit import RequestContext
from wellcoach.auth import passwords
from wellcoach.auth.service import create_user
from wellcoach.config import AuthSettings, Settings
from wellcoach.platform import Platform, open_platform
from wellcoach.runtime.services import ServiceUrls

BCRYPT_ROUNDS = 12

# a fixed width when piped, so lines and the table do not wrap at 80 columns
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


@dataclass(frozen=True)
class Plan:
    users: int
    login_rounds: tuple[tuple[int, int], ...]  # (concurrency, requests)
    login_max_seconds: float
    verify_seconds: float
    me_concurrency: tuple[int, ...]
    me_seconds: float
    me_max_requests: int
    bcrypt_seconds: float


FULL = Plan(
    users=60,
    login_rounds=((1, 40), (4, 60), (16, 120)),
    login_max_seconds=40.0,
    verify_seconds=3.0,
    me_concurrency=(1, 16),
    me_seconds=5.0,
    me_max_requests=200_000,
    bcrypt_seconds=5.0,
)
QUICK = Plan(
    users=12,
    login_rounds=((1, 6), (4, 8), (16, 16)),
    login_max_seconds=20.0,
    verify_seconds=1.0,
    me_concurrency=(1, 16),
    me_seconds=1.5,
    me_max_requests=50_000,
    bcrypt_seconds=1.5,
)


@dataclass
class Round:
    name: str
    concurrency: int
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: Counter[str] = field(default_factory=Counter)
    api_cpu: float | None = None  # CPU cores the API process kept busy during the round

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


# -- the API process --------------------------------------------------------------------------


def start_api(settings: Settings, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = service_env(settings) | {"WELLCOACH_API__HOST": HOST, "WELLCOACH_API__PORT": str(port)}
    # one flag and its value a line
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
        "--host", HOST, "--port", str(port), "--workers", "1",
        "--proxy-headers", "--forwarded-allow-ips", HOST,
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return spawn(argv, env, log_path)


async def measured(proc: subprocess.Popen[bytes], run: Callable[[], Awaitable[Round]]) -> Round:
    """Run one round and record how many cores the API process used meanwhile."""
    before = cpu_seconds(proc.pid)
    started = time.perf_counter()
    result = await run()
    after = cpu_seconds(proc.pid)
    if before is not None and after is not None:
        result.api_cpu = (after - before) / (time.perf_counter() - started)
    return result


# -- load generation --------------------------------------------------------------------------


async def closed_loop(
    name: str,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    send: Callable[[int], Awaitable[httpx.Response]],
) -> Round:
    """`concurrency` workers, each sending its next request as soon as the last one answered."""
    result = Round(name, concurrency)
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds
    finished = started

    async def worker() -> None:
        nonlocal issued, finished
        while issued < max_requests and time.perf_counter() < deadline:
            index = issued
            issued += 1
            t0 = time.perf_counter()
            try:
                response = await send(index)
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] += 1
            else:
                if response.status_code == 200:
                    result.latencies.append(time.perf_counter() - t0)
                else:
                    result.errors[f"HTTP {response.status_code}"] += 1
            finished = time.perf_counter()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = finished - started
    return result


_client_ips = itertools.count(1)


def next_client_ip() -> str:
    """A client address never used before in this run (the login limit is per IP)."""
    n = next(_client_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def fmt_cpu(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def print_round(result: Round) -> None:
    errors = ", ".join(f"{kind} x{count}" for kind, count in result.errors.most_common())
    console.print(
        f"  {result.name:<12} c={result.concurrency:<3} n={result.ok:<5} "
        f"{result.rate:6.1f} req/s  p50 {result.percentile_ms(0.50):7.1f} ms  "
        f"p95 {result.percentile_ms(0.95):7.1f} ms  p99 {result.percentile_ms(0.99):7.1f} ms  "
        f"API CPU {fmt_cpu(result.api_cpu)}  errors {result.error_count}"
        + (f" ({errors})" if errors else "")
    )


# -- the benchmark ----------------------------------------------------------------------------


@dataclass
class BenchUser:
    email: str
    password: str
    user_id: object
    role: str
    tier: str
    epoch: int


async def create_users(platform: Platform, count: int, suffix: str) -> list[BenchUser]:
    gate = asyncio.Semaphore(max(1, os.cpu_count() or 1))  # bcrypt is CPU-bound
    context = RequestContext(ip_address=HOST, user_agent="auth-bench", source="system")

    async def one(i: int) -> BenchUser:
        email = f"bench-{i:03d}-{suffix}@example.com"
        password = f"Bench-pass-{i:03d}-{suffix}"
        async with gate, platform.unit_of_work() as session:
            user = await create_user(
                session, platform, email=email, password=password, verified=True, context=context
            )
            return BenchUser(
                email, password, user.id, user.role.value, user.tier.value, user.session_epoch or 0
            )

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def measure_bcrypt(password: str, threads: int, seconds: float) -> tuple[float, float]:
    """(seconds per verification on one thread, verifications/s on `threads` threads)."""
    hashed = passwords.hash_password_sync(password, BCRYPT_ROUNDS)
    samples = 3
    started = time.perf_counter()
    for _ in range(samples):
        passwords.verify_password_sync(password, hashed)
    single = (time.perf_counter() - started) / samples

    def spin(deadline: float) -> int:
        done = 0
        while done < 1000 and time.perf_counter() < deadline:
            passwords.verify_password_sync(password, hashed)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(spin, [started + seconds] * threads))
    return single, total / (time.perf_counter() - started)


async def verify_in_process(platform: Platform, token: str, seconds: float) -> tuple[int, float]:
    """Verifications of one token for `seconds` (bounded in count too); returns (n, elapsed)."""
    await platform.signer.verify_access(token)  # loads the signing keys
    max_count = 5_000_000
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while count < max_count:
        for _ in range(200):
            await platform.signer.verify_access(token)
        count += 200
        if time.perf_counter() >= deadline:
            break
    return count, time.perf_counter() - started


async def run_bench(plan: Plan, settings: Settings, urls: ServiceUrls, base: Path) -> None:
    cores = os.cpu_count() or 1
    suffix = os.urandom(3).hex()
    platform = await open_platform(settings, urls)
    proc: subprocess.Popen[bytes] | None = None
    log_path = base / "api.log"
    try:
        console.print(f"creating {plan.users} verified users at bcrypt cost {BCRYPT_ROUNDS}…")
        t0 = time.perf_counter()
        users = await create_users(platform, plan.users, suffix)
        console.print(f"  done in {time.perf_counter() - t0:.1f}s")
        console.print(f"measuring bcrypt on 1 and {cores} threads (no API running yet)…")
        hash_seconds, bcrypt_ceiling = await asyncio.to_thread(
            measure_bcrypt, users[0].password, cores, plan.bcrypt_seconds
        )

        port = free_port()
        base_url = f"http://{HOST}:{port}"
        console.print(f"starting the API (uvicorn, 1 worker) on {base_url}…")
        proc = start_api(settings, port, log_path)
        try:
            await asyncio.to_thread(wait_http, proc, f"{base_url}/ready", "the API", 60.0)
        except RuntimeError:
            console.print(log_tail(log_path))
            raise

        console.print()
        console.print(
            f"[bold]machine[/bold]: {cores} CPU cores; bcrypt cost {BCRYPT_ROUNDS} measured at "
            f"{hash_seconds * 1000:.0f} ms per hash on one thread (expect ~250 ms)."
        )
        console.print(
            "Every login verifies one bcrypt hash, so login throughput is CPU-bound near "
            f"cores / hash time = {cores} / {hash_seconds:.3f} s ≈ {cores / hash_seconds:.1f} "
            "logins/s, shared with the client, the API's own work and PostgreSQL."
        )
        console.print(
            f"Measured now: {cores} threads of bcrypt alone reach {bcrypt_ceiling:.1f} "
            "verifications/s on this machine — the practical login ceiling."
        )

        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=base_url, timeout=60.0, limits=limits, trust_env=False
        ) as client:

            async def login(index: int) -> httpx.Response:
                user = users[index % len(users)]
                return await client.post(
                    "/v1/auth/login",
                    json={"email": user.email, "password": user.password},
                    headers={"X-Forwarded-For": next_client_ip()},
                )

            # warm-up: first request loads the signing keys, opens pool connections, etc.
            warm = await login(0)
            if warm.status_code != 200:
                raise RuntimeError(f"warm-up login failed: HTTP {warm.status_code} {warm.text}")

            console.print()
            console.print("[bold]login[/bold] POST /v1/auth/login (closed loop)")
            login_rounds: list[Round] = []
            for concurrency, requests in plan.login_rounds:
                await platform.redis.flushdb()  # the bench's own Valkey only
                result = await measured(
                    proc,
                    lambda c=concurrency, n=requests: closed_loop(
                        "login", c, n, plan.login_max_seconds, login
                    ),
                )
                login_rounds.append(result)
                print_round(result)

            console.print()
            console.print("[bold]access-token verification[/bold]")
            token, _ = await platform.signer.issue_access(
                users[0].user_id, users[0].role, users[0].tier, users[0].epoch
            )
            count, elapsed = await verify_in_process(platform, token, plan.verify_seconds)
            verify_rate = count / elapsed
            verify_us = elapsed / count * 1e6
            console.print(
                f"  in-process   Signer.verify_access: {count} in {elapsed:.2f}s = "
                f"{verify_rate:,.0f} verifications/s, {verify_us:.1f} µs each"
            )

            tokens = [
                (await platform.signer.issue_access(u.user_id, u.role, u.tier, u.epoch))[0]
                for u in users[:16]
            ]

            async def me(index: int) -> httpx.Response:
                return await client.get(
                    "/v1/me", headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
                )

            check = await me(0)
            if check.status_code != 200:
                raise RuntimeError(f"GET /v1/me failed: HTTP {check.status_code} {check.text}")
            me_rounds: list[Round] = []
            for concurrency in plan.me_concurrency:
                result = await measured(
                    proc,
                    lambda c=concurrency: closed_loop(
                        "GET /v1/me", c, plan.me_max_requests, plan.me_seconds, me
                    ),
                )
                me_rounds.append(result)
                print_round(result)

        print_summary(login_rounds, me_rounds, count, verify_rate, verify_us, cores, bcrypt_ceiling)
        if any(r.error_count for r in login_rounds + me_rounds):
            console.print("[yellow]some requests failed; the API log ends with:[/yellow]")
            console.print(log_tail(log_path), markup=False)
    finally:
        if proc is not None:
            stop_process(proc)
        await platform.close()


def print_summary(
    login_rounds: list[Round],
    me_rounds: list[Round],
    verify_count: int,
    verify_rate: float,
    verify_us: float,
    cores: int,
    bcrypt_ceiling: float,
) -> None:
    table = Table(title=f"auth bench summary (bcrypt cost {BCRYPT_ROUNDS}, 1 uvicorn worker)")
    columns = (
        "benchmark",
        "conc.",
        "ok",
        "errors",
        "per s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "API CPU",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for result in login_rounds + me_rounds:
        label = "login" if result.name == "login" else "GET /v1/me (HTTP verify)"
        table.add_row(
            label,
            str(result.concurrency),
            str(result.ok),
            str(result.error_count),
            f"{result.rate:.1f}",
            f"{result.percentile_ms(0.50):.1f}",
            f"{result.percentile_ms(0.95):.1f}",
            f"{result.percentile_ms(0.99):.1f}",
            fmt_cpu(result.api_cpu),
        )
    table.add_row(
        "verify_access in-process",
        "1",
        str(verify_count),
        "0",
        f"{verify_rate:,.0f}",
        f"{verify_us / 1000:.3f}",
        "–",
        "–",
        "–",
    )
    table.add_row(
        "bcrypt verify alone", str(cores), "–", "–", f"{bcrypt_ceiling:.1f}", "–", "–", "–", "–"
    )
    console.print()
    console.print(table)
    console.print(
        "verify_access in-process: the p50 column is the mean time per verification. "
        "bcrypt verify alone: the CPU ceiling for logins (threads, no HTTP). "
        f"API CPU: cores the API process kept busy during the round (of {cores})."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts for a smoke run")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL

    with embedded_services("wellcoach-bench-", auth=AuthSettings(bcrypt_rounds=BCRYPT_ROUNDS)) as (
        base,
        settings,
        urls,
    ):
        console.print(f"embedded PostgreSQL and Valkey in {base}")
        asyncio.run(run_bench(plan, settings, urls, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
