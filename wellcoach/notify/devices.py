"""Pushing events to a user's devices from any process, and telling every API process
that a user's sessions ended.

Every device of a user joins the Socket.IO room `user:<id>` in the namespace `/chat`
(api/realtime.py). A worker or a core use case pushes through python-socketio's
write-only Redis manager: it publishes to the channel the API replicas listen on,
so no process needs the API's server object.

Ended sessions (a password change or reset, a disabled account, a revoked refresh
family) travel another way: a PostgreSQL `NOTIFY` issued in the transaction that
revokes them (`announce_sessions_ended`). PostgreSQL delivers it to the listeners
(`listen_for_ended_sessions`, one per API process) only when that transaction commits,
and never when it rolls back, so a socket is never dropped for a revocation that did not
happen, and never before the database says the old token is dead (a client that
reconnects at once is refused). It needs nothing but the caller's session, so every
path that revokes (the API, the CLI, a job) announces without extra wiring.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import socketio
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

NAMESPACE = "/chat"
SESSIONS_CHANNEL = "wellcoach_sessions_ended"


def room(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


class Devices(Protocol):
    """What the core needs to reach a user's devices."""

    async def push(self, user_id: uuid.UUID | str, event: str, data: dict[str, Any]) -> None: ...


class RedisDevices:
    """The `Devices` of every process: publishes through the Redis manager, created on the
    first push (most processes never push)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._manager: socketio.AsyncRedisManager | None = None

    async def push(self, user_id: uuid.UUID | str, event: str, data: dict[str, Any]) -> None:
        if self._manager is None:
            self._manager = socketio.AsyncRedisManager(self.redis_url, write_only=True)
        await self._manager.emit(event, data, room=room(user_id), namespace=NAMESPACE)


@dataclass(frozen=True)
class SessionsEnded:
    """A user's sessions ended: all of them (`family_id` None) or one login's family."""

    user_id: uuid.UUID
    reason: str
    family_id: uuid.UUID | None = None

    def encode(self) -> str:
        return json.dumps(
            {
                "user_id": str(self.user_id),
                "reason": self.reason,
                "family_id": str(self.family_id) if self.family_id else None,
            }
        )

    @classmethod
    def decode(cls, payload: str) -> SessionsEnded | None:
        try:
            data = json.loads(payload)
            family = data.get("family_id")
            return cls(
                uuid.UUID(data["user_id"]),
                str(data["reason"]),
                uuid.UUID(family) if family else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


async def announce_sessions_ended(
    session: AsyncSession,
    user_id: uuid.UUID,
    reason: str,
    family_id: uuid.UUID | None = None,
) -> None:
    """Queue the announcement in the caller's transaction: listeners get it on commit."""
    payload = SessionsEnded(user_id, reason, family_id).encode()
    await session.execute(select(func.pg_notify(SESSIONS_CHANNEL, payload)))


async def listen_for_ended_sessions(
    dsn: str,
    on_ended: Callable[[SessionsEnded], Awaitable[None]],
    on_listening: Callable[[bool], None],
    *,
    retry_seconds: float = 1.0,
    idle_check_seconds: float = 30.0,
) -> None:
    """Forever (until cancelled): LISTEN on its own connection (not the pool's) and hand
    each announcement to `on_ended`; reconnect after any failure.

    `on_listening(after_gap)` runs each time LISTEN is in place; `after_gap` is True after
    a reconnection, when announcements may have been missed, so the caller can stop
    trusting what it cached. An idle connection is probed every `idle_check_seconds`, so a
    silently dead one is noticed.
    """
    after_gap = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, connect_timeout=5
            ) as conn:
                await conn.execute(f"LISTEN {SESSIONS_CHANNEL}")
                on_listening(after_gap)
                after_gap = True
                while True:
                    async for note in conn.notifies(timeout=idle_check_seconds):
                        ended = SessionsEnded.decode(note.payload)
                        if ended is None:
                            log.warning("sessions_ended_malformed")
                            continue
                        try:
                            await on_ended(ended)
                        except Exception:  # one bad handler must not stop the listener
                            log.exception("sessions_ended_handler_failed")
                    await conn.execute("SELECT 1")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database went away: retry, and report a gap
            log.warning("sessions_listener_reconnecting", error=type(exc).__name__)
            after_gap = True
            await asyncio.sleep(retry_seconds)
