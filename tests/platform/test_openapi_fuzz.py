"""A bounded schemathesis pass over the whole API, as a verified user with consent to
data processing: every operation, every check, a fixed seed. It must find no server
error and no disagreement between the OpenAPI document and what the API does. A longer
run is `python bench/schemathesis_long.py`."""

from __future__ import annotations

from tests.support.fuzz import run_schemathesis
from tests.support.realtime import committed_user, tokens

MAX_EXAMPLES = 25
SEED = 20261203


async def test_schemathesis_finds_nothing(live_server, platform):
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    run = run_schemathesis(live_server, access, max_examples=MAX_EXAMPLES, seed=SEED)
    summary = run.output[-6000:]
    assert run.exit_code == 0, summary
    assert "passed" in summary and "failures" not in summary.split("Test cases:")[-1], summary
