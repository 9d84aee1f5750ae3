"""Pushing events to a user's devices from any process.

Every device of a user joins the Socket.IO room `user:<id>` in the namespace `/chat`
(api/realtime.py). A worker or a core use case pushes through python-socketio's
write-only Redis manager: it publishes to the channel the API replicas listen on,
so no process needs the API's server object.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import socketio

NAMESPACE = "/chat"


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
