"""Runs every Python example of docs/api-guide.md, in order, against a live server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.factories import unique_email

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_guide_examples_run(live_server, platform):
    from wellcoach.notify.email import list_outbox
    from wellcoach.platform import run_with_platform

    def read_outbox(email: str) -> str:
        async def work(platform_):
            async with platform_.unit_of_work() as session:
                rows = await list_outbox(session, to=email, limit=1)
                return re.search(r"token=([\w\-.]+)", rows[0].body).group(1)

        return run_with_platform(work, platform.settings)

    namespace = {
        "BASE_URL": live_server,
        "EMAIL": unique_email("guide"),
        "PASSWORD": "a guide passphrase 42",
        "read_outbox": read_outbox,
    }
    blocks = BLOCK.findall(GUIDE.read_text())
    assert len(blocks) >= 8
    for index, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"api-guide block {index}", "exec"), namespace)
        except Exception as exc:  # name the failing block
            pytest.fail(f"api-guide.md python block {index} failed: {exc!r}")
