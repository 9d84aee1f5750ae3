"""`wellcoach limits`: what a user used of the gateway's per-user policies, and resets."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.audit import RequestContext, record
from wellcoach.auth.admin import find_user
from wellcoach.platform import Platform, run_with_platform
from wellcoach.ratelimit.policies import reset_usage, usage_of

app = typer.Typer(help="See and reset a user's rate-limit usage.", no_args_is_help=True)
CLI = RequestContext(source="cli")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


@app.command()
@handle_errors
def show(user: str, as_json: bool = JSON) -> None:
    """Current usage of each per-user policy (the user's tier applied), counting nothing.
    Per-address policies (`global`, `auth_login`) count addresses, not users."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await find_user(session, user)
            user_id, email, tier = found.id, found.email, found.tier.value
            await record(
                session,
                "ratelimit.usage_read",
                context=CLI,
                user_id=user_id,
                resource_type="user",
                resource_id=user_id,
            )
        usages = await usage_of(platform.gate, platform.settings.ratelimit, user_id, tier)
        return {
            "user_id": str(user_id),
            "email": email,
            "tier": tier,
            "enabled": platform.settings.ratelimit.enabled,
            "policies": [usage.as_dict() for usage in usages],
        }

    data = run_with_platform(work)
    if as_json:
        print_json(data)
        return
    table = Table(title=f"{data['email']} ({data['tier']} tier)")
    for column in ("policy", "used", "limit", "remaining", "window", "resets in"):
        table.add_column(column, justify="right" if column != "policy" else "left")
    for row in data["policies"]:
        table.add_row(
            row["policy"],
            str(row["used"]),
            str(row["limit"]),
            str(row["remaining"]),
            row["window"],
            f"{row['reset_after']} s",
        )
    console.print(table)
    if not data["enabled"]:
        console.print("rate limiting is disabled (WELLCOACH_RATELIMIT__ENABLED=false)")


@app.command()
@handle_errors
def reset(
    user: str,
    policy: str | None = typer.Argument(None, help="One policy; all per-user ones if omitted."),
    as_json: bool = JSON,
) -> None:
    """Forget what a user used (of one policy, or of all): audited."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await find_user(session, user)
            names = await reset_usage(
                platform.gate, platform.settings.ratelimit, found.id, found.tier.value, policy
            )
            await record(
                session,
                "ratelimit.reset",
                context=CLI,
                user_id=found.id,
                resource_type="user",
                resource_id=found.id,
                details={"policies": names},
            )
            return {"user_id": str(found.id), "email": found.email, "reset": names}

    data = run_with_platform(work)
    if as_json:
        print_json(data)
    else:
        console.print(f"reset {', '.join(data['reset'])} for {data['email']}")
