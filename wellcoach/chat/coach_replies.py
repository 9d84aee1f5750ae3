"""A human coach answers an escalation in the athlete's own chat.

The reply is a chat message of type `coach`, sealed with the athlete's key, in the
session the escalation came from (a new session when it named none); the escalation
moves to `responded` through the state machine (the first reply sets its first-response
time and, if late, its SLA breach). The athlete's devices hear of it over Socket.IO
once the transaction has committed: the adapter calls `announce` after the unit of work,
so an app that fetches on the push finds the message stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.accounts import repository as users
from wellcoach.audit import RequestContext
from wellcoach.chat import repository
from wellcoach.chat.schemas import MessageOut
from wellcoach.chat.service import message_out
from wellcoach.crypto import Vault
from wellcoach.db.base import new_id, utcnow
from wellcoach.errors import Forbidden, InvalidInput
from wellcoach.escalation import repository as escalations
from wellcoach.escalation.cases import readable
from wellcoach.escalation.workflow import transition
from wellcoach.models import ChatSession, Message
from wellcoach.models.enums import EscalationStatus, MessageStatus, MessageType, Role
from wellcoach.notify.devices import Devices

MAX_REPLY_CHARS = 4000


@dataclass(frozen=True)
class CoachReply:
    user_id: uuid.UUID  # the athlete
    message: MessageOut
    escalation_id: str
    status: EscalationStatus


async def reply_as_coach(
    session: AsyncSession,
    vault: Vault,
    *,
    coach: Subject,
    escalation_id: str,
    text: str,
    request: RequestContext,
    now: datetime | None = None,
) -> CoachReply:
    """Store `text` as the assigned coach's (or an admin's) reply to an escalation."""
    text = text.strip()
    if not text or len(text) > MAX_REPLY_CHARS:
        raise InvalidInput(f"A reply is 1 to {MAX_REPLY_CHARS} characters.")
    if coach.role not in (Role.coach, Role.admin):
        raise Forbidden("Only the assigned coach or an administrator answers an escalation.")
    escalation = await readable(session, coach, escalation_id)
    if coach.role == Role.coach:
        mine = await escalations.coach_by_user(session, coach.user_id) if coach.user_id else None
        if mine is None or escalation.assigned_coach_id != mine.id:
            raise Forbidden("Only the coach the escalation is assigned to answers it.")
    now = now or utcnow()
    path = {
        EscalationStatus.assigned: (EscalationStatus.in_progress, EscalationStatus.responded),
        EscalationStatus.in_progress: (EscalationStatus.responded,),
        EscalationStatus.responded: (EscalationStatus.in_progress, EscalationStatus.responded),
    }.get(escalation.status)
    if path is None:
        raise InvalidInput(
            f"An escalation that is {escalation.status.value} cannot be answered; assign it"
            " first (`wellcoach escalations assign`)."
        )
    chat_session = await _session_for(session, escalation.user_id, escalation.session_id)
    escalation.session_id = chat_session.id
    message = Message(
        id=new_id(),
        created_at=now,
        session_id=chat_session.id,
        user_id=escalation.user_id,
        type=MessageType.coach,
        status=MessageStatus.sent,
        content_encrypted=await vault.seal_text(
            session, escalation.user_id, text, purpose="message"
        ),
        reply_to_id=None,
        client_message_id=None,
        metadata_={"escalation_id": str(escalation.id)},
    )
    await repository.store_message(session, message, chat_session)
    for status in path:
        await transition(session, vault, escalation, status, actor=coach, now=now, request=request)
    return CoachReply(
        user_id=escalation.user_id,
        message=await message_out(session, vault, message),
        escalation_id=str(escalation.id),
        status=escalation.status,
    )


async def announce(devices: Devices, reply: CoachReply) -> None:
    """Tell the athlete's devices (after the commit): the message, then the new status."""
    message = reply.message.model_dump(mode="json")
    await devices.push(reply.user_id, "coach_reply", {"message": message})
    await devices.push(
        reply.user_id,
        "escalation_status",
        {"id": reply.escalation_id, "status": reply.status.value},
    )


async def _session_for(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None
) -> ChatSession:
    """The escalation's chat session, or a new one in the athlete's language."""
    if session_id is not None:
        found = await session.get(ChatSession, session_id)
        if found is not None and found.user_id == user_id:
            return found
    user = await users.get_by_id(session, user_id)
    language = user.preferences.get("language", "en") if user is not None else "en"
    started = ChatSession(user_id=user_id, started_at=utcnow(), language=language)
    session.add(started)
    await session.flush()
    return started
