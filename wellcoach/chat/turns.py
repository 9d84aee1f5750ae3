"""A chat turn, from the user's message to an outcome the adapters translate.

accept (the message is stored, sealed, and committed before any LLM work: nothing is
lost) → answer now, when this process has a free turn slot, or queue the answer for a
worker → `Answered`, `Queued(reason)` or `Failed`. REST and Socket.IO run the same
steps; each only turns the outcome into its own shape (a status code, emitted events).

What a turn needs from outside (a job queue, a listener for streamed tokens) it names
as a Protocol here or in `turn.py`; the adapters implement them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.audit import RequestContext
from wellcoach.chat import repository, service
from wellcoach.chat.deps import ChatServices
from wellcoach.chat.schemas import ChatSessionOut, MessageOut, SendMessageIn
from wellcoach.chat.summaries import model_summaries_enabled, write_model_summary
from wellcoach.chat.turn import Sink
from wellcoach.db.base import utcnow
from wellcoach.db.session import Units
from wellcoach.errors import NotFound, ServiceUnavailable
from wellcoach.models import ChatSession, Message, User
from wellcoach.models.enums import MessageStatus, MessageType

log = structlog.get_logger(__name__)

TURNS_RUNNING = Gauge("wellcoach_chat_turns_running", "Chat turns running in this process")
TURNS_QUEUED = Counter(
    "wellcoach_chat_turns_queued_total", "Chat turns handed to a worker", ["reason"]
)

QueueReason = Literal["async", "busy", "failed", "retry"]


class QueueUnavailable(ServiceUnavailable):
    """The job queue cannot take work now."""

    code = "queue_unavailable"


class TurnFailed(ServiceUnavailable):
    """Your message is saved, but no reply can be written now: send it again shortly
    (with the same `client_message_id`, it is not stored twice)."""

    code = "reply_unavailable"


class ChatJobs(Protocol):
    """The background work of chat (implemented with RQ in jobs/chat.py). Both raise
    `QueueUnavailable` when the queue cannot take the job."""

    async def enqueue_reply(
        self, user_id: uuid.UUID, message_id: uuid.UUID, attempt: int = 0
    ) -> None:
        """A worker answers the stored message and pushes `reply_done` to the devices.
        `attempt` > 0: queued again by the sweep (a job of its own, so a lost job's
        leftovers never stand in its way)."""
        ...

    async def enqueue_summary(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """A worker asks the model for the ended session's summary."""
        ...


