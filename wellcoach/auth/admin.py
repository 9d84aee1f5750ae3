"""Administrative account changes (CLI and, later, admin API), each audited."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.audit import RequestContext, record
from wellcoach.auth import refresh
from wellcoach.db.base import utcnow
from wellcoach.errors import NotFound
from wellcoach.models import User
from wellcoach.models.enums import Role, Tier


async def find_user(session: AsyncSession, ref: str) -> User:
    """An account by email or id, or NotFound."""
    user = await users.get_by_email_or_id(session, ref)
    if user is None:
        raise NotFound(f"No user matches {ref!r}.")
    return user


async def set_role(session: AsyncSession, user: User, role: Role, context: RequestContext) -> None:
    previous = user.role
    user.role = role
    await record(
        session,
        "admin.set_role",
        context=context,
        user_id=user.id,
        resource_type="user",
        resource_id=user.id,
        details={"from": previous.value, "to": role.value},
    )


async def set_tier(session: AsyncSession, user: User, tier: Tier, context: RequestContext) -> None:
    previous = user.tier
    user.tier = tier
    await record(
        session,
        "admin.set_tier",
        context=context,
        user_id=user.id,
        resource_type="user",
        resource_id=user.id,
        details={"from": previous.value, "to": tier.value},
    )


async def set_disabled(
    session: AsyncSession, user: User, disabled: bool, context: RequestContext
) -> None:
    """Disabling signs the user out everywhere, open Socket.IO connections included (once
    this commits: `refresh.revoke_all` announces it); their data is kept (erasure is
    GDPR's job, and ends the sessions through `refresh.revoke_all` too)."""
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        await refresh.revoke_all(session, user.id, reason="account_disabled")
    await record(
        session,
        "admin.disable" if disabled else "admin.enable",
        context=context,
        user_id=user.id,
        resource_type="user",
        resource_id=user.id,
    )
