"""The authentication flows. Each function is one use case; the adapter commits.

Responses that could reveal whether an email has an account (register, login,
password reset, resend) look and take the same whether it does or not. Rate limits
count email and IP addresses by their keyed hash (`_limit_id`), never the address.
"""

from __future__ import annotations

import uuid
from typing import get_args

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.accounts.countries import inferred_country, inferred_language
from wellcoach.accounts.errors import ConsentRequired
from wellcoach.accounts.schemas import Language, UserPreferences, checked_email
from wellcoach.accounts.service import record_consents
from wellcoach.audit import RequestContext, record
from wellcoach.auth import one_time, passwords, refresh, totp
from wellcoach.auth.deps import AuthServices
from wellcoach.auth.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidToken,
    InvalidTotp,
    TokenReused,
    TotpRequired,
)
from wellcoach.auth.schemas import RegisterIn, TokenPair
from wellcoach.db.base import utcnow
from wellcoach.errors import Conflict, InvalidInput
from wellcoach.models import User
from wellcoach.models.enums import Role, Tier
from wellcoach.notify.email import queue_email
from wellcoach.ratelimit import pseudonym, pseudonym_key

LOGIN_FAILURES_PER_ACCOUNT = "5/10minutes"
EMAIL_PER_ACCOUNT = "3/hour"
REGISTER_PER_IP = "10/hour"
REGISTER_PER_EMAIL = "3/hour"
SUPPORTED_LANGUAGES: tuple[str, ...] = get_args(Language)
# a taken address writes a decoy account in a savepoint it rolls back (`register`)
DECOY_DOMAIN = "decoy.invalid"


def _failures_per_ip(services: AuthServices) -> str:
    """SPEC's `auth_login` row of the gateway table: failed logins per client address."""
    return services.settings.ratelimit.policies["auth_login"].rate


def _limit_id(services: AuthServices, value: str) -> str:
    """What the limiter counts an email or IP address by: its HMAC under a key derived
    from the master key (`wellcoach.ratelimit.pseudonyms`)."""
    return pseudonym(pseudonym_key(services.vault.keyring.current), value)


async def create_user(
    session: AsyncSession,
    services: AuthServices,
    *,
    email: str,
    password: str,
    name: str | None = None,
    role: Role = Role.athlete,
    tier: Tier = Tier.free,
    sport: str | None = None,
    team: str | None = None,
    language: str = "en",
    country: str | None = None,
    timezone: str = "UTC",
    verified: bool = False,
    consents: dict[str, bool] | None = None,
    consent_source: str = "registration",
    context: RequestContext,
) -> User:
    """Create an account with its data key and initial consents (no email sent)."""
    email = users.normalize_email(email)
    passwords.check_policy(password, email)
    if await users.get_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.")
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=await passwords.hash_password(password, services.settings.auth.bcrypt_rounds),
        name=name,
        role=role,
        tier=tier,
        sport=sport,
        team=team,
        country=country,
        timezone=timezone,
        preferences=UserPreferences(language=language).model_dump(),
        avatar_config={},
        email_verified_at=utcnow() if verified else None,
        password_changed_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await services.vault.create_user_key(session, user.id)
    await record_consents(
        session,
        user,
        consents or {},
        policy_version="2026-11",
        source=consent_source,
        context=context,
        only_changes=False,
    )
    await record(
        session,
        "user.register",
        context=context,
        user_id=user.id,
        actor_id=user.id,
        resource_type="user",
        resource_id=user.id,
        details={"role": role.value},
    )
    return user


async def register(
    session: AsyncSession,
    services: AuthServices,
    data: RegisterIn,
    context: RequestContext,
    *,
    accept_language: str | None = None,
) -> None:
    """Sign up and send the verification email; an existing email gets a notice instead.

    A country or language the body leaves out is read from its `locale`, else from the
    request's `accept_language` header (`signup_locale`).

    Throttled per IP and per address, failing closed like login. Both endings do the same
    work, so neither the answer nor its duration tells whether the address has an
    account: one lookup, the same limiter calls, one bcrypt hash, the rows of a new
    account and its one-time token (for a taken address, a decoy's, written in a
    savepoint that is rolled back) and one email in the outbox.
    """
    email = users.normalize_email(checked_email(data.email))  # a domain that takes email
    if not data.consents.data_processing:
        raise ConsentRequired(
            "Using wellcoach needs your consent to data processing.",
            details={"consent": "data_processing"},
        )
    ip = context.ip_address or "unknown"
    await services.limiter.enforce(
        REGISTER_PER_IP, "register-ip", _limit_id(services, ip), fail_open=False
    )
    await services.limiter.enforce(
        REGISTER_PER_EMAIL, "register-email", _limit_id(services, email), fail_open=False
    )
    passwords.check_policy(data.password, email)
    data = signup_locale(data, accept_language)
    existing = await users.get_by_email(session, email)
    if existing is None:
        async with session.begin_nested():
            user = await _create_registered(session, services, data, email, context)
            await send_verification(session, services, user)
        return
    existing_id, language = existing.id, existing.preferences.get("language", "en")
    decoy_savepoint = await session.begin_nested()
    try:
        decoy_email = f"{uuid.uuid4().hex}@{DECOY_DOMAIN}"
        decoy = await _create_registered(session, services, data, decoy_email, context)
        services.vault.forget(decoy.id)
        await one_time.create(session, services.signer, decoy.id, one_time.VERIFY_EMAIL)
    finally:
        await decoy_savepoint.rollback()
    decision = await services.limiter.hit(EMAIL_PER_ACCOUNT, "email", str(existing_id))
    if decision.allowed:
        await queue_email(
            session, to=email, template="already_registered", language=language, user_id=existing_id
        )


