"""/v1/auth: registration, verification, login, tokens, passwords, two-factor."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ContextDep, CurrentUser, PlatformDep, SessionDep
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

router = APIRouter(prefix="/auth", tags=["auth"])

SENT = AcceptedOut(
    status="accepted",
    message="If the address can be used, we have sent an email with the next step.",
)


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedOut)
async def register(
    body: RegisterIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> AcceptedOut:
    """Create an account and email a verification link (the same answer for a taken email)."""
    await service.register(session, platform, body, context)
    return SENT


@router.post("/verify", response_model=AcceptedOut)
async def verify(
    body: VerifyIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> AcceptedOut:
    await service.verify_email(session, platform, body.token, context)
    return AcceptedOut(status="verified", message="Your email address is verified.")


@router.post("/verify/resend", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedOut)
async def resend_verification(
    body: EmailIn, session: SessionDep, platform: PlatformDep
) -> AcceptedOut:
    await service.resend_verification(session, platform, body.email)
    return SENT


@router.post("/login", response_model=TokenPair)
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


@router.post("/refresh", response_model=TokenPair)
async def refresh(
    body: RefreshIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> TokenPair:
    """Rotate the refresh token. Reusing an old one signs out that whole session family."""
    return await service.refresh_tokens(session, platform, body.refresh_token, context)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    body: RefreshIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> None:
    await service.logout(session, platform, user, body.refresh_token, context)


@router.post("/password/forgot", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedOut)
async def forgot_password(body: EmailIn, session: SessionDep, platform: PlatformDep) -> AcceptedOut:
    await service.forgot_password(session, platform, body.email)
    return SENT


@router.post("/password/reset", response_model=AcceptedOut)
async def reset_password(
    body: ResetIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> AcceptedOut:
    """Set a new password from the emailed token; every session is signed out."""
    await service.reset_password(session, platform, body.token, body.new_password, context)
    return AcceptedOut(status="password_reset", message="Your password was changed.")


@router.post("/password/change", response_model=TokenPair)
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


@router.post("/2fa/enroll", response_model=TotpEnrollOut)
async def totp_enroll(
    user: CurrentUser, session: SessionDep, platform: PlatformDep
) -> TotpEnrollOut:
    secret, uri = await service.totp_enroll(session, platform, user)
    return TotpEnrollOut(secret=secret, provisioning_uri=uri)


@router.post("/2fa/confirm", response_model=RecoveryCodesOut)
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


@router.post("/2fa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def totp_disable(
    body: TotpDisableIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> None:
    await service.totp_disable(session, platform, user, body.password, body.code, context)


@router.post("/2fa/recovery-codes", response_model=RecoveryCodesOut)
async def recovery_codes(
    body: TotpConfirmIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> RecoveryCodesOut:
    codes = await service.regenerate_recovery_codes(session, platform, user, body.code, context)
    return RecoveryCodesOut(recovery_codes=codes)
