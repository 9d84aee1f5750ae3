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
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
