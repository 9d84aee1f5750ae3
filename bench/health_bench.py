"""Health data benchmark: API ingest, Apple Health imports and summary latency.

    python bench/health_bench.py [--quick] [--only ingest|import|summary] [--json PATH]

Everything runs on this machine and talks only to 127.0.0.1: the script starts its own
embedded PostgreSQL and Valkey in a temporary directory (migrated), one uvicorn API process
(1 worker, gateway rate limits off: `health_sync` allows 10 syncs an hour) and, for the
imports, the CLI as child processes; everything is stopped and deleted at the end. It
prints figures and asserts nothing about timing; every reference (a ceiling) is measured
in the same run.

1. **ingest**: `POST /v1/health/metrics` with batches of 10,000 realistic samples (minute
   heart rate, 10-minute step intervals, sleep stages, HRV, resting HR, hourly active
   energy, workouts), every batch with fresh timestamps, at concurrency 1 (one user) and 2
   (two users, two clients); samples/s, latency p50/p95 per batch, the API's and
   PostgreSQL's CPU per batch; a resync of a stored batch (all duplicates); and, in this
   process, where one request's time goes: JSON decoding, pydantic validation,
   `samples_from`, sealing, the store's INSERT (+ commit), the whole `service.sync`, and
   the cyclic GC's share. First it sends two users' first syncs into three new months at
   once (how many fail: a partition-creation race), then makes the measured range's
   monthly partitions ahead, one at a time.
2. **import**: synthetic Apple exports (`tests/support/apple_export.write_synthetic_export`)
   of 1,000 (the CLI's fixed cost), 100,000, 300,000 and 1,000,000 records (not with
   `--quick`), and the largest as a zip, each imported by `wellcoach health import-apple`
   as a child process for its own user: wall time, records/s, the child's CPU and peak RSS
   (/usr/bin/time -v; its VmHWM polled as a cross-check), PostgreSQL's CPU (backends that
   exited included); and, in this process, the parser alone and the parser +
   normalization over the same file (ceilings).
3. **summary**: a user with a year (90+ days with `--quick`) of minute heart rate plus
   steps, nightly sleep stages, resting HR, HRV, active energy and workouts, stored through
   `service.store_samples`; `GET /v1/health/summary?days=7|30|90` cold (the user's cache
   generation bumped before each request) and warm; and `compute_summary` in this process
   split into the store read, decryption (AEAD, then the payloads' JSON) and the
   summarize step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
from common import (
    HOST,
    REPO,
    cpu_seconds,
    embedded_services,
    free_port,
    log_tail,
    percentile,
    service_env,
    spawn,
    stop_process,
    tree_cpu_seconds,
    wait_http,
)
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from wellcoach.audit import RequestContext
from wellcoach.auth.service import create_user
from wellcoach.config import AuthSettings, Settings
from wellcoach.health import cache, service
from wellcoach.health.apple_export import ExportStats, iter_export
from wellcoach.health.imports import Counts, export_stream, samples_of
from wellcoach.health.ingest import samples_from
from wellcoach.health.samples import Sample
from wellcoach.health.schemas import HealthSyncIn
from wellcoach.health.summary import (
    BASELINE_DAYS,
    BASELINE_METRICS,
    RECENT_DAYS,
    WINDOW_METRICS,
    alerts,
    daily,
    window,
)
from wellcoach.models import User
from wellcoach.models.enums import HealthMetricType as M
from wellcoach.models.enums import HealthSource
from wellcoach.platform import Platform, open_platform
from wellcoach.runtime import postgres
from wellcoach.runtime.services import ServiceUrls

console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)

BATCH = 10_000
TARGET_SAMPLES_PER_S = 20_000
TARGET_PEAK_MB = 300
PASSWORD = "a long enough bench passphrase"
CONTEXT = RequestContext(source="bench")


@dataclass(frozen=True)
class Plan:
    batches: int  # measured batches per client, after one warm-up batch
    resyncs: int
    split_batches: int
    import_sizes: tuple[int, ...]
    summary_days: int  # days of minute heart rate for the summary user
    summary_requests: int


FULL = Plan(
    batches=20,
    resyncs=5,
    split_batches=5,
    import_sizes=(100_000, 300_000, 1_000_000),
    summary_days=365,
    summary_requests=20,
)
QUICK = Plan(
    batches=4,
    resyncs=2,
    split_batches=3,
    import_sizes=(100_000, 300_000),
    summary_days=95,
    summary_requests=5,
)


def pg_cpu_seconds(postmaster: int | None) -> float | None:
    """CPU of the embedded PostgreSQL: the postmaster and its live backends, plus the
    backends that already exited (the postmaster reaped them: its cutime and cstime), so
    a CLI child's backend counts too."""
    if postmaster is None:
        return None
    live = tree_cpu_seconds(postmaster)
    try:
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
        reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
    return None if live is None else live + reaped


def ms(seconds: float) -> float:
    return seconds * 1000


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "?" if value is None else format(value, spec)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the API process and users ---------------------------------------------------------------