def signup_locale(data: RegisterIn, accept_language: str | None) -> RegisterIn:
    """The sign-up with its country and language filled in: as given, else from the
    body's `locale`, else from the Accept-Language header; a country left unknown stays
    None (crisis resources then follow the language), a language falls back to en."""
    country = data.country or inferred_country(data.locale, accept_language)
    language = data.language or inferred_language(data.locale, accept_language, SUPPORTED_LANGUAGES)
    return data.model_copy(update={"country": country, "language": language or "en"})


async def _create_registered(
    session: AsyncSession,
    services: AuthServices,
    data: RegisterIn,
    email: str,
    context: RequestContext,
) -> User:
    return await create_user(
        session,
        services,
        email=email,
        password=data.password,
        name=data.name,
        role=Role(data.role),
        sport=data.sport,
        team=data.team,
        language=data.language or "en",
        country=data.country,
        timezone=data.timezone,
        consents=data.consents.model_dump(),
        context=context,
    )


async def _email_one_time_link(
    session: AsyncSession,
    services: AuthServices,
    user: User,
    *,
    purpose: str,
    template: str,
    path: str,
    limit_key: str,
) -> None:
    """Email a single-use link, at most 3 an hour per account (silently skipped beyond)."""
    decision = await services.limiter.hit(EMAIL_PER_ACCOUNT, limit_key, str(user.id))
    if not decision.allowed:
        return
    token = await one_time.create(session, services.signer, user.id, purpose)
    await queue_email(
        session,
        to=user.email,
        template=template,
        user_id=user.id,
        language=user.preferences.get("language", "en"),
        name=user.name or "",
        token=token,
        link=one_time.link(services.settings.api, path, token),
    )


async def send_verification(session: AsyncSession, services: AuthServices, user: User) -> None:
    await _email_one_time_link(
        session,
        services,
        user,
        purpose=one_time.VERIFY_EMAIL,
        template="verify_email",
        path="/v1/auth/verify",
        limit_key="email",
    )


async def resend_verification(session: AsyncSession, services: AuthServices, email: str) -> None:
    user = await users.get_by_email(session, email)
    if user is None or user.email_verified_at is not None:
        return
    await send_verification(session, services, user)


async def verify_email(
    session: AsyncSession, services: AuthServices, token: str, context: RequestContext
) -> User:
    user_id = await one_time.consume(session, services.signer, token, one_time.VERIFY_EMAIL)
    user = await users.get_by_id(session, user_id)
    if user is None:
        raise InvalidToken()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        await record(
            session,
            "user.verify_email",
            context=context,
            user_id=user.id,
            actor_id=user.id,
            resource_type="user",
            resource_id=user.id,
        )
    return user


async def _issue_pair(
    session: AsyncSession, services: AuthServices, user: User, context: RequestContext
) -> TokenPair:
    issued = await refresh.issue(
        session, user.id, services.settings.auth.refresh_ttl_seconds, context
    )
    access, expires_in = await services.signer.issue_access(
        user.id, user.role.value, user.tier.value, user.session_epoch, issued.record.family_id
    )
    return TokenPair(access_token=access, refresh_token=issued.token, expires_in=expires_in)


