"""Structured logging: JSON lines with ids, counts and timings, never personal text.

`request_id` and `job_id` come from contextvars bound by the adapters.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog


def exception_without_message(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Render `exc_info` as the chain of exception types and the frames they passed
    through, without messages: a message can carry user input (a driver error quotes
    the statement's values, a validation error the value it refused)."""
    exc_info = event.pop("exc_info", None)
    if exc_info is None or exc_info is False:
        return event
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    _, error, trace = exc_info
    if error is None:
        return event
    chain = []
    while error is not None:
        chain.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
    frames = [
        f"{frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(trace)[-12:]
    ]
    event["exception"] = {"types": chain, "frames": frames}
    return event


class _Stderr:
    """`sys.stderr` as it is at each write: a test, or a server, may swap it after the
    logging was configured."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


STDERR: Any = _Stderr()


_HANDLER_NAME = "wellcoach"
# loggers that uvicorn and python-socketio give handlers of their own, which print
# exceptions with their messages: routed to the root handler, they are rendered like
# ours. python-socketio adds its handler only to a logger without a level: given one
# (what it would set), it adds none.
_SERVER_LOGGERS = {
    "uvicorn": None,
    "uvicorn.error": None,
    "uvicorn.access": None,
    "engineio.server": logging.ERROR,
    "socketio.server": logging.ERROR,
}


def _route_standard_logging(
    level: int, shared: list[structlog.types.Processor], renderer: structlog.types.Processor
) -> None:
    """Records of the standard library's loggers (the server, Socket.IO, asyncio, RQ, the
    database driver) go through the same processors as ours: one format, and exceptions
    without their messages there too. Libraries speak from WARNING up whatever `level`
    is: at INFO, SQLAlchemy would log every statement."""
    handler = logging.StreamHandler(STDERR)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(max(level, logging.WARNING))
    for name, server_level in _SERVER_LOGGERS.items():
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
        if server_level is not None and server_logger.level == logging.NOTSET:
            server_logger.setLevel(server_level)


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        exception_without_message,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(STDERR),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(numeric_level, processors, renderer)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