def start_api(settings: Settings, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = service_env(settings) | {
        "WELLCOACH_API__HOST": HOST,
        "WELLCOACH_API__PORT": str(port),
        "WELLCOACH_RATELIMIT__ENABLED": "false",
    }
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
        "--host", HOST, "--port", str(port), "--workers", "1",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return spawn(argv, env, log_path)


@dataclass
class BenchUser:
    id: uuid.UUID
    email: str
    headers: dict[str, str] | None = None


async def new_user(platform: Platform, label: str) -> BenchUser:
    email = f"health-bench-{label}-{uuid.uuid4().hex[:8]}@example.com"
    async with platform.unit_of_work() as session:
        user = await create_user(
            session,
            platform,
            email=email,
            password=PASSWORD,
            verified=True,
            consents={"data_processing": True, "health_data": True},
            context=CONTEXT,
            name="Bench Athlete",
        )
        return BenchUser(user.id, email)


async def log_in(client: httpx.AsyncClient, user: BenchUser) -> None:
    response = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    if response.status_code != 200:
        raise RuntimeError(f"login failed: HTTP {response.status_code} {response.text[:300]}")
    user.headers = {
        "Authorization": f"Bearer {response.json()['access_token']}",
        "Content-Type": "application/json",
    }


# -- realistic sync batches ------------------------------------------------------------------

# (HealthKit, Health Connect) names of what a phone sends
_NAMES = {
    "hr": ("HKQuantityTypeIdentifierHeartRate", "HeartRateRecord"),
    "steps": ("HKQuantityTypeIdentifierStepCount", "StepsRecord"),
    "sleep": ("HKCategoryTypeIdentifierSleepAnalysis", "SleepStageRecord"),
    "rhr": ("HKQuantityTypeIdentifierRestingHeartRate", "RestingHeartRateRecord"),
    "hrv": ("HKQuantityTypeIdentifierHeartRateVariabilitySDNN", "HeartRateVariabilityRmssdRecord"),
    "energy": ("HKQuantityTypeIdentifierActiveEnergyBurned", "ActiveCaloriesBurnedRecord"),
    "workout": ("HKWorkoutTypeIdentifier", "ExerciseSessionRecord"),
}
_STAGES = (
    ("HKCategoryValueSleepAnalysisAsleepCore", "STAGE_TYPE_LIGHT"),
    ("HKCategoryValueSleepAnalysisAsleepCore", "STAGE_TYPE_LIGHT"),
    ("HKCategoryValueSleepAnalysisAsleepDeep", "STAGE_TYPE_DEEP"),
    ("HKCategoryValueSleepAnalysisAsleepREM", "STAGE_TYPE_REM"),
    ("HKCategoryValueSleepAnalysisAwake", "STAGE_TYPE_AWAKE"),
)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def phone_metrics(first_day: date, google: bool, seed: int) -> Iterator[dict[str, Any]]:
    """A phone's readings day after day from `first_day` (UTC), each key once: ~1,580 a
    day, 1,440 of them minute heart rate."""
    rng = random.Random(seed)
    pick = 1 if google else 0
    source = "google_health" if google else "apple_health"
    device = "Pixel Watch 2" if google else "Apple Watch"
    day = first_day
    while True:
        midnight = datetime.combine(day, clock_time.min, UTC)
        # the night that ends this morning, stage by stage
        t = midnight - timedelta(minutes=60 - rng.randrange(0, 60))
        wake = midnight + timedelta(hours=6, minutes=rng.randrange(0, 90))
        while t < wake:
            length = timedelta(minutes=rng.randrange(10, 50))
            yield {
                "type": _NAMES["sleep"][pick],
                "source": source,
                "start": _stamp(t),
                "end": _stamp(t + length),
                "stage": rng.choice(_STAGES)[pick],
                "device": device,
            }
            t += length
        yield {
            "type": _NAMES["rhr"][pick],
            "source": source,
            "value": rng.randrange(44, 60),
            "unit": "bpm" if google else "count/min",
            "timestamp": _stamp(midnight + timedelta(hours=8)),
        }
        for hour in (3, 9, 14, 19):
            yield {
                "type": _NAMES["hrv"][pick],
                "source": source,
                "value": round(rng.uniform(35, 90), 1),
                "unit": "ms",
                "timestamp": _stamp(midnight + timedelta(hours=hour, minutes=rng.randrange(60))),
                "device": device,
            }
        for minute in range(1440):
            yield {
                "type": _NAMES["hr"][pick],
                "source": source,
                "value": rng.randrange(48, 170),
                "unit": "bpm" if google else "count/min",
                "timestamp": _stamp(midnight + timedelta(minutes=minute)),
                "device": device,
            }
        for slot in range(7 * 6, 23 * 6):
            start = midnight + timedelta(minutes=slot * 10)
            yield {
                "type": _NAMES["steps"][pick],
                "source": source,
                "value": rng.randrange(0, 1500),
                "unit": "count",
                "start": _stamp(start),
                "end": _stamp(start + timedelta(minutes=10)),
                "device": device,
            }
        for hour in range(24):
            start = midnight + timedelta(hours=hour)
            yield {
                "type": _NAMES["energy"][pick],
                "source": source,
                "value": round(rng.uniform(5, 400), 1),
                "unit": "kcal",
                "start": _stamp(start),
                "end": _stamp(start + timedelta(hours=1)),
            }
        if day.toordinal() % 2 == 0:
            start = midnight + timedelta(hours=18)
            yield {
                "type": _NAMES["workout"][pick],
                "source": source,
                "start": _stamp(start),
                "end": _stamp(start + timedelta(minutes=rng.randrange(30, 90))),
                "activity": "EXERCISE_TYPE_RUNNING" if google else "HKWorkoutActivityTypeRunning",
                "energy_kcal": round(rng.uniform(200, 800), 1),
                "distance_m": round(rng.uniform(4000, 15000)),
                "device": device,
            }
        day += timedelta(days=1)


class Batches:
    """Request bodies of BATCH readings with fresh timestamps, one user's phone."""

    def __init__(self, first_day: date, google: bool, seed: int) -> None:
        self.stream = phone_metrics(first_day, google, seed)

    def next(self) -> bytes:
        metrics = [next(self.stream) for _ in range(BATCH)]
        return json.dumps({"metrics": metrics}, separators=(",", ":")).encode()


# -- part 1: API ingest ----------------------------------------------------------------------


@dataclass
class IngestRound:
    name: str
    concurrency: int
    batches: int = 0
    samples: int = 0
    stored: int = 0
    duplicates: int = 0
    elapsed: float = 0.0
    latencies: list[float] | None = None
    api_cpu: float | None = None  # seconds, whole round
    pg_cpu: float | None = None
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.samples / self.elapsed if self.elapsed else 0.0

    def per_batch(self, value: float | None) -> float | None:
        return None if value is None or not self.batches else ms(value) / self.batches

    def as_json(self) -> dict[str, Any]:
        lat = self.latencies or []
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "batches": self.batches,
            "samples": self.samples,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed, 3),
            "samples_per_s": round(self.rate, 1),
            "latency_p50_ms": round(ms(percentile(lat, 0.5)), 1),
            "latency_p95_ms": round(ms(percentile(lat, 0.95)), 1),
            "api_cpu_ms_per_batch": self.per_batch(self.api_cpu),
            "pg_cpu_ms_per_batch": self.per_batch(self.pg_cpu),
        }


