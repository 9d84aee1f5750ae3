"""/v1/me: the signed-in user's profile and consents; /v1/users/{id} for others."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ContextDep, CurrentUser, SessionDep, SubjectDep
from api.errors import error_responses
from wellcoach.accounts import service
from wellcoach.accounts.schemas import ConsentChange, ConsentsOut, ProfilePatch, UserProfile
from wellcoach.text import Uuid

# signed-in routes that read the database
router = APIRouter(tags=["accounts"], responses=error_responses(401, 503))


@router.get("/me", response_model=UserProfile)
async def get_me(user: CurrentUser, session: SessionDep) -> UserProfile:
    return await service.profile_of(session, user)


@router.patch(
    "/me",
    response_model=UserProfile,
    responses=error_responses(
        403,
        422,
        why={
            403: "`consent_required`: health data sync needs consent to health data first.",
            422: "Not valid (`validation_error`); a `country` that is not an ISO 3166-1"
            " alpha-2 code has `invalid_country` as its `details[].type`.",
        },
    ),
)
async def patch_me(
    body: ProfilePatch, user: CurrentUser, session: SessionDep, context: ContextDep
) -> UserProfile:
    """Change name, sport, team, country, avatar or preferences (email, role and tier are
    not here). `country: null` clears the country."""
    return await service.update_profile(session, user, body, context)


@router.get("/me/consents", response_model=ConsentsOut)
async def get_consents(user: CurrentUser, session: SessionDep) -> ConsentsOut:
    return await service.consents_of(session, user)


@router.put("/me/consents", response_model=ConsentsOut, responses=error_responses(422))
async def put_consents(
    body: ConsentChange, user: CurrentUser, session: SessionDep, context: ContextDep
) -> ConsentsOut:
    """Grant or withdraw consents; each change is kept with time, policy version and source."""
    return await service.change_consents(session, user, body, context)


@router.get(
    "/users/{user_id}",
    response_model=UserProfile,
    responses=error_responses(
        404, 422, why={404: "No such user, or not one you may see (`not_found`)."}
    ),
)
async def get_user(
    user_id: Uuid, subject: SubjectDep, session: SessionDep, context: ContextDep
) -> UserProfile:
    """Another user's profile: only admins, and coaches for athletes they are assigned to."""
    return await service.read_profile(session, subject, user_id, context)
