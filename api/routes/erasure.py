"""Erasure (GDPR Art. 17): `DELETE /v1/me` closes the account at once and deletes it for
good after the grace period; the emailed link cancels it until then."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ContextDep, CurrentUser, PlatformDep, SessionDep
from api.errors import error_responses
from jobs.gdpr import forget_jobs_of
from wellcoach.auth import passwords
from wellcoach.auth.errors import InvalidCredentials
from wellcoach.gdpr.erasure import cancel_with_token, request_erasure
from wellcoach.gdpr.erasure_schemas import ErasureCancelIn, ErasureIn, ErasureOut
from wellcoach.models import GdprRequest

router = APIRouter(tags=["gdpr"], responses=error_responses(503))


def _out(erasure: GdprRequest) -> ErasureOut:
    return ErasureOut(id=erasure.id, status=erasure.status, hard_delete_at=erasure.due_at)


@router.delete(
    "/me",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ErasureOut,
    responses=error_responses(
        401, 422, why={401: "`invalid_credentials`: the password is wrong; nothing changed."}
    ),
)
async def delete_me(
    body: ErasureIn,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> ErasureOut:
    """Delete your account and all its data. At once: you are signed out everywhere, the
    account is closed, your health data is deleted. After the grace period (7 days): every
    other piece of your data is deleted and your data key destroyed, so no copy of it can
    be read again. Until then, the link emailed to you keeps the account."""
    if not await passwords.verify_password(body.password, user.password_hash):
        raise InvalidCredentials("The password is wrong.")
    erasure = await request_erasure(
        session,
        platform,
        user,
        requested_by=user.id,
        request=context,
        forget_jobs=forget_jobs_of(platform.urls.redis_url),
    )
    return _out(erasure)


@router.post(
    "/account/erasure/cancel",
    response_model=ErasureOut,
    responses=error_responses(
        400, 404, 422, why={400: "`invalid_or_expired_token`: unknown, used or expired code."}
    ),
)
async def cancel_deletion(
    body: ErasureCancelIn, session: SessionDep, platform: PlatformDep, context: ContextDep
) -> ErasureOut:
    """Keep an account scheduled for deletion, with the code of the email that announced
    it (no sign-in: the account is closed until then). Sign in again afterwards."""
    return _out(await cancel_with_token(session, platform.signer, body.token, context))
