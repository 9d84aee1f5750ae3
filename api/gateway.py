"""The rate-limit gate of every /v1 route: one Redis call per request.

A route opts into policies by name with `limited("chat_send")` (its OpenAPI operation
then lists them under `x-rate-limit-policies`); every /v1 route also meets `global`
and, for a signed-in user, the daily `requests` quota. The RateLimit-* fields go on the
answer (by the request middleware, so error answers carry them too); a refusal is a
429 naming the policy. A request the server fails to serve (5xx) is given back: the
user did nothing wrong, and a turn refused for overload must not eat the quota.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from api.deps import AuthenticationDep, PlatformDep
from wellcoach.ratelimit import pseudonym, pseudonym_key
from wellcoach.ratelimit.policies import Caller, count

POLICIES_KEY = "x-rate-limit-policies"
HEADERS_STATE = "ratelimit_headers"
REFUND_STATE = "ratelimit_refund"


def limited(*names: str) -> dict[str, Any]:
    """`openapi_extra` of a route that opts into the named policies."""
    return {POLICIES_KEY: list(names)}


def policies_of(route: Any) -> tuple[str, ...]:
    if isinstance(route, APIRoute) and route.openapi_extra:
        return tuple(route.openapi_extra.get(POLICIES_KEY, ()))
    return ()


def address_of(request: Request, master_key: bytes) -> str:
    """The pseudonym of the client's address (X-Forwarded-For only from a trusted proxy:
    uvicorn has already replaced the peer address when it is one)."""
    host = request.client.host if request.client else "unknown"
    return pseudonym(pseudonym_key(master_key), host)


async def gatekeeper(
    request: Request, platform: PlatformDep, authentication: AuthenticationDep
) -> None:
    user = authentication.user
    caller = Caller(
        address=address_of(request, platform.vault.keyring.current),
        user_id=user.id if user is not None else None,
        tier=user.tier.value if user is not None else None,
    )
    decision = await count(
        platform.gate,
        platform.settings.ratelimit,
        caller,
        policies_of(request.scope.get("route")),
    )
    request.state.ratelimit_headers = decision.headers()  # a refusal's 429 carries its own
    if decision.counted:

        async def refund() -> None:
            await platform.gate.refund(decision)

        request.state.ratelimit_refund = refund
