"""/v1/chat: sessions, messages (REST), mood and receipts. Verified users only."""

from __future__ import annotations

from typing import assert_never

from fastapi import APIRouter, Query, Response, status

from api.deps import (
    ChatJobsDep,
    ContextDep,
    PlatformDep,
    SessionDep,
    TurnsDep,
    VerifiedUser,
)
from api.errors import error_responses
from api.gateway import limited
from wellcoach.chat import service
from wellcoach.chat.schemas import (
    ChatSessionDetail,
    ChatSessionOut,
    MessageStatusIn,
    MoodEntryOut,
    MoodIn,
    SendMessageIn,
    TurnOut,
)
from wellcoach.chat.turns import Answered, Failed, Queued, TurnFailed, TurnOutcome
from wellcoach.chat.turns import end_session as end_chat_session
from wellcoach.models.enums import MessageStatus
from wellcoach.text import IsoDateTime, Uuid

# verified users only (403 `email_not_verified`), and every route reads the database
router = APIRouter(
    prefix="/chat",
    tags=["chat"],
    responses=error_responses(
        401, 403, 503, why={403: "`email_not_verified`: verify your email address first."}
    ),
)

NO_SESSION = "`not_found`: no such chat session of yours."
ENDED = "This chat session has ended; start a new one."
NO_CONSENT = (
    "`email_not_verified`, or `consent_required`: chatting needs consent to data processing."
)


@router.post(
    "/sessions",
    response_model=ChatSessionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, why={403: NO_CONSENT}),
)
async def start_session(
    user: VerifiedUser, session: SessionDep, platform: PlatformDep
) -> ChatSessionOut:
    return await service.start_session(session, platform.vault, user)


@router.get("/sessions", response_model=list[ChatSessionOut], responses=error_responses(422))
async def list_sessions(
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    limit: int = Query(20, ge=1, le=100),
    before: IsoDateTime | None = None,
) -> list[ChatSessionOut]:
    return await service.list_sessions(session, platform.vault, user, limit, before)


@router.get(
    "/sessions/{session_id}",
    response_model=ChatSessionDetail,
    responses=error_responses(404, 422, why={404: NO_SESSION}),
)
async def get_session(
    session_id: Uuid,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    limit: int = Query(50, ge=1, le=200),
    before: IsoDateTime | None = None,
) -> ChatSessionDetail:
    """The session with its messages, newest first; page with `before=next_before`."""
    return await service.session_detail(session, platform.vault, user, session_id, limit, before)


@router.post(
    "/sessions/{session_id}/end",
    response_model=ChatSessionOut,
    responses=error_responses(404, 422, why={404: NO_SESSION}),
)
async def end_session(
    session_id: Uuid,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    jobs: ChatJobsDep,
) -> ChatSessionOut:
    """End the session; its summary is what the coach remembers next time. The
    extractive summary is stored now; with a model configured, a job then asks the
    model for a narrative one."""
    return await end_chat_session(session, platform, jobs, user, session_id)


@router.post(
    "/sessions/{session_id}/mood",
    response_model=MoodEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        400,
        404,
        422,
        why={400: "`invalid_input`: send a mood, a stress level, or both.", 404: NO_SESSION},
    ),
)
async def log_mood(
    session_id: Uuid,
    body: MoodIn,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
) -> MoodEntryOut:
    return await service.log_mood(session, platform.vault, user, session_id, body)


@router.post(
    "/messages/status", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(422)
)
async def message_status(body: MessageStatusIn, user: VerifiedUser, session: SessionDep) -> None:
    """Delivery and read receipts for the coach's messages."""
    await service.set_status(session, user.id, body.message_ids, MessageStatus(body.status))


@router.post(
    "/sessions/{session_id}/messages",
    openapi_extra=limited("chat_send"),
    response_model=TurnOut,
    responses={
        202: {"model": TurnOut, "description": "The reply is queued"},
        **error_responses(
            403,
            404,
            409,
            422,
            503,
            why={
                403: NO_CONSENT,
                404: NO_SESSION,
                409: ENDED,
                422: "Not valid, including a `content` with nothing visible once cleaned.",
                503: "`server_busy`: too busy to take the message, nothing was stored;"
                " `reply_unavailable`: the message is stored, no reply can be written now"
                " (send it again with the same `client_message_id`); `queue_unavailable`;"
                " `service_unavailable`.",
            },
        ),
    },
)
async def send_message(
    session_id: Uuid,
    body: SendMessageIn,
    user: VerifiedUser,
    session: SessionDep,
    turns: TurnsDep,
    context: ContextDep,
    response: Response,
) -> TurnOut:
    """Store the message, then answer it, or queue the answer (202 with `reply_id`; the
    reply arrives over Socket.IO): with `mode: async`, when the server is at capacity,
    or when generation failed (the message then has status `error`).

    The message is committed before any LLM work.
    """
    return _turn_out(await turns.send(session, user, session_id, body, request=context), response)


def _turn_out(outcome: TurnOutcome, response: Response) -> TurnOut:
    """A turn's outcome as the REST answer: 200 with the reply, 202 queued, 503 failed."""
    match outcome:
        case Answered(user_message, reply):
            return TurnOut(
                user_message=user_message, reply=reply, reply_id=reply.id, crisis=outcome.crisis
            )
        case Queued(user_message, reply_id):
            response.status_code = status.HTTP_202_ACCEPTED
            return TurnOut(user_message=user_message, reply=None, queued=True, reply_id=reply_id)
        case Failed(user_message):
            raise TurnFailed(details={"message_id": str(user_message.id)})
    assert_never(outcome)


@router.post(
    "/messages/{message_id}/retry",
    response_model=TurnOut,
    responses={
        202: {"model": TurnOut, "description": "The reply is queued"},
        **error_responses(
            404,
            422,
            503,
            why={
                404: "`not_found`: no such message of yours.",
                503: "`reply_unavailable`: no reply can be written now; retry later.",
            },
        ),
    },
)
async def retry_message(
    message_id: Uuid,
    user: VerifiedUser,
    session: SessionDep,
    turns: TurnsDep,
    context: ContextDep,
    response: Response,
) -> TurnOut:
    """Ask again for the reply to one of your messages (one whose status is `error`, or
    whose reply never arrived). A message that has its reply gets it back, never a second."""
    return _turn_out(await turns.retry(session, user, message_id, request=context), response)
