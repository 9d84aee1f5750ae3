"""Schemathesis over the whole API, as a verified user: shared by the bounded pass in the
test suite and the longer run in bench/."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FuzzRun:
    exit_code: int
    output: str
    seconds: float


def run_schemathesis(base_url: str, access_token: str, *, max_examples: int, seed: int) -> FuzzRun:
    """Every operation, every check, every phase (examples, coverage, fuzzing, stateful),
    with the repository's schemathesis.toml; a fixed seed makes a run repeatable."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {access_token}",
            "--max-examples",
            str(max_examples),
            "--seed",
            str(seed),
            "--request-timeout",
            "20",
            "--no-color",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return FuzzRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)
