"""The gateway's table (settings) made into the checks one request meets.

Every /v1 request meets `global` (per client address) and, once signed in, the user's
daily `requests` quota; a route adds the policies it opts into by name. A user's limits
follow their tier at each request, over the same counts: a change of tier takes effect
on the next request, and what was used today still counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from limits import parse

from wellcoach.config import GatewayPolicy, RateLimitSettings
from wellcoach.errors import InvalidInput
from wellcoach.ratelimit.gate import Check, Decision, Gate, Policy, Usage

ALWAYS = ("global",)
SIGNED_IN = ("requests",)


@dataclass(frozen=True)
class Caller:
    """Who a request counts against."""

    address: str  # the client address's pseudonym, never the address itself
    user_id: uuid.UUID | None = None
    tier: str | None = None


def policy(settings: RateLimitSettings, name: str, tier: str | None = None) -> Policy:
    try:
        row = settings.policies[name]
    except KeyError:
        known = ", ".join(sorted(settings.policies))
        raise InvalidInput(f"No rate-limit policy {name!r}; policies: {known}.") from None
    return _policy(name, row, tier)


def checks_for(
    settings: RateLimitSettings, caller: Caller, names: Iterable[str] = (), *, only: bool = False
) -> list[Check]:
    """The checks a request of `caller` meets on a route that opts into `names`; a
    per-user policy is skipped for a caller not signed in (the route refuses them).
    `only`: just the named policies (a route that decides from the request's body
    whether a policy applies, after the gate counted the request)."""
    checks: list[Check] = []
    for name in dict.fromkeys([*(() if only else (*ALWAYS, *SIGNED_IN)), *names]):
        row = settings.policies.get(name)
        if row is None:
            continue
        if row.per == "ip":
            checks.append(Check(_policy(name, row, caller.tier), caller.address))
        elif caller.user_id is not None:
            checks.append(Check(_policy(name, row, caller.tier), str(caller.user_id)))
    return checks


async def count(
    gate: Gate,
    settings: RateLimitSettings,
    caller: Caller,
    names: Iterable[str] = (),
    *,
    only: bool = False,
) -> Decision:
    """Count one request of `caller` (see `checks_for`); raises `RateLimited` when a policy
    refuses it. With rate limiting off, nothing is counted."""
    if not settings.enabled:
        return Decision(True, ())
    decision = await gate.check(checks_for(settings, caller, names, only=only))
    decision.raise_if_refused()
    return decision


def user_policies(settings: RateLimitSettings, tier: str) -> list[Policy]:
    return [
        _policy(name, row, tier) for name, row in settings.policies.items() if row.per == "user"
    ]


async def usage_of(
    gate: Gate, settings: RateLimitSettings, user_id: uuid.UUID, tier: str
) -> Sequence[Usage]:
    """What a user used of each per-user policy, counting nothing."""
    return await gate.peek(
        [Check(policy, str(user_id)) for policy in user_policies(settings, tier)]
    )


async def reset_usage(
    gate: Gate,
    settings: RateLimitSettings,
    user_id: uuid.UUID,
    tier: str,
    name: str | None = None,
) -> list[str]:
    """Forget what a user used (of one policy, or of all): the names reset."""
    policies = [policy(settings, name, tier)] if name else user_policies(settings, tier)
    if name and policies[0].per != "user":
        raise InvalidInput(f"{name!r} counts per client address, not per user.")
    await gate.reset([Check(policy, str(user_id)) for policy in policies])
    return [policy.name for policy in policies]


def _policy(name: str, row: GatewayPolicy, tier: str | None) -> Policy:
    return _parsed(
        name, row.tiers.get(tier or "", row.rate), row.per, row.calendar_day, row.fail_closed
    )


@lru_cache(maxsize=256)
def _parsed(name: str, rate: str, per: str, calendar_day: bool, fail_closed: bool) -> Policy:
    item = parse(rate)
    return Policy(
        name=name,
        limit=item.amount,
        window_seconds=item.get_expiry(),
        per="ip" if per == "ip" else "user",
        calendar_day=calendar_day,
        fail_closed=fail_closed,
    )
