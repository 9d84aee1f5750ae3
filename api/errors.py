"""The one place where domain error codes become HTTP statuses and JSON bodies."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis import exceptions as redis_errors
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.messages import language_of, localized, say
from wellcoach.errors import RateLimited, Retryable, WellcoachError

STATUS_BY_KIND = {
    "not_found": 404,
    "invalid": 400,
    "conflict": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "unavailable": 503,
    "gone": 410,
    "too_large": 413,
    "unsupported_media_type": 415,
    "internal": 500,
}

CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}

log = structlog.get_logger(__name__)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable and machine-readable: what the apps act on.")
    message: str = Field(description="For people; may change.")
    details: Any = Field(None, description="What the code needs to be acted on, if anything.")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}

WHAT_STATUS_MEANS = {
    400: "A rule the schema cannot express refused the request; `error.code` says which.",
    401: "No valid credentials (`invalid_token`, `invalid_credentials`, ...).",
    403: "Not allowed for this account now (`error.code` says why).",
    404: "No such resource, or not visible to you.",
    409: "The request conflicts with the resource's current state.",
    413: "The body is larger than this route accepts (`payload_too_large`).",
    415: "The body's Content-Type is not one this route accepts (`unsupported_media_type`).",
    422: "The request does not match the schema (`validation_error`; `details` names each field).",
    429: "Too many requests; retry after `Retry-After`.",
    503: "A dependency (the database, Redis, the job queue) cannot answer now, or the server"
    " is busy; nothing was changed unless the message says otherwise. Retry after"
    " `Retry-After`.",
}


def error_responses(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, Any]:
    """`responses=` for a route or router: each status it can answer with an error, the
    error body's model, and what it means there (`why` overrides the generic text), so
    the OpenAPI document names every business answer a client must handle."""
    why = why or {}
    responses: dict[int | str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": ErrorOut,
            "description": why.get(status, WHAT_STATUS_MEANS[status]),
        }
        if status in (429, 503):
            response["headers"] = RETRY_AFTER_HEADER
        responses[status] = response
    return responses


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


async def _domain_error(request: Request, exc: Exception, *, retry_after: int) -> JSONResponse:
    assert isinstance(exc, WellcoachError)
    status = STATUS_BY_KIND.get(exc.kind, 500)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers |= exc.headers
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, Retryable):  # a dependency is down: say when to come back
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status >= 500:
        log.error("domain_error", code=exc.code, status=status)
    return JSONResponse(
        error_body(exc.code, localized(request, exc.message, exc.code), exc.details),
        status_code=status,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in exc.errors()
    ]
    return JSONResponse(
        error_body("validation_error", localized(request, "The request is not valid."), details),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "http_error")
    message = localized(
        request, exc.detail if isinstance(exc.detail, str) else code.replace("_", " "), code
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods_of(request))
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)


def _methods_of(request: Request) -> list[str]:
    """Every method the path answers, from the OpenAPI document: routes of one path are
    separate objects, and the router names only the first one's methods in its 405."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {method.upper() for method in operations}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def retry_later(code: str, what: str, retry_after: int, language: str = "en") -> JSONResponse:
    """A 503 the client answers by sending the same request again after `Retry-After`."""
    return JSONResponse(
        error_body(
            code,
            say(f"{what}; retry after the number of seconds in Retry-After.", language, code),
            {"retry_after": retry_after},
        ),
        status_code=503,
        headers={"Retry-After": str(retry_after)},
    )


def busy_response(retry_after: int, language: str = "en") -> JSONResponse:
    """503 for a request the process cannot take now (no database connection came free
    in time): nothing was stored, and the same request may be sent again."""
    return retry_later("server_busy", "The service is busy", retry_after, language)


async def _busy(request: Request, exc: Exception, *, retry_after: int) -> JSONResponse:
    log.warning("server_busy", path=request.url.path, error=type(exc).__name__)
    return busy_response(retry_after, language_of(request))


# what a dependency that cannot answer raises: the database (SQLAlchemy's wrappers, or the
# driver's own errors where code talks to psycopg directly), Redis, a refused connection
OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    DBAPIError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    ConnectionRefusedError,
)
_DRIVER_OUTAGES = (psycopg.OperationalError, psycopg.InterfaceError, OSError)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` says a dependency cannot answer now (down, restarting, a dropped
    connection, a statement cancelled by its timeout), not that the request is wrong.
    A driver error wrapped in a plain `DBAPIError` is judged by the driver's error."""
    if isinstance(exc, DBAPIError):
        return (
            exc.connection_invalidated
            or isinstance(exc, OperationalError | InterfaceError)
            or isinstance(exc.orig, _DRIVER_OUTAGES)
        )
    return isinstance(exc, OUTAGES)


async def _outage(request: Request, exc: Exception, *, retry_after: int) -> JSONResponse:
    """A dependency cannot answer: a 503 the client retries, not a 500. Other driver
    errors are bugs: a 500."""
    if not is_outage(exc):
        return unexpected_error(request.url.path, exc)
    log.warning("service_unavailable", path=request.url.path, error=type(exc).__name__)
    return retry_later(
        "service_unavailable",
        "A service the platform depends on cannot answer now",
        retry_after,
        language_of(request),
    )


def unexpected_error(path: str, exc: BaseException) -> JSONResponse:
    """A 500 whose log names the error's type and where it happened, never its message
    (messages can carry what the user sent; see wellcoach.logging)."""
    log.error("unhandled_error", path=path, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "Something went wrong on our side."), status_code=500
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error(request.url.path, exc)


def install_error_handlers(app: FastAPI, *, busy_retry_after: int = 2) -> None:
    retry_after = busy_retry_after
    app.add_exception_handler(WellcoachError, partial(_domain_error, retry_after=retry_after))
    for outage in OUTAGES:
        app.add_exception_handler(outage, partial(_outage, retry_after=retry_after))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, partial(_busy, retry_after=busy_retry_after))
    app.add_exception_handler(Exception, _unexpected_error)
