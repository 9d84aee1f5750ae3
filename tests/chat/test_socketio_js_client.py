"""What the apps' client, the npm `socket.io-client`, sees when a connection is refused:
`err.message` in plain words and `err.data` the documented `{"error": {code, message}}`.

Needs Node.js; the client is installed once from tests/js/package-lock.json into
tests/js/node_modules (git-ignored) and reused by later runs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.realtime import committed_user, tokens

JS = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS / "connect_refused.mjs"


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the npm socket.io-client cannot run")
    if not (JS / "node_modules" / "socket.io-client" / "package.json").is_file():
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not"
        subprocess.run(
            [npm, "ci", "--prefix", str(JS), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return node


async def js_connect(node: str, *args: str) -> dict:
    """Run the npm client (in a thread: the live server shares this process)."""
    result = await asyncio.to_thread(
        subprocess.run,
        [node, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_the_npm_client_gets_the_error_object_of_a_refused_connection(node, live_server):
    seen = await js_connect(node, live_server, "/chat", "not-a-token")
    assert seen["event"] == "connect_error"
    assert seen["data"]["error"]["code"] == "invalid_token"
    assert seen["message"] == seen["data"]["error"]["message"]  # words, not a Python repr


async def test_the_npm_client_is_refused_on_the_default_namespace(node, live_server, platform):
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    seen = await js_connect(node, live_server, "/", access)
    assert seen == {
        "event": "connect_error",
        "message": "Connect to the namespace /chat.",
        "data": {
            "error": {"code": "unknown_namespace", "message": "Connect to the namespace /chat."}
        },
    }
