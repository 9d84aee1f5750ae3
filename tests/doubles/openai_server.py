"""A small, controllable OpenAI-compatible HTTP server for tests and benchmarks.

In-process (a uvicorn server on its own thread and event loop, on a free port)::

    with FakeOpenAIServer() as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        server.fail_next(1, status=503)       # the next request answers HTTP 503
        server.fail_model("gpt-4o")           # every request for gpt-4o fails
        server.set_latency(50)                # 50 ms before every answer
        server.requests                       # what the clients sent
        server.reset()                        # back to the defaults, forgets requests

As a script, for benchmarks::

    python tests/doubles/openai_server.py --port 8899 --latency-ms 50

Endpoints: `POST /v1/chat/completions` (streaming or not), `POST /v1/embeddings`,
`POST /v1/moderations`, `GET /v1/models`, `GET /v1/models/{id}`. A running
server (also a subprocess) is controlled over HTTP too: `POST /_control/<method>`
with the method's keyword arguments as JSON (e.g. `/_control/fail_next`
`{"n": 2, "status": 429}`), `GET /_control/requests`, `GET /_control/stats`.

Replies are deterministic: see `default_reply`. Token counts are whitespace words.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_MODELS = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "omni-moderation-latest",
)
DEFAULT_EMBEDDING_DIMENSIONS = 1536
REPLY_ECHO_WORDS = 5

# Category -> phrases (lowercase, matched as substrings of the lowercased input).
MODERATION_RULES: dict[str, tuple[str, ...]] = {
    "self-harm": (
        "kill myself",
        "end my life",
        "take my own life",
        "want to die",
        "hurt myself",
        "harm myself",
        "cut myself",
        "suicide",
        "suicidal",
        "self-harm",
        "self harm",
    ),
    "self-harm/intent": (
        "kill myself",
        "end my life",
        "take my own life",
        "want to die",
        "hurt myself",
        "cut myself",
    ),
    "self-harm/instructions": ("how to kill myself", "how to hurt myself", "ways to die"),
    "violence": ("kill you", "kill him", "kill her", "kill them", "beat you up"),
    "harassment": ("you are worthless", "you're worthless", "you idiot", "you loser"),
    "harassment/threatening": ("kill you", "beat you up", "hurt you"),
}
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = {
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "violence",
    "violence/graphic",
}

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    408: ("server_error", "timeout", "Request timed out."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", "bad_gateway", "Bad gateway."),
    503: ("server_error", "service_unavailable", "The server is overloaded or not ready yet."),
}


# ---------------------------------------------------------------------------
# Deterministic content
# ---------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """The server's token count: whitespace-separated words."""
    return len(text.split())


def content_text(content: Any) -> str:
    """Text of a message `content`: a string, or a list of parts (text parts joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def default_reply(model: str, messages: list[dict[str, Any]]) -> str:
    """The reply to a chat request, unless `set_reply` says otherwise.

    `[gpt-4o-mini] You said "I feel tired after training". Here is a helpful tip: ...`
    (the first `REPLY_ECHO_WORDS` words of the last user message).
    """
    words = last_user_text(messages).split()[:REPLY_ECHO_WORDS]
    echo = " ".join(words) if words else "nothing"
    return (
        f'[{model}] You said "{echo}". Here is a helpful tip: '
        "rest well, stay hydrated and keep your training consistent."
    )


def split_tokens(text: str) -> list[str]:
    """Stream pieces: each word with its leading whitespace; `"".join` gives `text` back."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[sum(len(p) for p in pieces) :]
    if tail:
        pieces.append(tail)
    return pieces