async def send_round(
    name: str,
    client: httpx.AsyncClient,
    api_pid: int,
    pg_pid: int | None,
    work: list[tuple[BenchUser, list[bytes]]],
) -> IngestRound:
    """One client per (user, bodies), all at once; each sends its bodies one after the other."""
    result = IngestRound(name, len(work), latencies=[])
    api0 = cpu_seconds(api_pid)
    pg0 = pg_cpu_seconds(pg_pid)

    async def one(user: BenchUser, bodies: list[bytes]) -> None:
        for body in bodies:
            t0 = time.perf_counter()
            response = await client.post("/v1/health/metrics", content=body, headers=user.headers)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                result.errors += 1
                console.print(f"  HTTP {response.status_code}: {response.text[:300]}", markup=False)
                continue
            out = response.json()
            result.latencies.append(elapsed)  # type: ignore[union-attr]
            result.batches += 1
            result.samples += out["received"]
            result.stored += out["stored"] or 0
            result.duplicates += out["duplicates"] or 0

    started = time.perf_counter()
    await asyncio.gather(*(one(user, bodies) for user, bodies in work))
    result.elapsed = time.perf_counter() - started
    api1 = cpu_seconds(api_pid)
    pg1 = pg_cpu_seconds(pg_pid)
    if api0 is not None and api1 is not None:
        result.api_cpu = api1 - api0
    if pg0 is not None and pg1 is not None:
        result.pg_cpu = pg1 - pg0
    return result


async def ingest_split(
    platform: Platform, plan: Plan, first_day: date, pg_pid: int | None
) -> dict[str, Any]:
    """Where one request's time goes, in this process (means over a few fresh batches)."""
    user = await new_user(platform, "split")
    source = Batches(first_day, google=False, seed=99)
    steps: dict[str, list[float]] = {
        k: [] for k in ("decode", "validate", "normalize", "seal", "insert", "resync_insert")
    }
    whole: list[float] = []
    counts: list[int] = []
    bodies = [source.next() for _ in range(plan.split_batches * 2 + 1)]
    pg0 = pg_cpu_seconds(pg_pid)
    started = time.perf_counter()
    gc_timer = GcTimer()
    try:
        await _split_batches(platform, plan, user, bodies, steps, whole, counts)
    finally:
        gc_timer.stop()
    out = {key: ms(statistics.mean(values)) for key, values in steps.items()}
    out |= {f"{key}_min": ms(min(values)) for key, values in steps.items()}
    out["sync_whole"] = ms(statistics.mean(whole))
    out["samples"] = statistics.mean(counts)
    out["batches"] = len(counts)
    out["gc_ms_per_batch"] = ms(gc_timer.seconds) / len(bodies)
    pg1 = pg_cpu_seconds(pg_pid)
    elapsed = time.perf_counter() - started
    out["pg_cores_busy"] = None if pg0 is None or pg1 is None else (pg1 - pg0) / elapsed
    return out


async def _split_batches(
    platform: Platform,
    plan: Plan,
    user: BenchUser,
    bodies: list[bytes],
    steps: dict[str, list[float]],
    whole: list[float],
    counts: list[int],
) -> None:
    for index, body in enumerate(bodies):
        t0 = time.perf_counter()
        raw = json.loads(body)
        t1 = time.perf_counter()
        parsed = HealthSyncIn.model_validate(raw)
        t2 = time.perf_counter()
        samples = samples_from(parsed.metrics, user.id, datetime.now(UTC))
        t3 = time.perf_counter()
        if index == 0 or index > plan.split_batches:  # warm-up, then whole syncs
            async with platform.unit_of_work() as session:
                found = await session.get(User, user.id)
                assert found is not None
                await service.sync(
                    session,
                    platform.vault,
                    platform.health_store,
                    platform.redis,
                    found,
                    parsed.metrics,
                    request=CONTEXT,
                )
            if index:
                whole.append(time.perf_counter() - t2)
            continue
        async with platform.unit_of_work() as session:
            sealed = await service.seal(session, platform.vault, user.id, samples)
            t4 = time.perf_counter()
            await platform.health_store.write(session, user.id, sealed)
        t5 = time.perf_counter()  # the unit of work committed
        async with platform.unit_of_work() as session:
            await platform.health_store.write(session, user.id, sealed)
        t6 = time.perf_counter()
        for key, value in zip(
            steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True
        ):
            steps[key].append(value)
        counts.append(len(samples))