class TurnSlots:
    """How many chat turns this process runs at once. A turn that finds no slot within
    `wait_seconds` goes to the queue (a worker answers it over Socket.IO), so overload
    makes replies later, never errors."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def claim(self) -> AsyncIterator[bool]:
        """Yields True while holding a slot, False when none came free in time."""
        if self.limit <= 0 or (self._free.locked() and self.wait_seconds <= 0):
            yield False
            return
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._free.acquire()
        except TimeoutError:
            yield False
            return
        TURNS_RUNNING.inc()
        try:
            yield True
        finally:
            TURNS_RUNNING.dec()
            self._free.release()


@dataclass(frozen=True)
class Accepted:
    """A stored user message. The ids are plain values: they outlive a rollback, which
    expires the ORM objects a request loaded."""

    user_message: MessageOut
    user_id: uuid.UUID
    message_id: uuid.UUID
    created_at: datetime
    session_id: uuid.UUID
    new: bool  # False: the same `client_message_id` was sent before
    message: Message
    chat_session: ChatSession | None  # None: read again with the message

    @property
    def reply_id(self) -> uuid.UUID:
        return service.reply_id_for(self.message_id)


@dataclass(frozen=True)
class Answered:
    user_message: MessageOut
    reply: MessageOut

    @property
    def crisis(self) -> bool:
        return bool(self.reply.metadata.get("crisis"))


@dataclass(frozen=True)
class Queued:
    """A worker will answer; the reply arrives over Socket.IO with `reply_id`."""

    user_message: MessageOut
    reply_id: uuid.UUID
    reason: QueueReason


@dataclass(frozen=True)
class Failed:
    """Nobody can answer now and no worker could be asked: the message is stored; sending
    it again (same `client_message_id`) answers it."""

    user_message: MessageOut
    reply_id: uuid.UUID


TurnOutcome = Answered | Queued | Failed


class Turns:
    """The turn use case of one process: its services, its slots and its job queue."""

    def __init__(
        self, services: ChatServices, slots: TurnSlots, jobs: ChatJobs, units: Units
    ) -> None:
        self.services = services
        self.slots = slots
        self.jobs = jobs
        self.units = units  # where a turn answered in the background gets its session

    async def send(
        self,
        session: AsyncSession,
        user: User,
        session_id: uuid.UUID,
        data: SendMessageIn,
        *,
        request: RequestContext,
    ) -> TurnOutcome:
        """Accept the message, then answer it now unless it asks to be answered later."""
        accepted = await self.accept(session, user, session_id, data)
        if data.mode == "async":
            queued = await self._queue(accepted, "async")
            if queued is not None:
                return queued
        return await self.answer(session, user, accepted, request=request)

    async def accept(
        self, session: AsyncSession, user: User, session_id: uuid.UUID, data: SendMessageIn
    ) -> Accepted:
        """Store the message and commit: it is safe before any model is asked."""
        stored = await service.accept(session, self.services.vault, user, session_id, data)
        message = stored.message
        user_message = await service.message_out(session, self.services.vault, message)
        await session.commit()
        return Accepted(
            user_message=user_message,
            user_id=user.id,
            message_id=message.id,
            created_at=message.created_at,
            session_id=session_id,
            new=stored.new,
            message=message,
            chat_session=stored.chat_session,
        )

    async def retry(
        self, session: AsyncSession, user: User, message_id: uuid.UUID, *, request: RequestContext
    ) -> TurnOutcome:
        """Answer a stored message again, when the user asks (its status is `error`, or its
        reply never came): the reply it has, else an answer now or a queued one."""
        message = await repository.find_message(session, user.id, message_id)
        if message is None or message.type != MessageType.user:
            raise NotFound("No such message.")
        accepted = Accepted(
            user_message=await service.message_out(session, self.services.vault, message),
            user_id=user.id,
            message_id=message.id,
            created_at=message.created_at,
            session_id=message.session_id,
            new=False,  # a reply may exist: respond() returns it instead of answering twice
            message=message,
            chat_session=None,
        )
        return await self.answer(session, user, accepted, request=request)

    async def accept_from(
        self, user_id: uuid.UUID, session_id: uuid.UUID, data: SendMessageIn
    ) -> Accepted:
        """`accept` in a unit of work of its own, for adapters that hold no session (a
        Socket.IO event)."""
        async with self.units() as session:
            user = await users.get_by_id(session, user_id)
            if user is None:
                raise NotFound("No such user.")
            return await self.accept(session, user, session_id, data)

    async def answer(
        self,
        session: AsyncSession,
        user: User,
        accepted: Accepted,
        *,
        request: RequestContext,
        sink: Sink | None = None,
    ) -> TurnOutcome:
        """Answer in this process when a slot comes free in time, else queue the turn; a
        queue that is down too means answering now, over the bound, rather than never."""
        async with self.slots.claim() as admitted:
            if not admitted:
                queued = await self._queue(accepted, "busy")
                if queued is not None:
                    return queued
            return await self._answer(session, user, accepted, request=request, sink=sink)

    async def answer_later(
        self, accepted: Accepted, *, request: RequestContext, sink: Sink | None = None
    ) -> TurnOutcome:
        """`answer` for a turn whose message was accepted in an earlier unit of work (a
        Socket.IO turn, answered in the background after the ack): its own unit, with
        the user and the message read again."""
        async with self.slots.claim() as admitted:
            if not admitted:
                queued = await self._queue(accepted, "busy")
                if queued is not None:
                    return queued
            async with self.units() as session:
                user = await session.get(User, accepted.user_id)
                message = await session.get(Message, (accepted.message_id, accepted.created_at))
                if user is None or message is None:
                    raise NotFound("No such message.")
                reread = replace(accepted, message=message, chat_session=None)
                return await self._answer(session, user, reread, request=request, sink=sink)

    async def _answer(
        self,
        session: AsyncSession,
        user: User,
        accepted: Accepted,
        *,
        request: RequestContext,
        sink: Sink | None,
    ) -> TurnOutcome:
        try:
            reply, _ = await service.respond(
                session,
                self.services,
                user,
                accepted.message,
                sink=sink,
                request=request,
                chat_session=accepted.chat_session,
                fresh=accepted.new,
                pause=session.commit,  # no connection held while the model writes
            )
            reply_out = await service.message_out(session, self.services.vault, reply)
            await session.commit()
            status = accepted.message.status.value
        except IntegrityError:
            # a worker stored this turn's reply first (a reply's id derives from its
            # message, so two answers can never both be stored): that one is the answer
            await session.rollback()
            stored = await repository.reply_to(session, accepted.user_id, accepted.message_id)
            if stored is None:
                raise
            reply_out = await service.message_out(session, self.services.vault, stored)
            status = MessageStatus.delivered.value  # the winner marked the message
        except PoolTimeout:
            # no connection came free: the message waits, unanswered, for a worker
            await session.rollback()
            return await self._queue(accepted, "busy") or Failed(
                accepted.user_message, accepted.reply_id
            )
        except Exception:
            log.exception("chat_generation_failed", message_id=str(accepted.message_id))
            await session.rollback()
            await repository.mark_failed(session, accepted.user_id, accepted.message_id)
            await session.commit()
            failed = accepted.user_message.model_copy(update={"status": "error"})
            return await self._queue(accepted, "failed", failed) or Failed(
                failed, accepted.reply_id
            )
        delivered = accepted.user_message.model_copy(update={"status": status})
        return Answered(user_message=delivered, reply=reply_out)

    async def _queue(
        self, accepted: Accepted, reason: QueueReason, user_message: MessageOut | None = None
    ) -> Queued | None:
        """Hand the turn to a worker; None when the queue cannot take it."""
        try:
            await self.jobs.enqueue_reply(accepted.user_id, accepted.message_id)
        except QueueUnavailable:
            log.warning("turn_queue_unavailable", message_id=str(accepted.message_id))
            return None
        TURNS_QUEUED.labels(reason).inc()
        return Queued(user_message or accepted.user_message, accepted.reply_id, reason)


# a turn with no reply this long after its message was stored has lost its job (a worker
# killed mid-job, a queue that was down): the sweep queues it again, a few times at most,
# for as long as an answer is still worth sending
STUCK_AFTER = timedelta(minutes=2)
STUCK_WINDOW = timedelta(hours=1)
MAX_REQUEUES = 3
SWEEP_BATCH = 200


async def requeue_unanswered(
    session: AsyncSession, jobs: ChatJobs, *, now: datetime | None = None
) -> int:
    """Queue again the turns stored between `STUCK_WINDOW` and `STUCK_AFTER` ago that still
    have no reply. Never answers twice: a job finds an existing reply and returns it, and
    a reply's id is derived from its message, so two racing jobs cannot both store one.
    Returns how many were queued."""
    now = now or utcnow()
    stuck = await repository.unanswered(
        session,
        stored_before=now - STUCK_AFTER,
        stored_after=now - STUCK_WINDOW,
        limit=SWEEP_BATCH,
    )
    queued = 0
    for turn in stuck:
        if turn.requeued >= MAX_REQUEUES:
            continue
        try:
            await jobs.enqueue_reply(turn.user_id, turn.message_id, attempt=turn.requeued + 1)
        except QueueUnavailable:
            break  # the next sweep tries again
        await repository.count_requeue(session, turn.message_id, turn.requeued + 1)
        TURNS_QUEUED.labels("sweep").inc()
        queued += 1
    if queued:
        log.info("turns_requeued", count=queued)
    return queued


async def answer_queued(
    services: ChatServices, units: Units, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageOut | None:
    """A worker's turn: answer a stored message (once: a retried job finds the reply and
    returns it) and push the reply to the user's devices after it is committed. None
    when the user or the message is gone."""
    async with units() as session:
        user = await session.get(User, user_id)
        message = await repository.find_message(session, user_id, message_id)
        if user is None or message is None:
            return None
        reply, _ = await service.respond(
            session, services, user, message, request=RequestContext(source="job")
        )
        out = await service.message_out(session, services.vault, reply)
    await services.devices.push(user_id, "reply_done", {"message": out.model_dump(mode="json")})
    return out


async def end_session(
    session: AsyncSession,
    services: ChatServices,
    jobs: ChatJobs,
    user: User,
    session_id: uuid.UUID,
) -> ChatSessionOut:
    """End the session with its extractive summary, committed; with a model configured,
    a job then asks it for a narrative one (the session ends even if that cannot be
    queued: the extractive summary is stored)."""
    ended, first_end = await service.end_session(session, services.vault, user, session_id)
    await session.commit()
    if first_end and model_summaries_enabled(services):
        try:
            await jobs.enqueue_summary(user.id, session_id)
        except QueueUnavailable:
            log.warning("summary_enqueue_failed", session_id=str(session_id))
    return ended


async def summarize_session(
    services: ChatServices, units: Units, user_id: uuid.UUID, session_id: uuid.UUID
) -> str:
    """A worker's summary: ask the model, store it, push it to the devices. Returns
    `stored`, `nothing` or `failed` (worth a retry)."""
    if not model_summaries_enabled(services):
        return "nothing"
    async with units() as session:  # commits the ledger rows too
        outcome, summary = await write_model_summary(session, services, user_id, session_id)
    if summary is not None:
        await services.devices.push(
            user_id, "session_summary", {"session_id": str(session_id), "summary": summary}
        )
    return outcome
