"""/v1/auth: registration, verification, login, tokens, passwords, two-factor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status

from api.deps import ContextDep, CurrentUser, PlatformDep, SessionDep
from api.errors import error_responses
from api.messages import DEFAULT, language_of, localized, negotiate, say
from wellcoach.auth import service
from wellcoach.auth.schemas import (
    AcceptedOut,
    ChangePasswordIn,
    EmailIn,
    LoginIn,
    RecoveryCodesOut,
    RefreshIn,
    RegisterIn,
    ResetIn,
    TokenPair,
    TotpConfirmIn,
    TotpDisableIn,
    TotpEnrollOut,
    VerifyIn,
)
from wellcoach.text import ONE_LINE_PATTERN

# every auth route reads the database, and most count attempts in Redis
router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(503))

WEAK_PASSWORD = "`weak_password`: the new password breaks the password policy"

SENT = "If the address can be used, we have sent an email with the next step."


def sent(language: str) -> AcceptedOut:
    return AcceptedOut(status="accepted", message=say(SENT, language))


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    responses=error_responses(
        400,
        403,
        422,
        429,
        why={
            400: f"{WEAK_PASSWORD}; or `invalid_input`: the address cannot receive email"
            " (a reserved domain like .test).",
            403: "`consent_required`: using wellcoach needs consent to data processing.",
            422: "Not valid, including a `role` other than `athlete`; a `country` that is"
            " not an ISO 3166-1 alpha-2 code has `invalid_country` as its `details[].type`,"
            " a malformed `locale` `invalid_locale`.",
        },
    ),
)
async def register(
    body: RegisterIn,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
    accept_language: Annotated[
        str | None,
        Header(
            max_length=1000,
            pattern=ONE_LINE_PATTERN,
            description="Used only for what the body and its `locale` leave out: the first"
            " tag with a region gives `country`, the first en or it tag `language`.",
        ),
    ] = None,
) -> AcceptedOut:
    """Create an athlete account and email a verification link (the same answer for a
    taken email). Only athletes sign themselves up: coach and team manager accounts are
    created by an administrator (`wellcoach users create --role ...`). The `country`
    picks the crisis resources the coach gives; when omitted it is inferred from
    `locale` or Accept-Language."""
    await service.register(session, platform, body, context, accept_language=accept_language)
    return sent(body.language or negotiate(accept_language) or DEFAULT)


@router.post(
    "/verify",
    response_model=AcceptedOut,
    responses=error_responses(
        400, 422, why={400: "`invalid_or_expired_token`: the link is invalid, expired or used."}
    ),
)
async def verify(
    body: VerifyIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> AcceptedOut:
    user = await service.verify_email(session, platform, body.token, context)
    language = user.preferences.get("language", DEFAULT)
    return AcceptedOut(status="verified", message=say("Your email address is verified.", language))


@router.post(
    "/verify/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    responses=error_responses(422),
)
async def resend_verification(
    body: EmailIn, session: SessionDep, platform: PlatformDep, request: Request
) -> AcceptedOut:
    await service.resend_verification(session, platform, body.email)
    return sent(language_of(request))


@router.post(
    "/login",
    response_model=TokenPair,
    responses=error_responses(
        401,
        403,
        422,
        429,
        why={
            401: "`invalid_credentials`; `totp_required`: send `totp_code` too; `invalid_totp`.",
            403: "`account_disabled`.",
            429: "Too many failed attempts from this address or for this account.",
        },
    ),
)
async def login(
    body: LoginIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> TokenPair:
    """Exchange email + password (+ `totp_code` when 2FA is on) for tokens."""
    return await service.login(
        session,
        platform,
        email=body.email,
        password=body.password,
        totp_code=body.totp_code,
        context=context,
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(
        401,
        422,
        why={401: "`invalid_token`; `token_reused`: the token's whole family is signed out."},
    ),
)
async def refresh(
    body: RefreshIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> TokenPair:
    """Rotate the refresh token. Reusing an old one signs out that whole session family."""
    return await service.refresh_tokens(session, platform, body.refresh_token, context)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 422))
async def logout(
    body: RefreshIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> None:
    await service.logout(session, platform, user, body.refresh_token, context)


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    responses=error_responses(422),
)
async def forgot_password(
    body: EmailIn, session: SessionDep, platform: PlatformDep, request: Request
) -> AcceptedOut:
    await service.forgot_password(session, platform, body.email)
    return sent(language_of(request))


@router.post(
    "/password/reset",
    response_model=AcceptedOut,
    responses=error_responses(400, 422, why={400: f"`invalid_or_expired_token`; {WEAK_PASSWORD}."}),
)
async def reset_password(
    body: ResetIn,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
    request: Request,
) -> AcceptedOut:
    """Set a new password from the emailed token; every session is signed out."""
    await service.reset_password(session, platform, body.token, body.new_password, context)
    return AcceptedOut(
        status="password_reset", message=localized(request, "Your password was changed.")
    )


@router.post(
    "/password/change",
    response_model=TokenPair,
    responses=error_responses(
        400,
        401,
        422,
        why={
            400: f"{WEAK_PASSWORD}, or is the current one.",
            401: "`invalid_credentials`: the current password is wrong; or `invalid_token`.",
        },
    ),
)
async def change_password(
    body: ChangePasswordIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> TokenPair:
    """Change the password; other sessions are signed out, this one gets new tokens."""
    return await service.change_password(
        session, platform, user, body.current_password, body.new_password, context
    )


@router.post(
    "/2fa/enroll",
    response_model=TotpEnrollOut,
    responses=error_responses(409, why={409: "Two-factor authentication is already on."}),
)
async def totp_enroll(
    user: CurrentUser, session: SessionDep, platform: PlatformDep
) -> TotpEnrollOut:
    secret, uri = await service.totp_enroll(session, platform, user)
    return TotpEnrollOut(secret=secret, provisioning_uri=uri)


@router.post(
    "/2fa/confirm",
    response_model=RecoveryCodesOut,
    responses=error_responses(
        400,
        401,
        409,
        422,
        why={
            400: "`invalid_input`: start the enrollment first.",
            401: "`invalid_totp`: the code is wrong or was used; or `invalid_token`.",
            409: "Two-factor authentication is already on.",
        },
    ),
)
async def totp_confirm(
    body: TotpConfirmIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> RecoveryCodesOut:
    """Turn 2FA on with a first code; returns recovery codes, shown only this once."""
    codes = await service.totp_confirm(session, platform, user, body.code, context)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/2fa/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        401,
        409,
        422,
        why={
            401: "`invalid_credentials` or `invalid_totp`; or `invalid_token`.",
            409: "Two-factor authentication is not on.",
        },
    ),
)
async def totp_disable(
    body: TotpDisableIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> None:
    await service.totp_disable(session, platform, user, body.password, body.code, context)


@router.post(
    "/2fa/recovery-codes",
    response_model=RecoveryCodesOut,
    responses=error_responses(
        401,
        409,
        422,
        why={
            401: "`invalid_totp`; or `invalid_token`.",
            409: "Two-factor authentication is not on.",
        },
    ),
)
async def recovery_codes(
    body: TotpConfirmIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> RecoveryCodesOut:
    codes = await service.regenerate_recovery_codes(session, platform, user, body.code, context)
    return RecoveryCodesOut(recovery_codes=codes)