class GcTimer:
    """Time spent in the cyclic garbage collector of this process while running."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)


async def ensure_partitions(platform: Platform, first: date, last: date) -> int:
    made = 0
    month = first.replace(day=1)
    while month <= last:
        async with platform.unit_of_work() as session:
            made += bool(
                await session.scalar(
                    text("SELECT wellcoach_ensure_month_partition('health_metrics', :month)"),
                    {"month": month},
                )
            )
        month = (month + timedelta(days=32)).replace(day=1)
    return made


async def partition_race(
    client: httpx.AsyncClient, users: list[BenchUser], log_path: Path
) -> dict[str, Any]:
    """Two users' first small syncs into the same brand-new month, at once; the statuses,
    and the errors the API logged meanwhile (their types: the log has no messages)."""
    statuses: Counter[int] = Counter()
    log_start = log_path.stat().st_size if log_path.exists() else 0
    months = 3
    for n in range(months):
        first_day = date(2005, 2 + n * 2, 1)
        bodies = []
        for i in range(len(users)):
            stream = phone_metrics(first_day, google=i == 1, seed=100 + n)
            metrics = [next(stream) for _ in range(300)]
            bodies.append(json.dumps({"metrics": metrics}).encode())
        responses = await asyncio.gather(
            *(
                client.post("/v1/health/metrics", content=body, headers=user.headers)
                for user, body in zip(users, bodies, strict=True)
            )
        )
        statuses.update(r.status_code for r in responses)
    failed = sum(count for status, count in statuses.items() if status != 200)
    logged: Counter[str] = Counter()
    with log_path.open("rb") as log:
        log.seek(log_start)
        for line in log.read().decode(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("level") not in ("warning", "error"):
                continue
            types = (entry.get("exception") or {}).get("types") or [entry.get("error")]
            logged[f"{entry.get('event')}: {' / '.join(str(t) for t in types)}"] += 1
    return {
        "months": months,
        "requests": sum(statuses.values()),
        "failed": failed,
        "statuses": dict(statuses),
        "logged": dict(logged),
    }


async def part_ingest(
    platform: Platform,
    plan: Plan,
    client: httpx.AsyncClient,
    api_pid: int,
    pg_pid: int | None,
    log_path: Path,
) -> dict[str, Any]:
    console.rule("[bold]1. API ingest[/bold]  POST /v1/health/metrics, batches of 10,000")
    # each user's phone starts far enough back that every batch stays in the past
    span_days = (plan.batches + 2) * BATCH // 1500 + 2
    first_day = datetime.now(UTC).date() - timedelta(days=span_days + 5)
    users = [await new_user(platform, f"ingest{n}") for n in range(3)]
    for user in users:
        await log_in(client, user)
    phones = [Batches(first_day, google=n == 2, seed=n) for n in range(3)]

    probe = await partition_race(client, users[1:], log_path)
    # the measured rounds write months no partition exists for yet; two clients creating
    # one at once collide (the probe above), so they are made now, sequentially
    made = await ensure_partitions(platform, first_day, datetime.now(UTC).date())
    console.print(f"  made {made} monthly partitions for the measured range beforehand")
    console.print("  generating request bodies…")
    warm = [phone.next() for phone in phones]
    solo = [phones[0].next() for _ in range(plan.batches)]
    pair = [[phones[n].next() for _ in range(plan.batches)] for n in (1, 2)]
    size_mb = statistics.mean(len(b) for b in solo) / 1e6
    console.print(f"  one body: {size_mb:.2f} MB of JSON for {BATCH:,} readings")

    warmed = await send_round(
        "warm-up", client, api_pid, pg_pid, [(u, [b]) for u, b in zip(users, warm, strict=True)]
    )
    if warmed.errors:
        raise RuntimeError("the warm-up batches failed")
    rounds = [
        await send_round("new samples", client, api_pid, pg_pid, [(users[0], solo)]),
        await send_round(
            "new samples", client, api_pid, pg_pid, [(users[1], pair[0]), (users[2], pair[1])]
        ),
        await send_round(
            "resync (all duplicates)",
            client,
            api_pid,
            pg_pid,
            [(users[0], solo[:1] * plan.resyncs)],
        ),
    ]
    console.print("  in-process split of one request…")
    split = await ingest_split(platform, plan, first_day, pg_pid)

    table = Table(title="API ingest (1 uvicorn worker, embedded PostgreSQL)")
    for column in (
        "round", "clients", "batches", "samples/s", "p50 ms", "p95 ms",
        "API CPU ms/batch", "PG CPU ms/batch", "stored", "dups", "errors",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "round" else "right")
    for r in rounds:
        lat = r.latencies or []
        table.add_row(
            r.name,
            str(r.concurrency),
            str(r.batches),
            f"{r.rate:,.0f}",
            f"{ms(percentile(lat, 0.5)):.0f}",
            f"{ms(percentile(lat, 0.95)):.0f}",
            fmt(r.per_batch(r.api_cpu), ".0f"),
            fmt(r.per_batch(r.pg_cpu), ".0f"),
            f"{r.stored:,}",
            f"{r.duplicates:,}",
            str(r.errors),
        )
    console.print(table)
    best = max(rounds[0].rate, rounds[1].rate)
    verdict = "met" if best >= TARGET_SAMPLES_PER_S else "NOT met"
    console.print(
        f"target >= {TARGET_SAMPLES_PER_S:,} samples/s end to end: {verdict} "
        f"(c=1 {rounds[0].rate:,.0f}, c=2 {rounds[1].rate:,.0f} samples/s)"
    )

    parts = ("decode", "validate", "normalize", "seal", "insert")
    total = sum(split[k] for k in parts)
    split_table = Table(
        title=f"one request in this process ({split['samples']:,.0f} samples; mean and min of "
        f"{split['batches']} fresh batches)"
    )
    for column in ("step", "mean ms", "min ms", "share", "µs/sample"):
        split_table.add_column(column, justify="left" if column == "step" else "right")
    labels = {
        "decode": "JSON decode (json.loads)",
        "validate": "pydantic validation (HealthSyncIn)",
        "normalize": "samples_from (normalization)",
        "seal": "seal (payload JSON + AES-GCM)",
        "insert": "store INSERT + commit",
        "resync_insert": "store INSERT + commit, all duplicates",
    }
    for key in parts:
        split_table.add_row(
            labels[key],
            f"{split[key]:.0f}",
            f"{split[key + '_min']:.0f}",
            f"{split[key] / total:.0%}",
            f"{split[key] * 1000 / split['samples']:.1f}",
        )
    split_table.add_row("sum", f"{total:.0f}", "", "100%", f"{total * 1000 / split['samples']:.1f}")
    split_table.add_row(
        "service.sync whole (consent, normalize, seal, insert, audit, cache)",
        f"{split['sync_whole']:.0f}",
        "",
        "",
        "",
    )
    resync = (f"{split['resync_insert']:.0f}", f"{split['resync_insert_min']:.0f}")
    split_table.add_row(labels["resync_insert"], *resync, "", "")
    console.print(split_table)
    solo_p50 = ms(percentile(rounds[0].latencies or [], 0.5))
    console.print(
        f"cyclic GC in this process: {split['gc_ms_per_batch']:.0f} ms per batch (inside the steps "
        f"above); PostgreSQL kept {fmt(split['pg_cores_busy'], '.2f')} cores busy meanwhile. "
        f"HTTP c=1 p50 was {solo_p50:.0f} ms per batch; the API process also does the transfer, "
        "auth, routing and response."
    )
    console.print(
        f"concurrent first writes into a new month (2 clients, {probe['months']} months): "
        f"{probe['failed']} of {probe['requests']} requests failed {probe['statuses']}"
    )
    for what, count in probe["logged"].items():
        console.print(f"  API log: {what} x{count}", markup=False)
    return {
        "partition_race": probe,
        "rounds": [r.as_json() for r in rounds],
        "body_mb": round(size_mb, 3),
        "target_samples_per_s": TARGET_SAMPLES_PER_S,
        "split_ms": {k: round(v, 2) for k, v in split.items()},
    }


# -- part 2: Apple imports -------------------------------------------------------------------


@dataclass
class ImportRun:
    label: str
    records: int
    file_mb: float
    wall: float = 0.0
    child_cpu: float = 0.0
    peak_mb: float = 0.0  # /usr/bin/time -v's maximum resident set size, else polled
    polled_mb: float = 0.0  # the highest VmHWM read while it ran
    pg_cpu: float | None = None
    seen: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    returncode: int = 0
    parse_rate: float = 0.0
    normalize_rate: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "records": self.records,
            "file_mb": round(self.file_mb, 1),
            "wall_s": round(self.wall, 2),
            "records_per_s": round(self.seen / self.wall, 1) if self.wall else None,
            "child_cpu_s": round(self.child_cpu, 2),
            "pg_cpu_s": None if self.pg_cpu is None else round(self.pg_cpu, 2),
            "peak_rss_mb": round(self.peak_mb, 1),
            "vmhwm_polled_mb": round(self.polled_mb, 1),
            "records_seen": self.seen,
            "samples_stored": self.stored,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "returncode": self.returncode,
            "parser_records_per_s": round(self.parse_rate, 1),
            "parser_normalize_records_per_s": round(self.normalize_rate, 1),
        }


def parse_rates(path: Path) -> tuple[float, float]:
    """Records/s of the parser alone, and of the parser + normalization (this process)."""
    with open(path, "rb") as raw, export_stream(raw) as (stream, _):
        t0 = time.perf_counter()
        seen = sum(1 for _ in iter_export(stream, ExportStats()))
        parse = seen / (time.perf_counter() - t0)
    with open(path, "rb") as raw, export_stream(raw) as (stream, _):
        counts = Counts()
        t0 = time.perf_counter()
        for _batch in samples_of(iter_export(stream, ExportStats()), counts, datetime.now(UTC)):
            pass
        normalize = counts.records_seen / (time.perf_counter() - t0)
    return parse, normalize


TIME = Path("/usr/bin/time")


def vm_hwm_mb(pid: int) -> float | None:
    """The process's peak RSS so far (VmHWM: reset by exec, unlike a forked child's
    rusage, which starts from its parent's peak)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_time_report(path: Path) -> dict[str, float]:
    """/usr/bin/time -v's report: peak RSS (MB) and CPU seconds."""
    found: dict[str, float] = {}
    for line in path.read_text(errors="replace").splitlines():
        name, _, value = line.strip().rpartition(": ")
        if name == "Maximum resident set size (kbytes)":
            found["peak_mb"] = int(value) / 1024
        elif name in ("User time (seconds)", "System time (seconds)"):
            found["cpu"] = found.get("cpu", 0.0) + float(value)
    return found


