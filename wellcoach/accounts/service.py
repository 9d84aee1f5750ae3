"""Profile and consent use cases."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.accounts import repository as users
from wellcoach.accounts.errors import ConsentRequired
from wellcoach.accounts.schemas import (
    AvatarConfig,
    ConsentChange,
    ConsentRecordOut,
    ConsentsOut,
    ConsentState,
    ProfilePatch,
    UserPreferences,
    UserProfile,
)
from wellcoach.audit import RequestContext, record
from wellcoach.audit.service import record_each
from wellcoach.db.base import utcnow
from wellcoach.errors import Forbidden, NotFound
from wellcoach.models import ConsentRecord, User
from wellcoach.models.enums import ConsentPurpose, Role


async def profile_of(session: AsyncSession, user: User) -> UserProfile:
    consent = await users.current_consents(session, user.id)
    return UserProfile(
        id=user.id,
        email=user.email,
        name=user.name,
        sport=user.sport,
        team=user.team,
        country=user.country,
        timezone=user.timezone,
        role=user.role.value,
        tier=user.tier.value,
        avatar_config=AvatarConfig.model_validate(user.avatar_config or {}),
        preferences=UserPreferences.model_validate(user.preferences or {}),
        consent=ConsentState(**consent),
        email_verified=user.email_verified_at is not None,
        two_factor_enabled=user.totp_enabled_at is not None,
        created_at=user.created_at,
        last_active=user.last_active_at,
    )


async def read_profile(
    session: AsyncSession, subject: Subject, user_id: uuid.UUID, context: RequestContext
) -> UserProfile:
    """Read someone's profile through the access-control query; audited when not one's own."""
    user = await users.readable(session, subject, user_id)
    if user is None:
        raise NotFound()
    if subject.user_id != user.id:
        await record(
            session,
            "profile.read",
            context=context,
            user_id=user.id,
            actor_id=subject.user_id,
            resource_type="user",
            resource_id=user.id,
            details={"actor_role": subject.role.value},
        )
    return await profile_of(session, user)


async def list_accounts(
    session: AsyncSession,
    subject: Subject,
    *,
    role: Role | None,
    limit: int,
    context: RequestContext,
) -> list[User]:
    """Accounts (emails, names), oldest first, for an administrator; each listed account
    gets a `profile.listed` entry, so its own trail shows who saw it."""
    if not subject.is_admin:
        raise Forbidden("Only administrators list accounts.")
    found = await users.list_users(session, role=role, limit=limit)
    await record_each(
        session,
        "profile.listed",
        [user.id for user in found if user.id != subject.user_id],
        context=context,
        actor_id=subject.user_id,
        resource_type="user",
        details={"actor_role": subject.role.value},
    )
    return found


async def update_profile(
    session: AsyncSession, user: User, patch: ProfilePatch, context: RequestContext
) -> UserProfile:
    changed = patch.model_dump(exclude_unset=True)
    for field in ("name", "sport", "team", "country"):
        if field in changed:
            setattr(user, field, changed[field])
    if "timezone" in changed:
        user.timezone = changed["timezone"] or "UTC"
    if patch.avatar_config is not None:
        user.avatar_config = patch.avatar_config.model_dump()
    if patch.preferences is not None:
        merged: dict[str, Any] = {
            **UserPreferences.model_validate(user.preferences or {}).model_dump(),
            **patch.preferences.model_dump(exclude_unset=True, exclude_none=True),
        }
        if merged.get("health_data_sync"):
            consents = await users.current_consents(session, user.id)
            if not consents["health_data"]:
                raise ConsentRequired(
                    "Health data sync needs your consent to health data processing first.",
                    details={"consent": "health_data"},
                )
        user.preferences = UserPreferences.model_validate(merged).model_dump()
    user.updated_at = utcnow()
    if changed:
        await record(
            session,
            "profile.update",
            context=context,
            user_id=user.id,
            actor_id=user.id,
            resource_type="user",
            resource_id=user.id,
            details={"fields": sorted(changed)},
        )
    await session.flush()
    return await profile_of(session, user)


async def record_consents(
    session: AsyncSession,
    user: User,
    wanted: Mapping[str, bool | None],
    *,
    policy_version: str,
    source: str,
    context: RequestContext,
    only_changes: bool = True,
) -> list[str]:
    """Append a consent record per purpose that changes; returns the purposes changed.

    Withdrawing health data consent also switches health sync off, so the app
    stops sending and the coach stops using health context.
    """
    current = await users.current_consents(session, user.id)
    changed = []
    for purpose in ConsentPurpose:
        value = wanted.get(purpose.value)
        if value is None or (only_changes and current[purpose.value] == value):
            continue
        session.add(
            ConsentRecord(
                user_id=user.id,
                purpose=purpose,
                granted=value,
                policy_version=policy_version,
                source=source,
                ip_address=context.ip_address,
            )
        )
        changed.append(purpose.value)
    if wanted.get("health_data") is False:
        prefs = dict(user.preferences or {})
        prefs["health_data_sync"] = False
        user.preferences = prefs
    if changed:
        await session.flush()
        await record(
            session,
            "consent.change",
            context=context,
            user_id=user.id,
            actor_id=user.id,
            resource_type="consent",
            details={purpose: wanted[purpose] for purpose in changed}
            | {"policy_version": policy_version},
        )
    return changed


async def change_consents(
    session: AsyncSession, user: User, change: ConsentChange, context: RequestContext
) -> ConsentsOut:
    await record_consents(
        session,
        user,
        change.model_dump(exclude={"policy_version"}),
        policy_version=change.policy_version,
        source=context.source,
        context=context,
    )
    return await consents_of(session, user)


async def consents_of(session: AsyncSession, user: User) -> ConsentsOut:
    current = await users.current_consents(session, user.id)
    history = await users.consent_history(session, user.id)
    return ConsentsOut(
        current=ConsentState(**current),
        history=[
            ConsentRecordOut(
                purpose=row.purpose.value,
                granted=row.granted,
                policy_version=row.policy_version,
                source=row.source,
                created_at=row.created_at,
            )
            for row in history
        ],
    )


async def has_consent(session: AsyncSession, user_id: uuid.UUID, purpose: ConsentPurpose) -> bool:
    return (await users.current_consents(session, user_id))[purpose.value]
