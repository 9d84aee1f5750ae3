"""Socket.IO helpers: a committed user, its tokens, a connected client, a recorder of
what the server pushes, and the app's way of sending a message."""

from __future__ import annotations

import asyncio

import httpx
import socketio

from tests.support.factories import PASSWORD, create_user


async def committed_user(platform, verified: bool = True):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform, verified=verified)
        return user.id, user.email


async def tokens(url: str, email: str) -> dict:
    async with httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": "10.8.0.1"}) as http:
        response = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()


class Recorder:
    def __init__(self, client: socketio.AsyncClient) -> None:
        self.events: list[tuple[str, dict]] = []
        self.done = asyncio.Event()
        for name in ("typing", "reply_token", "reply_reset", "reply_done", "message_status"):
            client.on(name, self._handler(name), namespace="/chat")

    def _handler(self, name: str):
        async def handle(data: dict) -> None:
            self.events.append((name, data))
            if name == "reply_done":
                self.done.set()

        return handle

    def of(self, name: str) -> list[dict]:
        return [data for event, data in self.events if event == name]


async def connect(url: str, token: str | None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        url,
        namespaces=["/chat"],
        auth={"token": token} if token else None,
        transports=["websocket"],
        wait_timeout=10,
    )
    return client


async def new_session(url: str, access: str) -> str:
    """A chat session started over REST, as the app does before it connects."""
    async with httpx.AsyncClient(base_url=url) as http:
        created = await http.post(
            "/v1/chat/sessions", headers={"Authorization": f"Bearer {access}"}
        )
        return created.json()["id"]


async def send(client: socketio.AsyncClient, session_id: str, content: str) -> dict:
    """`send_message` with its ack, as the app sends it."""
    return await client.call(
        "send_message",
        {"session_id": session_id, "content": content},
        namespace="/chat",
        timeout=10,
    )