async def run_import(
    settings: Settings, email: str, path: Path, run: ImportRun, logs: Path, pg_pid: int | None
) -> None:
    """The CLI's import as a child (under /usr/bin/time -v when there is one, whose small
    process forks the CLI: a rusage taken from this big process would start at its peak),
    its VmHWM polled meanwhile as a cross-check."""
    import psutil

    cli = Path(sys.executable).with_name("wellcoach")
    argv = [str(cli), "health", "import-apple", str(path), "--user", email, "--json"]
    out_path, err_path = logs / f"{run.label}.out", logs / f"{run.label}.err"
    time_path = logs / f"{run.label}.time"
    timed = TIME.exists()
    if timed:
        argv = [str(TIME), "-v", "-o", str(time_path), *argv]
    pg0 = pg_cpu_seconds(pg_pid)
    polled = 0.0
    cpu_polled = 0.0
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=REPO, env=service_env(settings), stdin=subprocess.DEVNULL,
            stdout=out, stderr=err, start_new_session=True,
        )  # fmt: skip
        try:
            while proc.poll() is None:
                target = proc.pid
                if timed:
                    with contextlib.suppress(psutil.Error):
                        children = psutil.Process(proc.pid).children()
                        target = children[0].pid if children else 0
                if target:
                    polled = max(polled, vm_hwm_mb(target) or 0.0)
                    with contextlib.suppress(psutil.Error):
                        times = psutil.Process(target).cpu_times()
                        cpu_polled = times.user + times.system
                await asyncio.sleep(0.05)
        except BaseException:
            stop_process(proc)
            raise
        run.wall = time.perf_counter() - t0
    pg1 = pg_cpu_seconds(pg_pid)
    run.returncode = proc.returncode
    run.polled_mb = polled
    report = read_time_report(time_path) if timed and time_path.exists() else {}
    run.peak_mb = report.get("peak_mb", polled)
    run.child_cpu = report.get("cpu", cpu_polled)
    if pg0 is not None and pg1 is not None:
        run.pg_cpu = pg1 - pg0
    if run.returncode != 0:
        console.print(f"  import {run.label} failed ({run.returncode}):", markup=False)
        console.print(log_tail(err_path), markup=False)
        return
    found = json.loads(out_path.read_text())
    run.seen, run.stored = found["records"], found["stored"]
    run.duplicates, run.skipped, run.rejected = (
        found["duplicates"],
        found["skipped"],
        found["rejected"],
    )


