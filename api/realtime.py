"""Socket.IO (namespace `/chat`): JWT auth on connect, sending messages with the reply
streamed token by token, typing indicators both ways, delivery and read receipts.

API replicas share rooms through Redis (`AsyncRedisManager`); a worker pushes queued
replies with a write-only manager. Every user's devices join the room `user:<id>`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import socketio
import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.deps import TURNS_QUEUED
from jobs.chat import enqueue_reply
from wellcoach.audit import RequestContext
from wellcoach.chat import service
from wellcoach.chat.schemas import MessageStatusIn, SendMessageIn
from wellcoach.errors import WellcoachError
from wellcoach.models import Message, User
from wellcoach.models.enums import MessageStatus
from wellcoach.platform import Platform

NAMESPACE = "/chat"
log = structlog.get_logger(__name__)


class SendEvent(SendMessageIn):
    session_id: uuid.UUID


class TypingEvent(BaseModel):
    session_id: uuid.UUID
    typing: bool = True


def room(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


def error_payload(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class ChatNamespace(socketio.AsyncNamespace):
    def __init__(self, app: FastAPI) -> None:
        super().__init__(NAMESPACE)
        self.app = app

    @property
    def platform(self) -> Platform:
        return self.app.state.platform

    def units(self):  # noqa: ANN201 - tests bind sessions to their transaction
        override = getattr(self.app.state, "session_override", None)
        return override if override is not None else self.platform.unit_of_work

    async def on_connect(self, sid: str, environ: dict, auth: dict | None) -> None:
        token = (auth or {}).get("token")
        if not token:
            raise socketio.exceptions.ConnectionRefusedError(
                error_payload("invalid_token", "Send auth={'token': <access token>}.")
            )
        try:
            claims = await self.platform.signer.verify_access(token)
        except WellcoachError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                error_payload(exc.code, exc.message)
            ) from exc
        async with self.units()() as session:
            user = await session.get(User, claims.user_id)
            if (
                user is None
                or user.disabled_at is not None
                or (claims.session_epoch != user.session_epoch)
            ):
                raise socketio.exceptions.ConnectionRefusedError(
                    error_payload("invalid_token", "This session is no longer valid.")
                )
            if user.email_verified_at is None:
                raise socketio.exceptions.ConnectionRefusedError(
                    error_payload("email_not_verified", "Verify your email address first.")
                )
        await self.save_session(sid, {"user_id": str(claims.user_id)})
        await self.enter_room(sid, room(claims.user_id))

    async def _user_id(self, sid: str) -> uuid.UUID:
        return uuid.UUID((await self.get_session(sid))["user_id"])

    async def on_typing(self, sid: str, data: Any) -> dict[str, Any]:
        """The user is typing: tell the user's other devices."""
        try:
            event = TypingEvent.model_validate(data)
        except ValidationError:
            return error_payload("validation_error", "Send {session_id, typing}.")
        user_id = await self._user_id(sid)
        await self.emit(
            "typing",
            {"session_id": str(event.session_id), "actor": "user", "typing": event.typing},
            room=room(user_id),
            skip_sid=sid,
        )
        return {"ok": True}

    async def on_read(self, sid: str, data: Any) -> dict[str, Any]:
        """Receipts: {message_ids, status: delivered|read} for the coach's messages."""
        try:
            event = MessageStatusIn.model_validate(data)
        except ValidationError:
            return error_payload("validation_error", "Send {message_ids, status}.")
        user_id = await self._user_id(sid)
        async with self.units()() as session:
            user = await session.get(User, user_id)
            changed = await service.set_status(
                session, user, event.message_ids, MessageStatus(event.status)
            )
        for message_id in event.message_ids:
            await self.emit(
                "message_status",
                {"id": str(message_id), "status": event.status},
                room=room(user_id),
            )
        return {"ok": True, "updated": changed}

    async def on_send_message(self, sid: str, data: Any) -> dict[str, Any]:
        """Store the message (ack), then stream the reply to the user's devices."""
        try:
            event = SendEvent.model_validate(data)
        except ValidationError as exc:
            return error_payload("validation_error", str(exc.errors()[0]["msg"]))
        user_id = await self._user_id(sid)
        target = room(user_id)
        try:
            async with self.units()() as session:
                user = await session.get(User, user_id)
                message, new = await service.accept_message(
                    session, self.platform, user, event.session_id, event
                )
                user_message = await service.message_out(session, self.platform.vault, message)
        except WellcoachError as exc:
            return error_payload(exc.code, exc.message)
        except PoolTimeout:
            return error_payload("server_busy", "The service is busy; send the message again.")
        payload = user_message.model_dump(mode="json")
        await self.emit("message_status", {"id": payload["id"], "status": "sent"}, room=target)
        self.platform_task(sid, user_id, message.id, message.created_at, event.session_id, new)
        return {"ok": True, "message": payload}

    def platform_task(
        self,
        sid: str,
        user_id: uuid.UUID,
        message_id: uuid.UUID,
        created_at: Any,
        session_id: uuid.UUID,
        new: bool = False,
    ) -> None:
        self.server.start_background_task(
            self._respond, sid, user_id, message_id, created_at, session_id, new
        )

    async def _queue(self, user_id: uuid.UUID, message_id: uuid.UUID, reason: str) -> None:
        """A worker answers, and pushes `reply_done` to the user's devices."""
        try:
            await asyncio.to_thread(
                enqueue_reply, self.platform.urls.redis_url, user_id, message_id
            )
            TURNS_QUEUED.labels(reason).inc()
        except Exception:
            log.exception("enqueue_reply_failed", message_id=str(message_id))

    async def _respond(
        self,
        sid: str,
        user_id: uuid.UUID,
        message_id: uuid.UUID,
        created_at: Any,
        session_id: uuid.UUID,
        new: bool = False,
    ) -> None:
        async with self.app.state.turn_slots.claim() as admitted:
            if not admitted:
                await self._queue(user_id, message_id, "busy")
                return
            await self._answer(user_id, message_id, created_at, session_id, new)

    async def _answer(
        self,
        user_id: uuid.UUID,
        message_id: uuid.UUID,
        created_at: Any,
        session_id: uuid.UUID,
        new: bool,
    ) -> None:
        target = room(user_id)
        base = {"session_id": str(session_id), "reply_to": str(message_id)}

        async def sink(kind: str, text: str) -> None:
            if kind == "typing":
                await self.emit("typing", {**base, "actor": "coach", "typing": True}, room=target)
            elif kind == "token":
                await self.emit("reply_token", {**base, "token": text}, room=target)
            elif kind == "reset":
                await self.emit("reply_reset", base, room=target)

        try:
            async with self.units()() as session:
                user = await session.get(User, user_id)
                message = await session.get(Message, (message_id, created_at))
                reply, _ = await service.respond(
                    session,
                    self.platform,
                    user,
                    message,
                    sink=sink,
                    request=RequestContext(source="socketio"),
                    fresh=new,
                    pause=session.commit,  # no connection held while the model writes
                )
                out = await service.message_out(session, self.platform.vault, reply)
        except PoolTimeout:
            await self._queue(user_id, message_id, "busy")  # the message waits for a worker
            return
        except Exception:
            log.exception("socket_reply_failed", message_id=str(message_id))
            async with self.units()() as session:
                await service.mark_failed(session, user_id, message_id)
            await self.emit(
                "message_status", {"id": str(message_id), "status": "error"}, room=target
            )
            await self._queue(user_id, message_id, "failed")
            return
        await self.emit("typing", {**base, "actor": "coach", "typing": False}, room=target)
        await self.emit(
            "message_status", {"id": str(message_id), "status": "delivered"}, room=target
        )
        await self.emit("reply_done", {"message": out.model_dump(mode="json")}, room=target)


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


async def emit_to_user(platform: Platform, user_id: str, event: str, data: dict[str, Any]) -> None:
    """From a worker: push an event to a user's devices through the Redis manager."""
    manager = socketio.AsyncRedisManager(platform.urls.redis_url, write_only=True)
    await manager.emit(event, data, room=room(user_id), namespace=NAMESPACE)
