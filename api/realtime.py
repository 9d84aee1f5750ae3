"""Socket.IO (namespace `/chat`): JWT auth on connect, sending messages with the reply
streamed token by token, typing indicators both ways, delivery and read receipts.

API replicas share rooms through Redis (`AsyncRedisManager`); workers push to a user's
devices through the core's notifier (`wellcoach.notify.devices`). Every user's devices
join the room `user:<id>`. Each handler parses, calls one core function and turns its
outcome into events; core errors become `{"error": {code, message}}` in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar, assert_never

import socketio
import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from wellcoach.audit import RequestContext
from wellcoach.auth.access import authenticate
from wellcoach.auth.errors import EmailNotVerified, InvalidToken
from wellcoach.chat import service
from wellcoach.chat.schemas import MessageStatusIn, SendMessageIn
from wellcoach.chat.turns import Accepted, Answered, Failed, Queued, Turns
from wellcoach.db.session import Units
from wellcoach.errors import WellcoachError
from wellcoach.models.enums import MessageStatus
from wellcoach.notify.devices import NAMESPACE, room
from wellcoach.platform import Platform

log = structlog.get_logger(__name__)

Payload = dict[str, Any]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Payload]])


class SendEvent(SendMessageIn):
    session_id: uuid.UUID


class TypingEvent(BaseModel):
    session_id: uuid.UUID
    typing: bool = True


def error_payload(code: str, message: str) -> Payload:
    return {"error": {"code": code, "message": message}}


def acknowledges_errors(handler: Handler) -> Handler:
    """The one mapping of errors to acks: a bad event, a core error or a busy pool
    answers the event with its code instead of dropping the connection."""

    @wraps(handler)
    async def wrapped(*args: Any) -> Payload:
        try:
            return await handler(*args)
        except ValidationError as exc:
            return error_payload("validation_error", str(exc.errors()[0]["msg"]))
        except WellcoachError as exc:
            return error_payload(exc.code, exc.message)
        except PoolTimeout:
            return error_payload("server_busy", "The service is busy; send the message again.")

    return wrapped  # type: ignore[return-value]


class ChatNamespace(socketio.AsyncNamespace):
    def __init__(self, app: FastAPI) -> None:
        super().__init__(NAMESPACE)
        self.app = app

    @property
    def platform(self) -> Platform:
        platform: Platform = self.app.state.platform
        return platform

    @property
    def units(self) -> Units:
        units: Units = self.app.state.units
        return units

    @property
    def turns(self) -> Turns:
        turns: Turns = self.app.state.turns
        return turns

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            if not token:
                raise InvalidToken("Send auth={'token': <access token>}.")
            async with self.units() as session:
                user = await authenticate(session, self.platform.signer, token)
            if user.email_verified_at is None:
                raise EmailNotVerified()
        except WellcoachError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                error_payload(exc.code, exc.message)
            ) from exc
        await self.save_session(sid, {"user_id": str(user.id)})
        await self.enter_room(sid, room(user.id))

    async def _user_id(self, sid: str) -> uuid.UUID:
        return uuid.UUID((await self.get_session(sid))["user_id"])

    @acknowledges_errors
    async def on_typing(self, sid: str, data: Any) -> Payload:
        """The user is typing: tell the user's other devices."""
        event = TypingEvent.model_validate(data)
        user_id = await self._user_id(sid)
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
        user_id = await self._user_id(sid)
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
        user_id = await self._user_id(sid)
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
    )
    server.register_namespace(ChatNamespace(app))
    return server