def embed_text(text: str, dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> np.ndarray:
    """A deterministic unit vector (float32) for `text`.

    A hashed bag of words plus a little text-seeded noise: the same text always gives
    the same vector, and texts that share words are more similar than texts that don't.
    """
    words = re.findall(r"\w+", text.lower())
    vector = np.zeros(dimensions, dtype=np.float64)
    if words:
        indices: list[int] = []
        signs: list[float] = []
        for word in words:
            digest = hashlib.blake2b(word.encode(), digest_size=32).digest()
            for offset in range(0, 32, 4):
                value = int.from_bytes(digest[offset : offset + 4], "little")
                indices.append(value % dimensions)
                signs.append(1.0 if value >> 31 else -1.0)
        np.add.at(vector, indices, signs)
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    noise = np.random.default_rng(seed).standard_normal(dimensions)
    noise /= np.linalg.norm(noise)
    norm = np.linalg.norm(vector)
    vector = vector / norm + 0.3 * noise if norm > 0 else noise
    vector /= np.linalg.norm(vector)
    return vector.astype(np.float32)


def moderate_text(text: str, rules: dict[str, tuple[str, ...]] | None = None) -> set[str]:
    """The categories `text` falls under."""
    lowered = " ".join(text.lower().split())
    rules = MODERATION_RULES if rules is None else rules
    return {category for category, phrases in rules.items() if any(p in lowered for p in phrases)}


# ---------------------------------------------------------------------------
# Records and behaviour
# ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    endpoint: str  # "chat/completions", "embeddings", "moderations", "models"
    headers: dict[str, str]  # lowercased names
    body: Any  # the decoded JSON body (None for GET or undecodable bodies)
    received_at: float  # time.time()
    status: int | None = None  # the HTTP status answered (None while in flight)

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream")) if isinstance(self.body, dict) else False

    @property
    def messages(self) -> list[dict[str, Any]]:
        if not isinstance(self.body, dict):
            return []
        return self.body.get("messages") or []

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"model": self.model, "stream": self.stream}


@dataclass
class _Fault:
    remaining: int
    status: int | None  # None: no error (a hang only)
    hang_s: float = 0.0
    retry_after: float | None = None
    message: str | None = None
    model: str | None = None
    endpoint: str | None = None
    after_tokens: int | None = None  # fail a stream after this many tokens

    def matches(self, model: str | None, endpoint: str, stream: bool) -> bool:
        if self.model is not None and self.model != model:
            return False
        if self.endpoint is not None and self.endpoint.strip("/") != endpoint:
            return False
        if self.after_tokens is not None:
            return stream and endpoint == "chat/completions"
        return True


@dataclass
class _Behaviour:
    latency_s: float | None = None
    token_delay_s: float | None = None
    hang_s: float | None = None
    fail_status: int | None = None
    fail_retry_after: float | None = None
    reply: str | Callable[[dict[str, Any]], str] | None = None


@dataclass
class _Plan:
    latency_s: float = 0.0
    token_delay_s: float = 0.0
    hang_s: float = 0.0
    error: tuple[int, float | None, str | None] | None = None  # status, retry-after, message
    error_after_tokens: int | None = None
    reply: str | Callable[[dict[str, Any]], str] | None = None