async def login(
    session: AsyncSession,
    services: AuthServices,
    *,
    email: str,
    password: str,
    totp_code: str | None,
    context: RequestContext,
) -> TokenPair:
    """Check credentials (and 2FA), failing closed. Guessing is throttled by failures, per
    account and per address (5 each in 10 minutes); all attempts from one address have a
    generous cap of their own (`auth.login_attempts_per_ip`), so a team signing in from
    one network is never locked out by its own successful logins."""
    email = users.normalize_email(email)
    rounds = services.settings.auth.bcrypt_rounds
    ip_id = _limit_id(services, context.ip_address or "unknown")
    await services.limiter.enforce(
        services.settings.auth.login_attempts_per_ip, "login-ip", ip_id, fail_open=False
    )
    ip_key = ("login-ip-failures", ip_id)
    account_key = ("login-account", _limit_id(services, email))
    for rule, key in (
        (_failures_per_ip(services), ip_key),
        (LOGIN_FAILURES_PER_ACCOUNT, account_key),
    ):
        if await services.limiter.peek(rule, *key) <= 0:
            await services.limiter.enforce(rule, *key, fail_open=False)

    user = await users.get_by_email(session, email)
    valid = await passwords.verify_password(
        password, user.password_hash if user else passwords.dummy_hash(rounds)
    )
    if user is None or not valid:
        await services.limiter.hit(_failures_per_ip(services), *ip_key, fail_open=False)
        await services.limiter.hit(LOGIN_FAILURES_PER_ACCOUNT, *account_key, fail_open=False)
        await record(
            session,
            "auth.login_failed",
            context=context,
            user_id=user.id if user else None,
            resource_type="user",
            details={"reason": "bad_credentials"},
        )
        raise InvalidCredentials()
    if user.disabled_at is not None:
        await record(
            session,
            "auth.login_failed",
            context=context,
            user_id=user.id,
            details={"reason": "disabled"},
        )
        raise AccountDisabled()
    if user.totp_enabled_at is not None:
        await _check_second_factor(session, services, user, totp_code, context)
    if passwords.needs_rehash(user.password_hash, rounds):
        user.password_hash = await passwords.hash_password(password, rounds)
    user.last_active_at = utcnow()
    await services.limiter.reset(LOGIN_FAILURES_PER_ACCOUNT, *account_key)
    await record(
        session,
        "auth.login",
        context=context,
        user_id=user.id,
        actor_id=user.id,
        resource_type="user",
        resource_id=user.id,
        details={"second_factor": user.totp_enabled_at is not None},
    )
    return await _issue_pair(session, services, user, context)


async def _check_second_factor(
    session: AsyncSession,
    services: AuthServices,
    user: User,
    code: str | None,
    context: RequestContext,
) -> None:
    if not code:
        raise TotpRequired()
    secret = await totp.load_secret(session, services.vault, user)
    if secret and await totp.verify_code(services.redis, user.id, secret, code):
        return
    if await totp.use_recovery_code(session, user.id, code):
        await record(
            session, "auth.recovery_code_used", context=context, user_id=user.id, actor_id=user.id
        )
        return
    await services.limiter.hit(
        LOGIN_FAILURES_PER_ACCOUNT,
        "login-account",
        _limit_id(services, user.email),
        fail_open=False,
    )
    await record(
        session,
        "auth.login_failed",
        context=context,
        user_id=user.id,
        details={"reason": "bad_second_factor"},
    )
    raise InvalidTotp()


async def refresh_tokens(
    session: AsyncSession, services: AuthServices, token: str, context: RequestContext
) -> TokenPair:
    """Rotate the refresh token; a reused one revokes its family (and is audited)."""
    try:
        issued = await refresh.rotate(
            session, token, services.settings.auth.refresh_ttl_seconds, context
        )
    except TokenReused:
        stale = await refresh.find(session, token)
        await record(
            session,
            "auth.refresh_token_reused",
            context=context,
            user_id=stale.user_id if stale else None,
            resource_type="refresh_family",
            resource_id=stale.family_id if stale else None,
        )
        raise
    user = await users.get_by_id(session, issued.record.user_id)
    if user is None or user.disabled_at is not None:
        await refresh.revoke_family(session, issued.record.family_id, reason="account_disabled")
        raise InvalidToken()
    access, expires_in = await services.signer.issue_access(
        user.id, user.role.value, user.tier.value, user.session_epoch, issued.record.family_id
    )
    user.last_active_at = utcnow()
    return TokenPair(access_token=access, refresh_token=issued.token, expires_in=expires_in)


async def logout(
    session: AsyncSession, services: AuthServices, user: User, token: str, context: RequestContext
) -> None:
    """Revoke the session (refresh family) the given refresh token belongs to."""
    record_ = await refresh.find(session, token)
    if record_ is None or record_.user_id != user.id:
        raise InvalidToken()
    await refresh.revoke_family(session, record_.family_id, reason="logout")
    await record(session, "auth.logout", context=context, user_id=user.id, actor_id=user.id)


