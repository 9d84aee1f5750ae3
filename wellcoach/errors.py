"""Domain errors: each carries a stable machine-readable code, never an HTTP status.

Adapters map codes once (api/errors.py to HTTP, cli to exit codes); jobs retry
only `Retryable` errors.
"""

from __future__ import annotations

from typing import Any


class WellcoachError(Exception):
    code = "internal_error"
    kind = "internal"
    # True when the work done before the error must still be committed: the
    # revocation after a token reuse, the audit entry of a failed login.
    keep_changes = False

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = details


class NotFound(WellcoachError):
    """The resource does not exist or is not visible to you."""

    code = "not_found"
    kind = "not_found"


class InvalidInput(WellcoachError):
    """The request is not valid."""

    code = "invalid_input"
    kind = "invalid"


class Conflict(WellcoachError):
    """The request conflicts with the current state."""

    code = "conflict"
    kind = "conflict"


class Unauthorized(WellcoachError):
    """Authentication is required or has failed."""

    code = "unauthorized"
    kind = "unauthorized"


class Forbidden(WellcoachError):
    """You are not allowed to do this."""

    code = "forbidden"
    kind = "forbidden"


class RateLimited(WellcoachError):
    """Too many requests."""

    code = "rate_limited"
    kind = "rate_limited"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message, details=details)
        self.retry_after = retry_after
        # what the answer carries besides Retry-After (the RateLimit-* fields)
        self.headers = headers or {}


class Retryable(WellcoachError):
    """A transient failure: the same call may succeed later."""

    code = "temporarily_unavailable"
    kind = "unavailable"


class ServiceUnavailable(Retryable):
    """A service the platform depends on is not reachable."""

    code = "service_unavailable"


class KeyShredded(WellcoachError):
    """The data key of this user was destroyed: the data is unreadable by design."""

    code = "key_shredded"
    kind = "gone"