@dataclass
class _Stats:
    in_flight: int = 0
    peak_in_flight: int = 0
    total: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def _error_response(
    status: int, message: str | None = None, retry_after: float | None = None
) -> JSONResponse:
    kind, code, default_message = _ERRORS.get(status, ("server_error", None, "Error."))
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if status == 429 and retry_after is None:
        retry_after = 1.0
    if retry_after is not None:
        headers["retry-after"] = str(max(0, math.ceil(retry_after)))
        headers["retry-after-ms"] = str(round(retry_after * 1000))
    body = {"error": {"message": message or default_message, "type": kind, "param": None}}
    body["error"]["code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class _UvicornServer(uvicorn.Server):
    """Releases hanging requests when shutdown begins, so shutdown is quick."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


class FakeOpenAIServer:
    """An OpenAI-compatible server on loopback; all controls are thread-safe.

    Controls taking `model=` apply to requests for that model only (they override the
    server-wide setting); without it they apply to every request. Faults queued with
    `fail_next`/`hang_next` are consumed in order by the requests they match.
    `reset()` restores the constructor's settings, forgets requests and faults, and
    releases any request that is sleeping or hanging.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        token_delay_ms: float = 0.0,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        api_key: str | None = None,
        embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
        moderation_rules: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._defaults = _Behaviour(
            latency_s=latency_ms / 1000, token_delay_s=token_delay_ms / 1000
        )
        self.models = list(models)
        self.api_key = api_key  # when set, other bearer tokens get HTTP 401
        self.embedding_dimensions = embedding_dimensions
        self.moderation_rules = moderation_rules
        self._lock = threading.Lock()
        self._behaviours: dict[str | None, _Behaviour] = {}
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._stats = _Stats()
        self._epoch = 0  # bumped by reset()/stop(): sleeping requests wake up
        self._closing = False
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._reset_behaviours()
        self.app = self._build_app()

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- lifecycle ---------------------------------------------------------

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(2048)
        self._port = sock.getsockname()[1]
        self._socket = sock
        return sock

    def _make_server(self, log_level: str, configure_logging: bool) -> uvicorn.Server:
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",  # a bound method: uvicorn's auto-detection would pick ASGI2
            lifespan="off",
            log_level=log_level,
            log_config=uvicorn.config.LOGGING_CONFIG if configure_logging else None,
            access_log=configure_logging and log_level in ("debug", "trace"),
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        return _UvicornServer(config, on_shutdown=self._release_all)

    def _release_all(self) -> None:
        """Wake every sleeping or hanging request, and stop streams, for shutdown."""
        self._closing = True
        with self._lock:
            self._epoch += 1

    def start(self, timeout: float = 5.0) -> FakeOpenAIServer:
        """Serve on a background thread; returns once the server accepts requests."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        self._closing = False
        sock = self._bind()
        server = self._server = self._make_server("warning", configure_logging=False)
        thread = self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.002)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; requests still hanging or sleeping are released first."""
        self._release_all()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = self._socket = None

    def serve_forever(self, log_level: str = "info") -> None:
        """Serve on the calling (main) thread until SIGINT/SIGTERM."""
        sock = self._bind()
        print(f"fake OpenAI server listening on {self.base_url}", flush=True)
        self._server = self._make_server(log_level, configure_logging=True)
        try:
            self._server.run(sockets=[sock])
        finally:
            sock.close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, **kwargs: Any) -> Any:
        """An `openai.AsyncOpenAI` for this server (api_key "test" unless given)."""
        import openai

        kwargs.setdefault("api_key", self.api_key or "test")
        return openai.AsyncOpenAI(base_url=self.base_url, **kwargs)

    # -- controls ----------------------------------------------------------

    def _behaviour(self, model: str | None) -> _Behaviour:
        return self._behaviours.setdefault(model, _Behaviour())

    def _reset_behaviours(self) -> None:
        self._behaviours = {None: _Behaviour(**asdict(self._defaults))}

    def set_latency(self, ms: float, *, model: str | None = None) -> None:
        """Wait `ms` milliseconds before answering (before the first byte of a stream)."""
        with self._lock:
            self._behaviour(model).latency_s = ms / 1000

    def set_token_delay(self, ms: float, *, model: str | None = None) -> None:
        """Wait `ms` between streamed tokens; non-streamed replies wait tokens x `ms` in all."""
        with self._lock:
            self._behaviour(model).token_delay_s = ms / 1000

    def set_hang(self, seconds: float | None, *, model: str | None = None) -> None:
        """Every request (for `model`) hangs `seconds` before answering; None/0 ends it."""
        with self._lock:
            self._behaviour(model).hang_s = seconds or None

    def hang_next(
        self,
        seconds: float,
        n: int = 1,
        *,
        model: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """The next `n` matching requests hang `seconds`, then answer normally."""
        with self._lock:
            self._faults.append(
                _Fault(remaining=n, status=None, hang_s=seconds, model=model, endpoint=endpoint)
            )

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        model: str | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
        message: str | None = None,
        after_tokens: int | None = None,
    ) -> None:
        """The next `n` matching requests answer HTTP `status` with an OpenAI error body.

        `retry_after` (seconds) sends `retry-after` (whole seconds) and `retry-after-ms`
        (the `openai` client prefers the latter); a 429 sends 1 s unless told.
        `endpoint` is e.g. "chat/completions" or "embeddings". With `after_tokens`, only
        streamed chat requests match: they send that many tokens, then an error event
        (`data: {"error": ...}`), which the `openai` client raises as `APIError`.
        """
        with self._lock:
            self._faults.append(
                _Fault(
                    remaining=n,
                    status=status,
                    retry_after=retry_after,
                    message=message,
                    model=model,
                    endpoint=endpoint,
                    after_tokens=after_tokens,
                )
            )

    def fail_model(
        self, model: str, status: int = 503, *, retry_after: float | None = None
    ) -> None:
        """Every request for `model` fails with `status` until `restore_model`/`reset`."""
        with self._lock:
            behaviour = self._behaviour(model)
            behaviour.fail_status = status
            behaviour.fail_retry_after = retry_after

    def restore_model(self, model: str) -> None:
        with self._lock:
            behaviour = self._behaviour(model)
            behaviour.fail_status = behaviour.fail_retry_after = None

    def set_reply(
        self,
        reply: str | Callable[[dict[str, Any]], str] | None,
        *,
        model: str | None = None,
    ) -> None:
        """Chat replies become `reply` (or `reply(request_body)`); None: `default_reply`."""
        with self._lock:
            self._behaviour(model).reply = reply

    def reset(self) -> None:
        """Back to the constructor's settings; forgets requests, faults and statistics."""
        with self._lock:
            self._reset_behaviours()
            self._faults.clear()
            self._requests.clear()
            in_flight = self._stats.in_flight
            self._stats = _Stats(in_flight=in_flight, peak_in_flight=in_flight)
            self._epoch += 1

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- inspection --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first (failed ones included)."""
        with self._lock:
            return list(self._requests)

    def requests_for(
        self, endpoint: str | None = None, *, model: str | None = None
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (endpoint is None or r.endpoint == endpoint.strip("/"))
            and (model is None or r.model == model)
        ]

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    @property
    def stats(self) -> dict[str, Any]:
        """`in_flight`, `peak_in_flight`, `total` and `by_status` since the last reset."""
        with self._lock:
            return asdict(self._stats) | {"by_status": dict(self._stats.by_status)}

    # -- request handling --------------------------------------------------

    def _plan(self, model: str | None, endpoint: str, stream: bool) -> _Plan:
        with self._lock:
            server_wide = self._behaviours[None]
            specific = self._behaviours.get(model) if model is not None else None

            def pick(name: str) -> Any:
                value = getattr(specific, name) if specific is not None else None
                return value if value is not None else getattr(server_wide, name)

            plan = _Plan(
                latency_s=pick("latency_s") or 0.0,
                token_delay_s=pick("token_delay_s") or 0.0,
                hang_s=pick("hang_s") or 0.0,
                reply=pick("reply"),
            )
            for fault in self._faults:
                if fault.matches(model, endpoint, stream):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    plan.hang_s = max(plan.hang_s, fault.hang_s)
                    if fault.status is not None:
                        plan.error = (fault.status, fault.retry_after, fault.message)
                        plan.error_after_tokens = fault.after_tokens
                    break
            if plan.error is None and specific is not None and specific.fail_status is not None:
                plan.error = (specific.fail_status, specific.fail_retry_after, None)
            return plan

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early on reset() or stop()."""
        if seconds <= 0:
            return
        epoch = self._epoch
        deadline = time.monotonic() + seconds
        while not self._closing and self._epoch == epoch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    async def _asgi(self, scope: dict, receive: Any, send: Any) -> None:
        """Counts requests in flight (streams included) around the Starlette app."""
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def send_counting(message: dict) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    status = message["status"]
                    self._stats.by_status[status] = self._stats.by_status.get(status, 0) + 1
            await send(message)

        with self._lock:
            self._stats.in_flight += 1
            self._stats.total += 1
            self._stats.peak_in_flight = max(self._stats.peak_in_flight, self._stats.in_flight)
        try:
            await self.app(scope, receive, send_counting)
        finally:
            with self._lock:
                self._stats.in_flight -= 1

    def _build_app(self) -> Starlette:
        handlers = {
            "chat/completions": self._chat,
            "embeddings": self._embeddings,
            "moderations": self._moderations,
        }

        def api(endpoint: str, method: str) -> Callable[[Request], Any]:
            async def handle(request: Request) -> Response:
                return await self._handle(request, endpoint, method, handlers.get(endpoint))

            return handle

        return Starlette(
            routes=[
                Route("/v1/chat/completions", api("chat/completions", "POST"), methods=["POST"]),
                Route("/v1/embeddings", api("embeddings", "POST"), methods=["POST"]),
                Route("/v1/moderations", api("moderations", "POST"), methods=["POST"]),
                Route("/v1/models", api("models", "GET"), methods=["GET"]),
                Route("/v1/models/{model_id:path}", api("models", "GET"), methods=["GET"]),
                Route("/_control/requests", self._control_requests, methods=["GET"]),
                Route("/_control/stats", self._control_stats, methods=["GET"]),
                Route("/_control/{action}", self._control, methods=["POST"]),
            ]
        )

    async def _handle(self, request: Request, endpoint: str, method: str, handler: Any) -> Response:
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        record = RecordedRequest(
            method=method,
            path=request.url.path,
            endpoint=endpoint,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.time(),
        )
        with self._lock:
            self._requests.append(record)
        response = await self._respond(request, record, handler, bool(raw))
        record.status = response.status_code
        return response

    async def _respond(
        self, request: Request, record: RecordedRequest, handler: Any, has_body: bool
    ) -> Response:
        if self.api_key is not None and record.authorization != f"Bearer {self.api_key}":
            return _error_response(401)
        if has_body and not isinstance(record.body, dict):
            return _error_response(400, "We could not parse the JSON body of your request.")
        plan = self._plan(record.model, record.endpoint, record.stream)
        await self._sleep(plan.latency_s)
        await self._sleep(plan.hang_s)
        if plan.error is not None and plan.error_after_tokens is None:
            status, retry_after, message = plan.error
            return _error_response(status, message, retry_after)
        if handler is None:
            return self._models(request.path_params.get("model_id"))
        return await handler(record.body or {}, plan)

    # -- endpoints ---------------------------------------------------------

    def _models(self, model_id: str | None) -> Response:
        def entry(name: str) -> dict[str, Any]:
            owner = "openai" if name.startswith(("gpt", "text-", "omni")) else "system"
            return {"id": name, "object": "model", "created": 1700000000, "owned_by": owner}

        if model_id is None:
            return JSONResponse({"object": "list", "data": [entry(m) for m in self.models]})
        if model_id not in self.models:
            return _error_response(404, f"The model `{model_id}` does not exist.")
        return JSONResponse(entry(model_id))

    async def _chat(self, body: dict[str, Any], plan: _Plan) -> Response:
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            return _error_response(400, "`model` and a non-empty `messages` are required.")
        reply = plan.reply
        if reply is None:
            text = default_reply(model, messages)
        else:
            text = reply(body) if callable(reply) else reply
        pieces = split_tokens(text)
        finish_reason = "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(pieces):
            pieces = pieces[:limit]
            text = "".join(pieces)
            finish_reason = "length"
        n = body.get("n") if isinstance(body.get("n"), int) and body["n"] > 0 else 1
        prompt_tokens = sum(
            count_tokens(content_text(m.get("content"))) for m in messages if isinstance(m, dict)
        )
        completion_tokens = count_tokens(text) * n
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        common = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake0penai",
        }
        if not body.get("stream"):
            await self._sleep(plan.token_delay_s * len(pieces))
            choices = [
                {
                    "index": i,
                    "message": {
                        "role": "assistant",
                        "content": text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
                for i in range(n)
            ]
            return JSONResponse(
                {**common, "object": "chat.completion", "choices": choices, "usage": usage}
            )

        stream_options = body.get("stream_options") or {}
        include_usage = isinstance(stream_options, dict) and bool(
            stream_options.get("include_usage")
        )
        error = plan.error if plan.error_after_tokens is not None else None
        error_after = plan.error_after_tokens

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            data = {**common, "object": "chat.completion.chunk", "choices": choices, **extra}
            if include_usage and "usage" not in data:
                data["usage"] = None
            return f"data: {json.dumps(data)}\n\n".encode()

        def choice(i: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}

        async def events() -> AsyncIterator[bytes]:
            yield chunk(
                [choice(i, {"role": "assistant", "content": "", "refusal": None}) for i in range(n)]
            )
            for position, piece in enumerate(pieces):
                if error is not None and position >= (error_after or 0):
                    break
                if position:
                    await self._sleep(plan.token_delay_s)
                yield chunk([choice(i, {"content": piece}) for i in range(n)])
            if error is not None:
                status, _, message = error
                kind, code, default_message = _ERRORS.get(status, ("server_error", None, "Error."))
                payload = {
                    "error": {
                        "message": message or default_message,
                        "type": kind,
                        "param": None,
                        "code": code,
                    }
                }
                yield f"data: {json.dumps(payload)}\n\n".encode()
                return
            yield chunk([choice(i, {}, finish_reason) for i in range(n)])
            if include_usage:
                yield chunk([], usage=usage)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    async def _embeddings(self, body: dict[str, Any], plan: _Plan) -> Response:
        raw = body.get("input")
        if isinstance(raw, str):
            inputs: list[Any] = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
            inputs = [raw]  # one text as token ids
        elif isinstance(raw, list) and raw:
            inputs = raw
        else:
            return _error_response(400, "`input` must be a string or a non-empty array.")
        dimensions = body.get("dimensions") or self.embedding_dimensions
        if not isinstance(dimensions, int) or dimensions < 1:
            return _error_response(400, "`dimensions` must be a positive integer.")
        encoding = body.get("encoding_format") or "float"
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            if isinstance(item, str):
                text = item
                tokens += count_tokens(item)
            else:  # token ids
                text = " ".join(str(t) for t in item) if isinstance(item, list) else str(item)
                tokens += len(item) if isinstance(item, list) else 1
            vector = embed_text(text, dimensions)
            embedding: Any
            if encoding == "base64":
                embedding = base64.b64encode(vector.astype("<f4").tobytes()).decode()
            else:
                embedding = vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or "text-embedding-3-small",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _moderations(self, body: dict[str, Any], plan: _Plan) -> Response:
        raw = body.get("input")
        items: list[tuple[str, bool]] = []  # (text, has_image)
        if isinstance(raw, str):
            items = [(raw, False)]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            items = [(x, False) for x in raw]
        elif isinstance(raw, list) and raw:  # multi-modal parts: one result for all
            has_image = any(isinstance(p, dict) and p.get("type") == "image_url" for p in raw)
            items = [(content_text(raw), has_image)]
        else:
            return _error_response(400, "`input` must be a string, strings or content parts.")
        results = []
        for text, has_image in items:
            hits = moderate_text(text, self.moderation_rules)
            results.append(
                {
                    "flagged": bool(hits),
                    "categories": {c: c in hits for c in MODERATION_CATEGORIES},
                    "category_scores": {
                        c: (0.97 if c in hits else 0.0001) for c in MODERATION_CATEGORIES
                    },
                    "category_applied_input_types": {
                        c: ["text", "image"] if has_image and c in _IMAGE_CATEGORIES else ["text"]
                        for c in MODERATION_CATEGORIES
                    },
                }
            )
        return JSONResponse(
            {
                "id": f"modr-{uuid.uuid4().hex[:24]}",
                "model": body.get("model") or "omni-moderation-latest",
                "results": results,
            }
        )

    # -- HTTP control (for subprocess / script mode) -------------------------

    _CONTROL_ACTIONS = (
        "set_latency",
        "set_token_delay",
        "set_hang",
        "hang_next",
        "fail_next",
        "fail_model",
        "restore_model",
        "set_reply",
        "reset",
        "clear_requests",
    )

    async def _control(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in self._CONTROL_ACTIONS:
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        raw = await request.body()
        try:
            kwargs = json.loads(raw) if raw else {}
            if action == "set_reply" and not isinstance(kwargs.get("reply"), str | None):
                raise TypeError("reply must be a string or null")
            getattr(self, action)(**kwargs)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def _control_requests(self, request: Request) -> Response:
        return JSONResponse([r.to_dict() for r in self.requests])

    async def _control_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8899, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering")
    parser.add_argument("--token-delay-ms", type=float, default=0.0, help="delay per token")
    parser.add_argument("--api-key", default=None, help="answer 401 to other bearer tokens")
    parser.add_argument("--fail-model", action="append", default=[], help="always 503 (repeat)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        token_delay_ms=args.token_delay_ms,
        api_key=args.api_key,
    )
    for model in args.fail_model:
        server.fail_model(model)
    server.serve_forever(log_level=args.log_level)


if __name__ == "__main__":
    main()