async def part_import(
    platform: Platform, plan: Plan, settings: Settings, pg_pid: int | None
) -> dict[str, Any]:
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))  # tests.support is no installed package
    from tests.support.apple_export import write_synthetic_export

    console.rule("[bold]2. Apple Health import[/bold]  wellcoach health import-apple (child)")
    work = Path(tempfile.mkdtemp(prefix="wc-health-exports-"))
    try:
        jobs = [("1k", 1_000, False)]
        jobs += [(f"{n // 1000}k", n, False) for n in plan.import_sizes]
        largest = plan.import_sizes[-1]
        jobs.append((f"{largest // 1000}k zip", largest, True))
        runs: list[ImportRun] = []
        for label, records, as_zip in jobs:
            path = work / (f"export-{records}.zip" if as_zip else f"export-{records}.xml")
            t0 = time.perf_counter()
            size = await asyncio.to_thread(write_synthetic_export, path, records, zip=as_zip)
            console.print(
                f"  {label}: wrote {size / 1e6:,.1f} MB in {time.perf_counter() - t0:.1f}s; "
                "importing…"
            )
            run = ImportRun(label, records, size / 1e6)
            user = await new_user(platform, f"import{records}{'z' if as_zip else ''}")
            await run_import(settings, user.email, path, run, work, pg_pid)
            run.parse_rate, run.normalize_rate = await asyncio.to_thread(parse_rates, path)
            console.print(
                f"    {run.wall:.1f}s, {run.seen:,} records seen, {run.stored:,} stored, "
                f"peak RSS {run.peak_mb:.0f} MB"
            )
            runs.append(run)
            if records >= 300_000:
                path.unlink()  # disk: the 1M export is ~0.5 GB
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Table(title="Apple Health import (CLI child process, one user per export)")
    for column in (
        "export", "MB", "records", "wall s", "records/s", "child CPU s", "PG CPU s",
        "peak RSS MB", "VmHWM MB", "parser rec/s", "parse+norm rec/s", "stored", "dups",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "export" else "right")
    for r in runs:
        table.add_row(
            r.label,
            f"{r.file_mb:,.1f}",
            f"{r.seen:,}",
            f"{r.wall:.1f}",
            f"{r.seen / r.wall:,.0f}" if r.wall else "?",
            f"{r.child_cpu:.1f}",
            fmt(r.pg_cpu),
            f"{r.peak_mb:.0f}",
            f"{r.polled_mb:.0f}",
            f"{r.parse_rate:,.0f}",
            f"{r.normalize_rate:,.0f}",
            f"{r.stored:,}",
            f"{r.duplicates:,}",
        )
    console.print(table)
    peaks = "  ".join(f"{r.label} {r.peak_mb:.0f} MB" for r in runs)
    worst = max(r.peak_mb for r in runs)
    verdict = "met" if worst < TARGET_PEAK_MB else "NOT met"
    console.print(f"peak RSS side by side: {peaks}")
    console.print(
        f"target peak < {TARGET_PEAK_MB} MB and flat: {verdict} (largest {worst:.0f} MB; the 1k "
        "row is the CLI's fixed cost). parser rec/s and parse+norm rec/s: this process, "
        "same file, no database (ceilings). dups: records the store already had (same key). "
        f"peak RSS: {'/usr/bin/time -v' if TIME.exists() else 'VmHWM polled'}; VmHWM MB: the "
        "highest VmHWM polled every 50 ms while it ran (a cross-check)."
    )
    return {"runs": [r.as_json() for r in runs], "target_peak_mb": TARGET_PEAK_MB}


# -- part 3: summary latency -----------------------------------------------------------------


