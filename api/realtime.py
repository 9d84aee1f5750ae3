"""Socket.IO (namespace `/chat`): JWT auth on connect, sending messages with the reply
streamed token by token, typing indicators both ways, delivery and read receipts.

API replicas share rooms through Redis (`AsyncRedisManager`); workers push to a user's
devices through the core's notifier (`wellcoach.notify.devices`). Every user's devices
join the room `user:<id>`. Each handler parses, calls one core function and turns its
outcome into events; core errors become `{"error": {code, message}}` in one place.

A connection is only as good as the token it was opened with, so it is re-checked:

- **On every event** (`ChatNamespace.trigger_event`), before any handler: the token's
  expiry, kept in memory with the connection, against the clock; then the account's
  state (session epoch, disabled, deleted) from `SessionStates`, a per-process cache
  read from the database at most once per user every `STATE_TTL_SECONDS` and dropped
  for a user the moment their sessions end. A refused event is answered with the error
  (`token_expired`, `invalid_token`, `account_disabled`), then `session_ended` carries
  the same error and the connection is closed.
- **When the token expires**, even on a connection that only listens: a timer ends it
  the same way, unless the app sent a fresh token with `authenticate` first.
- **When sessions are revoked** (password change or reset, disabled account, sign-out,
  a reused refresh token): the core announces it on commit
  (`wellcoach.notify.devices.announce_sessions_ended`, a PostgreSQL NOTIFY); every API
  process listens and closes its own connections of that user (of that login, for a
  sign-out or a reused refresh token).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn, TypeVar, assert_never

import socketio
import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.messages import DEFAULT, say
from wellcoach.audit import RequestContext
from wellcoach.auth.access import (
    SIGNED_OUT,
    Authenticated,
    SessionState,
    authenticate_connection,
    check_session,
    session_state,
)
from wellcoach.auth.errors import AccountDisabled, EmailNotVerified, InvalidToken
from wellcoach.chat import service
from wellcoach.chat.schemas import MessageStatusIn, SendMessageIn
from wellcoach.chat.turns import Accepted, Answered, Failed, Queued, Turns
from wellcoach.db.session import Units
from wellcoach.errors import RateLimited, WellcoachError
from wellcoach.models.enums import MessageStatus
from wellcoach.notify.devices import NAMESPACE, SessionsEnded, listen_for_ended_sessions, room
from wellcoach.platform import Platform
from wellcoach.ratelimit import pseudonym, pseudonym_key
from wellcoach.ratelimit.policies import Caller, count
from wellcoach.runtime.services import to_libpq_url

log = structlog.get_logger(__name__)

Payload = dict[str, Any]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Payload]])

# how long a user's account state is trusted without a database read; a revocation
# drops it at once, so this only bounds changes nobody announced (or a lost announcement)
STATE_TTL_SECONDS = 10.0
# past this many cached users, stale entries are dropped (users who left keep none)
STATE_CACHE_SIZE = 10_000
# how long a connect waits for this process's revocation listener to be in place
LISTENER_READY_SECONDS = 3.0
# events that never reach the per-event check (`authenticate` checks its own token)
UNGUARDED = frozenset({"connect", "disconnect", "authenticate"})
TOKEN_EXPIRED = "token_expired"


class SendEvent(SendMessageIn):
    session_id: uuid.UUID


class TypingEvent(BaseModel):
    session_id: uuid.UUID
    typing: bool = True


class AuthenticateEvent(BaseModel):
    token: str


def error_payload(code: str, message: str, language: str = DEFAULT) -> Payload:
    """An error ack; `message` (English, as raised) said in `language`."""
    return {"error": {"code": code, "message": say(message, language, code)}}


def expired_payload() -> Payload:
    return error_payload(TOKEN_EXPIRED, "The access token expired; refresh it and reconnect.")


def ended_payload(ended: SessionsEnded) -> Payload:
    error = AccountDisabled() if ended.reason == "account_disabled" else InvalidToken(SIGNED_OUT)
    return error_payload(error.code, error.message)


def acknowledges_errors(handler: Handler) -> Handler:
    """The one mapping of errors to acks: a bad event, a core error or a busy pool
    answers the event with its code instead of dropping the connection."""

    @wraps(handler)
    async def wrapped(namespace: Any, sid: str, *args: Any) -> Payload:
        try:
            return await handler(namespace, sid, *args)
        except ValidationError as exc:
            return error_payload("validation_error", str(exc.errors()[0]["msg"]))
        except RateLimited as exc:
            payload = error_payload(exc.code, exc.message, namespace.language_of(sid))
            payload["error"]["details"] = exc.details
            return payload
        except WellcoachError as exc:
            return error_payload(exc.code, exc.message, namespace.language_of(sid))
        except PoolTimeout:
            return error_payload(
                "server_busy",
                "The service is busy; send the message again.",
                namespace.language_of(sid),
            )

    return wrapped  # type: ignore[return-value]


@dataclass
class Connection:
    """What one socket was authenticated with (kept in this process's memory)."""

    user_id: uuid.UUID
    session_epoch: int
    family_id: uuid.UUID | None
    expires_at: float  # the access token's `exp`, seconds since the epoch
    language: str = DEFAULT  # of the messages in its error acks
    tier: str | None = None  # of the rate limits its messages meet
    address: str = ""  # the pseudonym of the client's address, for per-IP limits
    timer: asyncio.TimerHandle | None = None
    ended: Payload | None = None  # why it is being closed, once it is

    @classmethod
    def of(cls, authenticated: Authenticated) -> Connection:
        claims = authenticated.claims
        return cls(
            user_id=claims.user_id,
            session_epoch=claims.session_epoch,
            family_id=claims.family_id,
            expires_at=claims.expires_at.timestamp(),
            language=authenticated.user.preferences.get("language", DEFAULT),
            tier=authenticated.user.tier.value,
        )

    def expired(self) -> bool:
        return time.time() >= self.expires_at

    def ending(self) -> Payload | None:
        """Why it is being closed (read again after an await: an announcement may have
        ended it meanwhile)."""
        return self.ended


class SessionStates:
    """Account states per user, for the per-event check, in this process.

    A hit costs a dict lookup; a miss one primary-key read. `forget` (a revocation was
    announced, or announcements may have been lost) drops entries; a read that was in
    flight while something was forgotten is used once but not stored, so a revocation
    racing a read is never cached.
    """

    def __init__(self, units_of: Callable[[], Units]) -> None:
        self._units_of = units_of  # where sessions come from (the app's, set at start-up)
        self._states: dict[uuid.UUID, tuple[SessionState | None, float]] = {}
        self._generation = 0

    def _put(self, user_id: uuid.UUID, state: SessionState | None, generation: int) -> None:
        if generation != self._generation:
            return
        now = time.monotonic()
        if len(self._states) >= STATE_CACHE_SIZE:
            self._states = {
                key: value
                for key, value in self._states.items()
                if now - value[1] < STATE_TTL_SECONDS
            }
        self._states[user_id] = (state, now)

    def remember(self, user_id: uuid.UUID, state: SessionState, generation: int) -> None:
        """A state just read elsewhere (the connect handler's authentication)."""
        self._put(user_id, state, generation)

    @property
    def generation(self) -> int:
        return self._generation

    async def get(self, user_id: uuid.UUID, session_epoch: int) -> SessionState | None:
        cached = self._states.get(user_id)
        if cached is not None:
            state, read_at = cached
            fresh = time.monotonic() - read_at < STATE_TTL_SECONDS
            # epochs only grow: a token newer than the cache means the cache is stale
            if fresh and (state is None or state.session_epoch >= session_epoch):
                return state
        generation = self._generation
        async with self._units_of()() as session:
            state = await session_state(session, user_id)
        self._put(user_id, state, generation)
        return state

    def forget(self, user_id: uuid.UUID | None = None) -> None:
        self._generation += 1
        if user_id is None:
            self._states.clear()
        else:
            self._states.pop(user_id, None)


class ChatNamespace(socketio.AsyncNamespace):
    def __init__(self, app: FastAPI) -> None:
        super().__init__(NAMESPACE)
        self.app = app
        self.connections: dict[str, Connection] = {}
        self.states = SessionStates(lambda: self.units)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @property
    def platform(self) -> Platform:
        platform: Platform = self.app.state.platform
        return platform

    async def _count(self, sid: str, *policies: str) -> None:
        """Count a message against the gateway's policies, as the REST route does."""
        connection = self.connections.get(sid)
        if connection is None:
            return
        caller = Caller(connection.address, connection.user_id, connection.tier)
        await count(self.platform.gate, self.platform.settings.ratelimit, caller, policies)

    def language_of(self, sid: str) -> str:
        """The language of the socket's user, for the messages of its error acks."""
        connection = self.connections.get(sid)
        return connection.language if connection is not None else DEFAULT

    @property
    def units(self) -> Units:
        units: Units = self.app.state.units
        return units

    @property
    def turns(self) -> Turns:
        turns: Turns = self.app.state.turns
        return turns

    # -- connecting and the per-event check -------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        await self._ensure_listening()
        generation = self.states.generation
        if not token:
            refuse(InvalidToken("Send auth={'token': <access token>}."))
        authenticated = await self._authenticate(token)
        if authenticated.user.email_verified_at is None:
            refuse(EmailNotVerified(), authenticated.user.preferences.get("language", DEFAULT))
        connection = Connection.of(authenticated)
        client = environ.get("asgi.scope", {}).get("client") or ("unknown", 0)
        connection.address = pseudonym(
            pseudonym_key(self.platform.vault.keyring.current), str(client[0])
        )
        self.connections[sid] = connection
        await self.enter_room(sid, room(connection.user_id))  # announcements find it now
        if self.states.generation != generation:
            # something was announced while this token was checked: check it again,
            # now that a further announcement would reach this socket
            try:
                await self._authenticate(token)
            except socketio.exceptions.ConnectionRefusedError:
                self.connections.pop(sid, None)  # refused: python-socketio drops its rooms
                raise
        ended = connection.ending()  # announced during that second check
        if ended is not None:
            self.connections.pop(sid, None)
            refuse_with(ended)
        self.states.remember(connection.user_id, SessionState.of(authenticated.user), generation)
        self._schedule_expiry(sid, connection)

    async def _authenticate(self, token: str) -> Authenticated:
        """The connection's token checked (`authenticate_connection`), or refused."""
        try:
            return await self._verify(token)
        except WellcoachError as exc:
            refuse(exc)

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        connection = self.connections.pop(sid, None)
        if connection is not None and connection.timer is not None:
            connection.timer.cancel()

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Every event of a connected socket passes the check first; a refused one is
        answered with the error and the connection is then closed."""
        if event not in UNGUARDED:
            sid = args[0]
            try:
                refusal = await self._refusal(sid)
            except PoolTimeout:  # no verdict on the session: refuse this event only
                return error_payload("server_busy", "The service is busy; send it again.")
            if refusal is not None:
                self._end_soon(sid, refusal)
                return refusal
        return await super().trigger_event(event, *args)

    async def _refusal(self, sid: str) -> Payload | None:
        connection = self.connections.get(sid)
        if connection is None:
            return error_payload(InvalidToken.code, "Connect again.")
        if connection.ended is not None:
            return connection.ended
        if connection.expired():
            return expired_payload()
        state = await self.states.get(connection.user_id, connection.session_epoch)
        try:
            check_session(state, connection.session_epoch)
        except WellcoachError as exc:
            return error_payload(exc.code, exc.message)
        return None

    @acknowledges_errors
    async def on_authenticate(self, sid: str, data: Any) -> Payload:
        """A fresh access token for this connection (same user), sent before the old one
        expires: the connection stays open instead of ending at expiry."""
        event = AuthenticateEvent.model_validate(data)
        connection = self.connections.get(sid)
        if connection is None:
            return error_payload(InvalidToken.code, "Connect again.")
        if connection.ended is not None:
            return connection.ended
        generation = self.states.generation
        authenticated = await self._verify(event.token)
        if authenticated.user.id != connection.user_id:
            raise InvalidToken("The token is of another account.")
        ended = connection.ending()  # its sessions may have ended while the token was checked
        if ended is not None:
            return ended
        renewed = Connection.of(authenticated)
        renewed.address = connection.address
        if connection.timer is not None:
            connection.timer.cancel()
        self.connections[sid] = renewed
        self._schedule_expiry(sid, renewed)
        if self.states.generation != generation:
            # announced while the token was checked: check again, now that a further
            # announcement would match the new token
            try:
                await self._verify(event.token)
            except WellcoachError as exc:
                self._end_soon(sid, error_payload(exc.code, exc.message))
                raise
            ended = renewed.ending()
            if ended is not None:
                return ended
        else:
            self.states.remember(renewed.user_id, SessionState.of(authenticated.user), generation)
        return {"ok": True, "expires_in": max(0, int(renewed.expires_at - time.time()))}

    async def _verify(self, token: str) -> Authenticated:
        async with self.units() as session:
            return await authenticate_connection(session, self.platform.signer, token)

    # -- ending connections -----------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_expiry(self, sid: str, connection: Connection) -> None:
        delay = max(0.0, connection.expires_at - time.time())
        connection.timer = asyncio.get_running_loop().call_later(
            delay, self._end_soon, sid, expired_payload()
        )

    def _end_soon(self, sid: str, payload: Payload) -> None:
        """Mark the connection ended now (later events get `payload` as their answer) and
        close it after the current event's acknowledgement has gone out."""
        connection = self.connections.get(sid)
        if connection is None or connection.ended is not None:
            return
        connection.ended = payload
        if connection.timer is not None:
            connection.timer.cancel()
        self._spawn(self._end(sid, payload))

    async def _end(self, sid: str, payload: Payload) -> None:
        await asyncio.sleep(0)  # the refused event's ack is queued before this runs
        if not self.server.manager.is_connected(sid, NAMESPACE):
            return  # gone, or still in its connect handler, which refuses it
        try:
            # straight to the local socket (not through Redis), so it precedes the close
            await self.emit("session_ended", payload, to=sid, ignore_queue=True)
            await self.disconnect(sid)
        except Exception:  # the client may be gone already
            log.debug("socket_end_failed", sid=sid)

    async def _ensure_listening(self) -> None:
        """Start this process's revocation listener with its first connection and wait
        (briefly) until it listens, so no revocation after a connect can be missed."""
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(
                listen_for_ended_sessions(
                    to_libpq_url(self.platform.urls.database_url),
                    self._sessions_ended,
                    self._listener_ready,
                )
            )
        if not self._listening.is_set():
            try:
                await asyncio.wait_for(self._listening.wait(), LISTENER_READY_SECONDS)
            except TimeoutError:
                log.warning("sessions_listener_not_ready")

    def _listener_ready(self, after_gap: bool) -> None:
        if after_gap:  # announcements may have been lost meanwhile
            self.states.forget()
        self._listening.set()

    async def _sessions_ended(self, ended: SessionsEnded) -> None:
        """A user's sessions ended somewhere: close this process's sockets of them."""
        self.states.forget(ended.user_id)
        payload = ended_payload(ended)
        for sid, _ in list(self.server.manager.get_participants(NAMESPACE, room(ended.user_id))):
            connection = self.connections.get(sid)
            if (
                ended.family_id is not None
                and connection is not None
                and connection.family_id not in (None, ended.family_id)
            ):
                continue  # another login of the same user stays connected
            self._end_soon(sid, payload)

    # -- events -----------------------------------------------------------------------

    def _user_id(self, sid: str) -> uuid.UUID:
        return self.connections[sid].user_id

    @acknowledges_errors
    async def on_typing(self, sid: str, data: Any) -> Payload:
        """The user is typing: tell the user's other devices."""
        event = TypingEvent.model_validate(data)
        user_id = self._user_id(sid)
        await self.emit(
            "typing",
            {"session_id": str(event.session_id), "actor": "user", "typing": event.typing},
            room=room(user_id),
            skip_sid=sid,
        )
        return {"ok": True}

    @acknowledges_errors
    async def on_read(self, sid: str, data: Any) -> Payload:
        """Receipts: {message_ids, status: delivered|read} for the coach's messages."""
        event = MessageStatusIn.model_validate(data)
        user_id = self._user_id(sid)
        async with self.units() as session:
            changed = await service.set_status(
                session, user_id, event.message_ids, MessageStatus(event.status)
            )
        for message_id in event.message_ids:
            await self.emit(
                "message_status",
                {"id": str(message_id), "status": event.status},
                room=room(user_id),
            )
        return {"ok": True, "updated": changed}

    @acknowledges_errors
    async def on_send_message(self, sid: str, data: Any) -> Payload:
        """Store the message (ack), then stream the reply to the user's devices."""
        event = SendEvent.model_validate(data)
        user_id = self._user_id(sid)
        await self._count(sid, "chat_send")
        accepted = await self.turns.accept_from(user_id, event.session_id, event)
        payload = accepted.user_message.model_dump(mode="json")
        await self.emit(
            "message_status", {"id": payload["id"], "status": "sent"}, room=room(user_id)
        )
        self.server.start_background_task(self._answer, accepted)
        return {"ok": True, "message": payload}

    async def _answer(self, accepted: Accepted) -> None:
        """Answer in the background, streaming to every device of the user; a queued turn
        is pushed later by the worker."""
        target = room(accepted.user_id)
        base = {"session_id": str(accepted.session_id), "reply_to": str(accepted.message_id)}

        async def sink(kind: str, text: str) -> None:
            if kind == "typing":
                await self.emit("typing", {**base, "actor": "coach", "typing": True}, room=target)
            elif kind == "token":
                await self.emit("reply_token", {**base, "token": text}, room=target)
            elif kind == "reset":
                await self.emit("reply_reset", base, room=target)

        try:
            outcome = await self.turns.answer_later(
                accepted, request=RequestContext(source="socketio"), sink=sink
            )
        except Exception:  # a background task has nobody to raise to
            log.exception("socket_reply_failed", message_id=str(accepted.message_id))
            return
        match outcome:
            case Answered(_, reply):
                await self.emit("typing", {**base, "actor": "coach", "typing": False}, room=target)
                delivered = {"id": str(accepted.message_id), "status": "delivered"}
                await self.emit("message_status", delivered, room=target)
                await self.emit(
                    "reply_done", {"message": reply.model_dump(mode="json")}, room=target
                )
            case Queued(user_message) | Failed(user_message):
                if user_message.status == "error":
                    failed = {"id": str(accepted.message_id), "status": "error"}
                    await self.emit("message_status", failed, room=target)
            case _:
                assert_never(outcome)


def refuse_with(payload: Payload) -> NoReturn:
    """Refuse a connection: `err.message` is the message, `err.data` the error object
    (python-socketio sends a single argument as the repr of its `str`)."""
    raise socketio.exceptions.ConnectionRefusedError(payload["error"]["message"], payload)


def refuse(exc: WellcoachError, language: str = DEFAULT) -> NoReturn:
    refuse_with(error_payload(exc.code, exc.message, language))


class RefusedNamespaces(socketio.AsyncNamespace):
    """Every namespace but `/chat`, the default `/` included: refused with the documented
    error instead of accepting a connection nobody authenticated."""

    def __init__(self) -> None:
        super().__init__("*")

    async def on_connect(
        self, namespace: str, sid: str, environ: dict[str, Any], auth: Any = None
    ) -> None:
        refuse_with(error_payload("unknown_namespace", f"Connect to the namespace {NAMESPACE}."))


def build_socketio(
    app: FastAPI, redis_url: str | None, cors_origins: list[str]
) -> socketio.AsyncServer:
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    server = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=cors_origins or [],
        logger=False,
        engineio_logger=False,
        namespaces="*",  # every namespace reaches a handler; all but /chat refuse
    )
    server.register_namespace(ChatNamespace(app))
    server.register_namespace(RefusedNamespaces())
    return server
