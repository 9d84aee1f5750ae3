"""GDPR export of a heavy user: a year of minute-level heart rate (525,600 samples) plus
daily resting heart rate, HRV and sleep. Prints the time and the memory it takes to
write the export ZIP as a stream into a sealed file (what the export job does), and,
as the reference measured in the same run, to build the same ZIP in memory from the
whole document.

    python bench/gdpr_export_bench.py [--days N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import resource
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import embedded_services

from wellcoach.audit import RequestContext
from wellcoach.auth.service import create_user
from wellcoach.config import Settings
from wellcoach.crypto.files import SealedWriter
from wellcoach.gdpr.export import collect, write_export, write_zip
from wellcoach.health import service
from wellcoach.health.samples import Sample
from wellcoach.models.enums import HealthMetricType as M
from wellcoach.models.enums import HealthSource as S
from wellcoach.platform import open_platform
from wellcoach.runtime.services import ServiceUrls


def year_of(days: int, now: datetime) -> list[list[Sample]]:
    """Day by day: 1,440 heart-rate samples, a resting HR, an HRV and a night."""
    batches = []
    first = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days):
        start = first + timedelta(days=day)
        batch = [
            Sample(M.heart_rate, S.apple_health, t, t, 55.0 + (i % 60), "count/min", "Apple Watch")
            for i in range(1440)
            for t in [start + timedelta(minutes=i)]
        ]
        batch.append(Sample(M.resting_heart_rate, S.apple_health, start, start, 52.0, "count/min"))
        batch.append(Sample(M.hrv, S.apple_health, start, start, 61.0, "ms", "Apple Watch"))
        bed = start - timedelta(hours=1)
        batch.append(
            Sample(
                M.sleep,
                S.apple_health,
                bed,
                bed + timedelta(hours=7),
                420.0,
                "min",
                "Apple Watch",
                stage="asleep",
            )  # fmt: skip
        )
        batches.append(batch)
    return batches


async def main(days: int, settings: Settings, urls: ServiceUrls) -> None:
    platform = await open_platform(settings, urls)
    now = datetime.now(UTC)
    async with platform.unit_of_work() as session:
        user = await create_user(
            session,
            platform,
            email=f"heavy-{uuid.uuid4().hex[:6]}@example.com",
            password="a long passphrase 42",
            verified=True,
            consents={"data_processing": True, "health_data": True},
            context=RequestContext(source="bench"),
        )
    started = time.perf_counter()
    total = 0
    every_day = year_of(days, now)
    for week in range(0, days, 7):
        chunk = [s for batch in every_day[week : week + 7] for s in batch]
        async with platform.unit_of_work() as session:
            await service.store_samples(
                session, platform.vault, platform.health_store, user.id, chunk
            )
        total += len(chunk)
    print(f"stored {total:,} samples over {days} days in {time.perf_counter() - started:.1f} s")

    async def streamed() -> int:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "export.sealed"
            async with platform.unit_of_work() as session:
                seal = await platform.vault.sealer_any(session, user.id)
                with open(path, "wb") as raw:
                    writer = SealedWriter(raw, lambda i, data: seal(data, f"bench:{i}"))
                    await write_export(
                        session, platform.vault, platform.health_store, user.id,
                        now=now, out=writer,  # type: ignore[arg-type]
                    )  # fmt: skip
                    return writer.finish()

    async def in_memory() -> int:
        async with platform.unit_of_work() as session:
            document = await collect(
                session, platform.vault, platform.health_store, user.id, now=now
            )
            buffer = io.BytesIO()
            write_zip(document, buffer)
            return len(buffer.getvalue())

    print(f"{'way':<34} {'seconds':>8} {'zip MB':>8} {'peak traced MB':>15}")
    for name, work in (
        ("stream into a sealed file (job)", streamed),
        ("whole document in memory (ref.)", in_memory),
    ):
        gc.collect()
        started = time.perf_counter()
        size = await work()
        elapsed = time.perf_counter() - started  # untraced: tracemalloc slows allocations
        tracemalloc.start()
        await work()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{name:<34} {elapsed:>8.1f} {size / 1e6:>8.1f} {peak / 1e6:>15.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (both ways, the second one sets it): {rss:.0f} MB")
    await platform.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    days = parser.parse_args().days
    with embedded_services("wc-export-bench-") as (_base, settings, urls):
        asyncio.run(main(days, settings, urls))