def year_of_samples(days: int, now: datetime, seed: int = 7) -> Iterator[Sample]:
    """The `days` days up to `now` (a whole minute) of a watch wearer: heart rate every
    minute (days x 1,440 readings), steps every 10 min from 07:00 to 23:00, the night's
    sleep stages, resting HR, 4 HRV readings, hourly active energy, a workout every other
    day."""
    rng = random.Random(seed)
    src, watch = HealthSource.apple_health, "Apple Watch"
    since = now - timedelta(days=days)

    def ok(at: datetime) -> bool:
        return since < at <= now

    for offset in range(days + 1):
        day = since.date() + timedelta(days=offset)
        midnight = datetime.combine(day, clock_time.min, UTC)
        t = midnight - timedelta(minutes=60 - rng.randrange(0, 60))
        wake = midnight + timedelta(hours=6, minutes=rng.randrange(0, 90))
        while t < wake and ok(t):
            length = timedelta(minutes=rng.randrange(10, 50))
            stage = rng.choice(("light", "light", "deep", "rem", "awake"))
            yield Sample(
                M.sleep, src, t, t + length, length.seconds / 60, "min", watch, stage=stage
            )
            t += length
        at = midnight + timedelta(hours=8)
        if ok(at):
            yield Sample(M.resting_heart_rate, src, at, at, rng.randrange(44, 60), "count/min")
        for hour in (3, 9, 14, 19):
            at = midnight + timedelta(hours=hour, minutes=rng.randrange(60))
            if ok(at):
                yield Sample(
                    M.hrv, src, at, at, round(rng.uniform(35, 90), 1), "ms", watch,
                    details={"method": "sdnn"},
                )  # fmt: skip
        for minute in range(1440):
            at = midnight + timedelta(minutes=minute)
            if not ok(at):
                continue
            yield Sample(M.heart_rate, src, at, at, rng.randrange(48, 170), "count/min", watch)
        for slot in range(7 * 6, 23 * 6):
            start = midnight + timedelta(minutes=slot * 10)
            if ok(start + timedelta(minutes=10)):
                yield Sample(
                    M.steps, src, start, start + timedelta(minutes=10), rng.randrange(0, 1500),
                    "count", watch,
                )  # fmt: skip
        for hour in range(24):
            start = midnight + timedelta(hours=hour)
            if ok(start + timedelta(hours=1)):
                yield Sample(
                    M.active_energy, src, start, start + timedelta(hours=1),
                    round(rng.uniform(5, 400), 1), "kcal",
                )  # fmt: skip
        start = midnight + timedelta(hours=18)
        if offset % 2 == 0 and ok(start + timedelta(minutes=90)):
            minutes = rng.randrange(30, 90)
            yield Sample(
                M.workout, src, start, start + timedelta(minutes=minutes), minutes, "min", watch,
                activity="running", details={"energy_kcal": minutes * 10.0},
            )  # fmt: skip


async def load_summary_user(platform: Platform, plan: Plan) -> tuple[BenchUser, dict[str, Any]]:
    user = await new_user(platform, "summary")
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    stream = year_of_samples(plan.summary_days, now)
    total = stored = 0
    t0 = time.perf_counter()
    while True:
        batch = [s for _, s in zip(range(BATCH * 2), stream, strict=False)]
        if not batch:
            break
        async with platform.unit_of_work() as session:
            stored += (
                await service.store_samples(
                    session, platform.vault, platform.health_store, user.id, batch
                )
                or 0
            )
        total += len(batch)
    elapsed = time.perf_counter() - t0
    await cache.invalidate(platform.redis, user.id)
    async with platform.unit_of_work() as session:
        hr = await session.scalar(_count_sql(), {"user_id": user.id, "metric": M.heart_rate.value})
    return user, {
        "days": plan.summary_days,
        "samples": total,
        "stored": stored,
        "heart_rate_samples": hr,
        "load_s": round(elapsed, 2),
        "load_samples_per_s": round(total / elapsed, 1),
    }


def _count_sql() -> Any:
    return text(
        "SELECT count(*) FROM health_metrics WHERE user_id = :user_id AND metric_type = :metric"
    )


async def summary_split(platform: Platform, user_id: uuid.UUID, days: int) -> dict[str, float]:
    """compute_summary's steps, timed one by one (as compute_summary runs them)."""
    store, vault = platform.health_store, platform.vault
    async with platform.unit_of_work() as session:
        user = await session.get(User, user_id)
        assert user is not None
        tz = service.zone_of(user)
        now = datetime.now(UTC)
        today = now.astimezone(tz).date()
        first = today - timedelta(days=days - 1)
        baseline_first = min(first, today - timedelta(days=BASELINE_DAYS + RECENT_DAYS - 1))

        def day_start(d: date) -> datetime:
            return datetime.combine(d, clock_time.min, tz).astimezone(UTC)

        end = day_start(today + timedelta(days=1))
        t0 = time.perf_counter()
        sealed = await store.read(
            session,
            user.id,
            BASELINE_METRICS,
            day_start(baseline_first - timedelta(days=1)),
            end,
        )
        sealed += await store.read(
            session, user.id, WINDOW_METRICS, day_start(first - timedelta(days=1)), end
        )
        t1 = time.perf_counter()
        open_one = await vault.opener(session, user.id, purpose=service.PURPOSE)
        raw = [open_one(s.payload) for s in sealed]
        t2 = time.perf_counter()
        samples = [
            Sample.from_payload(
                r, metric=s.metric, source=s.source, start=s.start, end=s.end, unit=s.unit
            )
            for r, s in zip(raw, sealed, strict=True)
        ]
        t3 = time.perf_counter()
        every_day = daily(samples, tz, baseline_first, today)
        shown = [d for d in every_day if d.day >= first]
        result = {
            "days": [d.as_json() for d in shown],
            "window": window(shown),
            "alerts": [a.as_json() for a in alerts(every_day)],
        }
        t4 = time.perf_counter()
        whole = await service.compute_summary(session, vault, store, user, days)
        t5 = time.perf_counter()
        assert len(whole["days"]) == len(result["days"])
    return {
        "samples": len(sealed),
        "read": ms(t1 - t0),
        "aead": ms(t2 - t1),
        "payload_json": ms(t3 - t2),
        "summarize": ms(t4 - t3),
        "compute_summary": ms(t5 - t4),
    }


