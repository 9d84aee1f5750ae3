"""A longer schemathesis run than the suite's bounded pass (tests/platform/
test_openapi_fuzz.py): more examples per operation, any seed. Starts its own embedded
services and a live API on loopback, signs in a verified user (with consent to data
processing), prints the figures (operations, cases, failures by check, duration) and
deletes everything at the end. Not run in CI: it takes minutes.

    python bench/schemathesis_long.py [--max-examples 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fuzz import run_schemathesis
from tests.support.realtime import committed_user, tokens
from tests.support.services import running_app, start_test_services
from wellcoach.config import AuthSettings, Settings
from wellcoach.crypto.envelope import encode_key, generate_key
from wellcoach.db import migrate
from wellcoach.platform import open_platform
from wellcoach.runtime.services import ServiceUrls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    services = start_test_services()
    try:
        migrate.upgrade(services.database_url)
        settings = Settings(
            _env_file=None,
            env="test",
            data_dir=Path(tempfile.mkdtemp(prefix="wellcoach-fuzz-")),
            database_url=services.database_url,
            redis_url=services.redis_url,
            master_key=encode_key(generate_key()),
            log_level="WARNING",
            auth=AuthSettings(bcrypt_rounds=4),
        )

        async def sign_up() -> str:
            urls = ServiceUrls(services.database_url, services.redis_url, False, False)
            platform = await open_platform(settings, urls)
            try:
                return (await committed_user(platform))[1]
            finally:
                await platform.close()

        email = asyncio.run(sign_up())
        with running_app(settings) as url:
            access = asyncio.run(tokens(url, email))["access_token"]
            run = run_schemathesis(url, access, max_examples=args.max_examples, seed=args.seed)
    finally:
        services.close()
    summary = run.output[run.output.find("SUMMARY") :] if "SUMMARY" in run.output else run.output
    print(summary[-4000:])
    figures = figures_of(run.output)
    print(
        f"schemathesis: max-examples {args.max_examples}, seed {args.seed}: "
        f"{figures['cases']} cases, {figures['operations']} operations, "
        f"{run.seconds:.0f} s, exit {run.exit_code}"
    )
    failures = figures["failures"]
    print("failures by check: " + (", ".join(f"{k} {v}" for k, v in failures.items()) or "none"))
    sys.exit(run.exit_code)


def figures_of(output: str) -> dict:
    """Cases run, operations tested and failures by check, from schemathesis's summary
    ("Failures:" lists one "❌ ST101 Server error: 2" line per check that failed)."""
    cases = re.search(r"(\d+) generated", output)
    operations = re.search(r"Tested: (\d+)", output)
    block = re.search(r"\nFailures:\n(.*?)\n\n", output, re.S)
    failures = {}
    for line in block.group(1).splitlines() if block else []:
        found = re.search(r"(?:ST\d+ )?([^:❌]+?): (\d+)\s*$", line)
        if found:
            failures[found.group(1).strip()] = int(found.group(2))
    return {
        "cases": int(cases.group(1)) if cases else None,
        "operations": int(operations.group(1)) if operations else None,
        "failures": failures,
    }


if __name__ == "__main__":
    main()
