"""The fake OpenAI server, driven through the real `openai.AsyncOpenAI` client."""

from __future__ import annotations

import asyncio
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from tests.doubles.openai_server import FakeOpenAIServer, default_reply, embed_text

MESSAGES = [
    {"role": "system", "content": "You are a calm wellbeing coach."},
    {"role": "user", "content": "I feel tired after every training session this week"},
]
EXPECTED_ECHO = '"I feel tired after every"'


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FakeOpenAIServer) -> Iterator[None]:
    server.reset()
    yield
    server.reset()


@pytest.fixture(scope="module")
async def shared_client(server: FakeOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="test", max_retries=0
    ) as client:
        yield client


@pytest.fixture
def client(shared_client: openai.AsyncOpenAI) -> openai.AsyncOpenAI:
    return shared_client


def client_for(server: FakeOpenAIServer, **kwargs: object) -> openai.AsyncOpenAI:
    """A separate client (own connection pool), for servers other than the fixture's."""
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", **kwargs)


async def test_chat_completion(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    result = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    text = result.choices[0].message.content
    assert text == default_reply("gpt-4o-mini", MESSAGES)
    assert text.startswith("[gpt-4o-mini]") and EXPECTED_ECHO in text
    assert result.object == "chat.completion"
    assert result.model == "gpt-4o-mini"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.prompt_tokens == 6 + 9
    assert result.usage.completion_tokens == len(text.split())
    assert result.usage.total_tokens == result.usage.prompt_tokens + len(text.split())

    [request] = server.requests
    assert request.endpoint == "chat/completions" and request.method == "POST"
    assert request.model == "gpt-4o-mini" and request.stream is False
    assert request.messages == MESSAGES
    assert request.authorization == "Bearer test"
    assert request.status == 200


async def test_chat_completion_max_tokens_truncates(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    result = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=3)
    assert result.choices[0].message.content == "[gpt-4o] You said"
    assert result.choices[0].finish_reason == "length"
    assert result.usage.completion_tokens == 3


async def test_chat_completion_streamed_with_usage(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    tokens: list[str] = []
    chunks = []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        chunks.append(chunk)
        for choice in chunk.choices:
            if choice.delta.content:
                tokens.append(choice.delta.content)

    expected = default_reply("gpt-4o-mini", MESSAGES)
    assert "".join(tokens) == expected
    assert len(tokens) == len(expected.split())  # one chunk per word
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = chunks[-2]
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == 15
    assert last.usage.completion_tokens == len(expected.split())
    assert all(c.usage is None for c in chunks[:-1])
    assert server.last_request.stream is True


def test_stream_wire_format(server: FakeOpenAIServer) -> None:
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert '"finish_reason": "stop"' in lines[-2]
    assert '"usage"' not in "".join(lines)  # no include_usage, no usage


async def test_stream_token_delay(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    server.set_token_delay(20)
    arrivals: list[float] = []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter())
    gaps = np.diff(arrivals)
    assert len(arrivals) > 10
    assert gaps.mean() >= 0.015


async def test_stream_fails_midway(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    server.fail_next(1, status=500, after_tokens=3)
    tokens: list[str] = []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                tokens.append(chunk.choices[0].delta.content)
    assert "".join(tokens) == "[gpt-4o-mini] You said"


async def test_embeddings(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    texts = ["sleep and recovery after a match", "sleep and recovery", "pasta recipe"]
    result = await client.embeddings.create(model="text-embedding-3-small", input=texts)
    again = await client.embeddings.create(
        model="text-embedding-3-small", input=texts[0], encoding_format="float"
    )
    small = await client.embeddings.create(
        model="text-embedding-3-small", input="hello", dimensions=256
    )

    vectors = np.array([item.embedding for item in result.data])
    assert vectors.shape == (3, 1536)
    assert [item.index for item in result.data] == [0, 1, 2]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(again.data[0].embedding, vectors[0], atol=1e-6)
    np.testing.assert_allclose(vectors[0], embed_text(texts[0]), atol=1e-6)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3  # shared words
    assert result.usage.prompt_tokens == 6 + 3 + 2
    assert result.usage.total_tokens == result.usage.prompt_tokens
    assert len(small.data[0].embedding) == 256
    assert server.requests[0].body["encoding_format"] == "base64"  # the client's default


async def test_moderation(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    result = await client.moderations.create(
        model="omni-moderation-latest",
        input=["Some days I want to kill myself", "Great session on the track today"],
    )
    flagged, fine = result.results
    assert flagged.flagged is True
    assert flagged.categories.self_harm is True and flagged.categories.self_harm_intent is True
    assert flagged.categories.violence is False
    assert flagged.category_scores.self_harm > 0.9
    assert fine.flagged is False and not any(fine.categories.model_dump().values())
    assert result.model == "omni-moderation-latest"


async def test_models_list(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    ids = [model.id async for model in client.models.list()]
    one = await client.models.retrieve("gpt-4o")
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")
    assert {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"} <= set(ids)
    assert one.id == "gpt-4o"


async def test_500_then_success_with_one_retry(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.fail_next(1, status=500)
    retrying = client.with_options(max_retries=1)
    result = await retrying.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content.startswith("[gpt-4o-mini]")
    assert [r.status for r in server.requests] == [500, 200]
    assert server.stats["by_status"] == {500: 1, 200: 1}


async def test_503_without_retries_raises(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.fail_next(1, status=503, message="overloaded, try later")
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.status_code == 503
    assert "overloaded" in caught.value.message
    # the failure was used up
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


async def test_429_sends_retry_after(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    server.fail_next(1, status=429)
    server.fail_next(1, status=429, retry_after=0.05)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.code == "rate_limit_exceeded"
    started = time.perf_counter()
    retrying = client.with_options(max_retries=1)
    await retrying.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert time.perf_counter() - started < 0.4  # waited retry-after-ms, not the backoff
    assert [r.status for r in server.requests] == [429, 429, 200]


async def test_hang_times_out(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    server.hang_next(10)
    started = time.perf_counter()
    impatient = client.with_options(max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        await impatient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert 0.4 < time.perf_counter() - started < 2


async def test_reset_releases_hanging_request(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.set_hang(30)
    call = asyncio.ensure_future(client.models.list())
    while not server.requests:
        await asyncio.sleep(0.01)
    await asyncio.to_thread(server.reset)
    page = await asyncio.wait_for(call, 2)
    assert page.data


async def test_failing_model_falls_back(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.fail_model("gpt-4o", status=500)
    replies = []
    failures = []
    for model in ("gpt-4o", "gpt-4o-mini"):
        try:
            result = await client.chat.completions.create(model=model, messages=MESSAGES)
        except openai.APIStatusError as exc:
            failures.append((model, exc.status_code))
            continue
        replies.append(result.choices[0].message.content)
        break
    with pytest.raises(openai.InternalServerError):  # still failing
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    server.restore_model("gpt-4o")
    await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert failures == [("gpt-4o", 500)]
    assert replies == [default_reply("gpt-4o-mini", MESSAGES)]
    assert [(r.model, r.status) for r in server.requests] == [
        ("gpt-4o", 500),
        ("gpt-4o-mini", 200),
        ("gpt-4o", 500),
        ("gpt-4o", 200),
    ]


async def test_fail_next_for_one_model_and_endpoint(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.fail_next(1, status=500, model="gpt-4o", endpoint="chat/completions")
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    await client.embeddings.create(model="gpt-4o", input="not chat")
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


async def test_latency_per_model_and_concurrency(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.set_latency(100, model="gpt-4o")
    started = time.perf_counter()
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    fast = time.perf_counter() - started
    started = time.perf_counter()
    await asyncio.gather(
        *(client.chat.completions.create(model="gpt-4o", messages=MESSAGES) for _ in range(20))
    )
    slow = time.perf_counter() - started
    assert fast < 0.1
    assert 0.1 <= slow < 0.6  # concurrent, not serial
    assert len(server.requests_for("chat/completions", model="gpt-4o")) == 20
    assert server.stats["peak_in_flight"] >= 10
    assert server.stats["in_flight"] == 0


async def test_set_reply(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    server.set_reply('{"mood": "tired"}', model="gpt-4o")
    server.set_reply(lambda body: f"{len(body['messages'])} messages")
    scripted = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    computed = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert scripted.choices[0].message.content == '{"mood": "tired"}'
    assert computed.choices[0].message.content == "2 messages"


def test_http_control(server: FakeOpenAIServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/_control/fail_next", json={"n": 1, "status": 503}).json() == {"ok": True}
        assert http.get("/v1/models").status_code == 503
        assert http.get("/v1/models").status_code == 200
        recorded = http.get("/_control/requests").json()
        assert [r["status"] for r in recorded] == [503, 200]
        assert http.post("/_control/nope").status_code == 404
        assert http.post("/_control/fail_next", json={"bogus": 1}).status_code == 400


async def test_api_key_and_fast_start_stop() -> None:
    started = time.perf_counter()
    with FakeOpenAIServer(api_key="secret", latency_ms=5) as strict:
        assert time.perf_counter() - started < 1.0
        async with strict.client(max_retries=0) as client:  # uses the right key
            assert (await client.models.list()).data
            strict.set_hang(30)
            hanging = asyncio.ensure_future(client.models.list())
            while not strict.stats["in_flight"]:
                await asyncio.sleep(0.01)
            async with client_for(strict) as wrong_key:
                with pytest.raises(openai.AuthenticationError):
                    await wrong_key.models.list()
            await asyncio.to_thread(strict.stop)  # releases the hanging request
            await asyncio.wait_for(hanging, 2)
    assert time.perf_counter() - started < 2.0  # started, served, stopped
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{strict.url}/v1/models")


def test_script_mode() -> None:
    script = Path(__file__).with_name("openai_server.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--latency-ms", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 10)
        assert ready, "the script printed nothing within 10 s"
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        base_url = line.split("listening on ")[1].strip()
        started = time.perf_counter()
        response = httpx.post(
            f"{base_url}/chat/completions",
            json={"model": "gpt-4o-mini", "messages": MESSAGES},
            timeout=5,
        )
        assert response.status_code == 200
        assert EXPECTED_ECHO in response.json()["choices"][0]["message"]["content"]
        assert time.perf_counter() - started >= 0.02  # --latency-ms
    finally:
        process.terminate()  # uvicorn shuts down, then re-raises SIGTERM
        returncode = process.wait(timeout=5)
        process.stdout.close()
    assert returncode in (0, -signal.SIGTERM)