async def part_summary(
    platform: Platform, plan: Plan, client: httpx.AsyncClient, api_pid: int
) -> dict[str, Any]:
    console.rule("[bold]3. Summary latency[/bold]  GET /v1/health/summary")
    console.print(f"  storing {plan.summary_days} days of samples through store_samples…")
    user, loaded = await load_summary_user(platform, plan)
    console.print(
        f"  {loaded['samples']:,} samples ({loaded['heart_rate_samples']:,} minute heart rate) "
        f"in {loaded['load_s']:.1f}s = {loaded['load_samples_per_s']:,.0f} samples/s in-process"
    )
    await log_in(client, user)
    assert user.headers is not None

    async def get(days: int) -> float:
        t0 = time.perf_counter()
        response = await client.get(f"/v1/health/summary?days={days}", headers=user.headers)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise RuntimeError(f"summary: HTTP {response.status_code} {response.text[:300]}")
        return elapsed

    async def timed(n: int, before: Callable[[], Awaitable[None]] | None, days: int) -> list[float]:
        out = []
        for _ in range(n):
            if before is not None:
                await before()
            out.append(await get(days))
        return out

    async def bump() -> None:
        await cache.invalidate(platform.redis, user.id)

    rows: list[dict[str, Any]] = []
    for days in (7, 30, 90):
        await get(days)  # warm-up: connections, keys, code paths
        api0 = cpu_seconds(api_pid)
        cold = await timed(plan.summary_requests, bump, days)
        api1 = cpu_seconds(api_pid)
        await bump()
        await get(days)  # fills the cache
        warm = await timed(plan.summary_requests, None, days)
        splits = [await summary_split(platform, user.id, days) for _ in range(3)]
        split = {k: median([s[k] for s in splits]) for k in splits[0]}
        rows.append(
            {
                "days": days,
                "cold_p50_ms": ms(percentile(cold, 0.5)),
                "cold_p95_ms": ms(percentile(cold, 0.95)),
                "warm_p50_ms": ms(percentile(warm, 0.5)),
                "warm_p95_ms": ms(percentile(warm, 0.95)),
                "api_cpu_ms_per_cold": None
                if api0 is None or api1 is None
                else ms(api1 - api0) / len(cold),
                "split_ms": split,
            }
        )

    table = Table(
        title=f"GET /v1/health/summary ({plan.summary_requests} requests each; "
        f"{loaded['samples']:,} samples over {plan.summary_days} days)"
    )
    for column in (
        "days", "cold p50", "cold p95", "warm p50", "warm p95", "API CPU/cold",
        "samples read", "read", "AEAD open", "payload JSON", "summarize", "compute_summary",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    for row in rows:
        s = row["split_ms"]
        table.add_row(
            str(row["days"]),
            f"{row['cold_p50_ms']:.0f}",
            f"{row['cold_p95_ms']:.0f}",
            f"{row['warm_p50_ms']:.1f}",
            f"{row['warm_p95_ms']:.1f}",
            fmt(row["api_cpu_ms_per_cold"], ".0f"),
            f"{s['samples']:,.0f}",
            f"{s['read']:.0f}",
            f"{s['aead']:.0f}",
            f"{s['payload_json']:.0f}",
            f"{s['summarize']:.0f}",
            f"{s['compute_summary']:.0f}",
        )
    console.print(table)
    console.print(
        "all times ms. cold: the user's cache generation bumped before each request; warm: "
        "served from the sealed Redis copy. read / AEAD open / payload JSON / summarize: "
        "compute_summary's steps timed one by one in this process (median of 3); "
        "compute_summary: the real function, same process, right after."
    )
    return {"data": loaded, "rows": rows}


# -- the run ---------------------------------------------------------------------------------


async def run_bench(
    args: argparse.Namespace, plan: Plan, settings: Settings, urls: ServiceUrls, base: Path
) -> dict[str, Any]:
    platform = await open_platform(settings, urls)
    handle = postgres.running_postgres(base / "pg")
    pg_pid = handle.pid if handle is not None else None
    proc: subprocess.Popen[bytes] | None = None
    log_path = base / "api.log"
    results: dict[str, Any] = {
        "quick": args.quick,
        "cores": os.cpu_count(),
        "started_at": datetime.now(UTC).isoformat(),
    }
    try:
        parts = [args.only] if args.only else ["ingest", "import", "summary"]
        needs_api = any(p in parts for p in ("ingest", "summary"))
        port = free_port()
        base_url = f"http://{HOST}:{port}"
        if needs_api:
            console.print(f"starting the API (uvicorn, 1 worker) on {base_url}…")
            proc = start_api(settings, port, log_path)
            try:
                await asyncio.to_thread(wait_http, proc, f"{base_url}/ready", "the API", 90.0)
            except RuntimeError:
                console.print(log_tail(log_path), markup=False)
                raise
        async with httpx.AsyncClient(base_url=base_url, timeout=300.0, trust_env=False) as client:
            for part in parts:
                t0 = time.perf_counter()
                if part == "ingest":
                    assert proc is not None
                    results["ingest"] = await part_ingest(
                        platform, plan, client, proc.pid, pg_pid, log_path
                    )
                elif part == "import":
                    results["import"] = await part_import(platform, plan, settings, pg_pid)
                else:
                    assert proc is not None
                    results["summary"] = await part_summary(platform, plan, client, proc.pid)
                console.print(f"  ({part}: {time.perf_counter() - t0:.0f}s)")
        if proc is not None and proc.poll() is not None:
            console.print("[yellow]the API exited; its log ends with:[/yellow]")
            console.print(log_tail(log_path), markup=False)
    except Exception:
        if proc is not None:
            console.print("[yellow]failed; the API log ends with:[/yellow]")
            console.print(log_tail(log_path, 60), markup=False)
        raise
    finally:
        stop_process(proc)
        await platform.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts for a smoke run")
    parser.add_argument("--only", choices=("ingest", "import", "summary"))
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    # bcrypt at its cheapest: logins are not what this bench measures
    with embedded_services("wc-health-bench-", auth=AuthSettings(bcrypt_rounds=4)) as (
        base,
        settings,
        urls,
    ):
        console.print(f"embedded PostgreSQL and Valkey in {base}; {os.cpu_count()} cores")
        results = asyncio.run(run_bench(args, plan, settings, urls, base))
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    console.print(f"done in {results['elapsed_s']:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