async def forgot_password(session: AsyncSession, services: AuthServices, email: str) -> None:
    user = await users.get_by_email(session, email)
    if user is None or user.disabled_at is not None:
        return
    await _email_one_time_link(
        session,
        services,
        user,
        purpose=one_time.RESET_PASSWORD,
        template="reset_password",
        path="/v1/auth/password/reset",
        limit_key="reset",
    )


async def _set_password(
    session: AsyncSession,
    services: AuthServices,
    user: User,
    new_password: str,
    reason: str,
    context: RequestContext,
) -> None:
    passwords.check_policy(new_password, user.email)
    user.password_hash = await passwords.hash_password(
        new_password, services.settings.auth.bcrypt_rounds
    )
    user.password_changed_at = utcnow()
    # access tokens of the previous epoch stop working at once (see api.deps)
    user.session_epoch = (user.session_epoch or 0) + 1
    await refresh.revoke_all(session, user.id, reason=reason)
    await one_time.invalidate_all(session, user.id, one_time.RESET_PASSWORD)
    await queue_email(
        session,
        to=user.email,
        template="password_changed",
        user_id=user.id,
        language=user.preferences.get("language", "en"),
        name=user.name or "",
    )
    await record(
        session,
        f"auth.{reason}",
        context=context,
        user_id=user.id,
        actor_id=user.id,
        resource_type="user",
        resource_id=user.id,
    )


async def reset_password(
    session: AsyncSession,
    services: AuthServices,
    token: str,
    new_password: str,
    context: RequestContext,
) -> None:
    user_id = await one_time.consume(session, services.signer, token, one_time.RESET_PASSWORD)
    user = await users.get_by_id(session, user_id)
    if user is None:
        raise InvalidToken()
    await _set_password(session, services, user, new_password, "password_reset", context)


async def change_password(
    session: AsyncSession,
    services: AuthServices,
    user: User,
    current: str,
    new: str,
    context: RequestContext,
) -> TokenPair:
    """Change the password, sign out every session, and return fresh tokens for this one."""
    if not await passwords.verify_password(current, user.password_hash):
        await record(
            session,
            "auth.password_change_failed",
            context=context,
            user_id=user.id,
            actor_id=user.id,
        )
        raise InvalidCredentials("The current password is wrong.")
    if current == new:
        raise InvalidInput("The new password must differ from the current one.")
    await _set_password(session, services, user, new, "password_change", context)
    return await _issue_pair(session, services, user, context)


async def totp_enroll(session: AsyncSession, services: AuthServices, user: User) -> tuple[str, str]:
    if user.totp_enabled_at is not None:
        raise Conflict("Two-factor authentication is already enabled.")
    secret = totp.new_secret()
    await totp.store_secret(session, services.vault, user, secret)
    return secret, totp.provisioning_uri(secret, user.email)


async def totp_confirm(
    session: AsyncSession, services: AuthServices, user: User, code: str, context: RequestContext
) -> list[str]:
    secret = await totp.load_secret(session, services.vault, user)
    if secret is None:
        raise InvalidInput("Start the enrollment first.")
    if user.totp_enabled_at is not None:
        raise Conflict("Two-factor authentication is already enabled.")
    if not await totp.verify_code(services.redis, user.id, secret, code):
        raise InvalidTotp()
    user.totp_enabled_at = utcnow()
    codes = await totp.new_recovery_codes(session, user.id)
    await record(session, "auth.2fa_enabled", context=context, user_id=user.id, actor_id=user.id)
    return codes


async def totp_disable(
    session: AsyncSession,
    services: AuthServices,
    user: User,
    password: str,
    code: str,
    context: RequestContext,
) -> None:
    if user.totp_enabled_at is None:
        raise Conflict("Two-factor authentication is not enabled.")
    if not await passwords.verify_password(password, user.password_hash):
        raise InvalidCredentials("The password is wrong.")
    await _check_second_factor(session, services, user, code, context)
    user.totp_enabled_at = None
    user.totp_secret_encrypted = None
    await totp.new_recovery_codes(session, user.id)
    await record(session, "auth.2fa_disabled", context=context, user_id=user.id, actor_id=user.id)


async def regenerate_recovery_codes(
    session: AsyncSession, services: AuthServices, user: User, code: str, context: RequestContext
) -> list[str]:
    if user.totp_enabled_at is None:
        raise Conflict("Two-factor authentication is not enabled.")
    await _check_second_factor(session, services, user, code, context)
    await record(
        session,
        "auth.recovery_codes_regenerated",
        context=context,
        user_id=user.id,
        actor_id=user.id,
    )
    return await totp.new_recovery_codes(session, user.id)
