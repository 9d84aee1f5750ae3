"""Request ids and request metrics, as plain ASGI middleware (no body buffering)."""

from __future__ import annotations

import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import unexpected_error
from api.gateway import HEADERS_STATE, REFUND_STATE

REQUESTS = Counter("wellcoach_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "wellcoach_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _add_rate_limit_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    """The gate's RateLimit-* fields, on every answer of a limited route (a 429 already
    carries them)."""
    fields = scope["state"].get(HEADERS_STATE)
    if not fields or any(name.lower() == b"ratelimit-limit" for name, _ in headers):
        return
    headers.extend((name.lower().encode(), value.encode()) for name, value in fields.items())


class RequestContextMiddleware:
    """Binds a request id to logs and echoes it as `X-Request-ID`; records metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
                _add_rate_limit_headers(scope, message["headers"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # answered here, not re-raised: the server would log the whole exception,
            # message included, and messages can carry what the user sent
            if status_holder.get("started"):
                raise
            response = unexpected_error(scope.get("path", ""), exc)
            await response(scope, receive, send_with_id)
        finally:
            refund = scope["state"].get(REFUND_STATE)
            if refund is not None and status_holder["status"] >= 500:
                await refund()  # the request was not served: it must not eat a quota
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)
            REQUESTS.labels(scope["method"], path, str(status_holder["status"])).inc()
            structlog.contextvars.unbind_contextvars("request_id")
