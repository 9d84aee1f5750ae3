"""/v1/escalations: an athlete asks for a human coach, and follows their requests."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status

from api.deps import ContextDep, PlatformDep, SessionDep, VerifiedUser
from api.errors import error_responses
from api.gateway import address_of
from wellcoach.escalation.requests import (
    HelpRequest,
    UsersEscalation,
    escalations_of,
    is_rate_limited,
    request_help,
)
from wellcoach.escalation.schemas import EscalationOut, EscalationRequestIn
from wellcoach.health.service import health_alerts_of
from wellcoach.ratelimit.policies import Caller, count

router = APIRouter(prefix="/escalations", tags=["escalations"], responses=error_responses(401, 503))


def _out(found: UsersEscalation) -> EscalationOut:
    escalation = found.escalation
    return EscalationOut(
        id=escalation.id,
        reason=escalation.reason,
        urgency=escalation.urgency,
        status=escalation.status,
        message=found.message,
        session_id=escalation.session_id,
        assigned_coach=found.coach_name,
        response_time_sla=escalation.response_time_sla,
        sla_due_at=escalation.sla_due_at,
        first_response_at=escalation.first_response_at,
        created_at=escalation.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EscalationOut,
    # not `limited("escalation")`: the gate would count every request, and the policy
    # depends on the body (never a critical or emergency request)
    openapi_extra={"x-rate-limit-conditional-policies": ["escalation"]},
    responses=error_responses(
        403,
        404,
        422,
        why={
            403: "`email_not_verified`.",
            404: "`not_found`: `context.session_id` is not one of your chat sessions.",
        },
    ),
)
async def create_escalation(
    body: EscalationRequestIn,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
    http: Request,
) -> EscalationOut:
    """Ask for a human coach. The request is triaged and, when a matching coach is
    available, assigned at once; the answer says its SLA. At most 3 a day
    (`escalation` policy), except critical or `emergency_support` requests, which are
    never limited."""
    if is_rate_limited(body.reason, body.urgency):
        caller = Caller(address_of(http, platform.vault.keyring.current), user.id, user.tier.value)
        await count(platform.gate, platform.settings.ratelimit, caller, ["escalation"], only=True)
    created = await request_help(
        session,
        platform.vault,
        platform.settings.escalation,
        user_id=user.id,
        data=HelpRequest(
            reason=body.reason,
            urgency=body.urgency,
            message=body.message,
            session_id=body.context.session_id,
            recent_mood_scores=tuple(body.context.recent_mood_scores),
            health_alerts=await health_alerts_of(
                session, platform.vault, platform.health_store, platform.redis, user
            ),
        ),
        request=context,
    )
    return _out(created)


@router.get("", response_model=list[EscalationOut], responses=error_responses(403, 422))
async def list_escalations(
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    limit: int = Query(50, ge=1, le=200),
) -> list[EscalationOut]:
    """Your escalations, newest first: automatic ones (a crisis) and those you asked for."""
    return [
        _out(found) for found in await escalations_of(session, platform.vault, user.id, limit=limit)
    ]
