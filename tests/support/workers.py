"""A real RQ worker process, as `wellcoach up` runs it, on the test's services."""

from __future__ import annotations

import asyncio
import subprocess
import sys


async def run_worker_until_idle() -> None:
    """`wellcoach worker --burst`: works every queued job, then exits (needs `cli_env`)."""
    worker = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "worker", "--burst"],
        capture_output=True,
        timeout=180,
    )
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]
