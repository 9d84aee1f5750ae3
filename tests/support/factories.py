"""Plain factory functions for tests: real rows through the real core services."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext
from wellcoach.auth import service as auth
from wellcoach.models import EmailOutbox, User
from wellcoach.models.enums import Role, Tier
from wellcoach.platform import Platform

PASSWORD = "correct horse battery staple"
TEST_CONTEXT = RequestContext(ip_address="127.0.0.1", user_agent="pytest", source="test")


def unique_email(prefix: str = "athlete") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def create_user(
    session: AsyncSession,
    platform: Platform,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    role: Role = Role.athlete,
    tier: Tier = Tier.free,
    verified: bool = True,
    consents: dict[str, bool] | None = None,
    **fields: str,
) -> User:
    return await auth.create_user(
        session,
        platform,
        email=email or unique_email(role.value),
        password=password,
        role=role,
        tier=tier,
        verified=verified,
        consents=consents if consents is not None else {"data_processing": True},
        context=TEST_CONTEXT,
        name=fields.pop("name", "Test Athlete"),
        **fields,
    )


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def last_email(session: AsyncSession, to: str, template: str | None = None) -> EmailOutbox:
    query = select(EmailOutbox).where(EmailOutbox.to_address == to)
    if template:
        query = query.where(EmailOutbox.template == template)
    row = await session.scalar(query.order_by(EmailOutbox.created_at.desc()).limit(1))
    assert row is not None, f"no {template or ''} email to {to}"
    return row


def token_in(email: EmailOutbox) -> str:
    match = re.search(r"token=([\w\-\.]+)", email.body)
    assert match, "no token in the email"
    return match.group(1)


async def next_published(pubsub: Any, seconds: float = 5.0) -> bytes | None:
    """The next message on a subscribed Redis channel (what a worker pushed to the
    user's devices through python-socketio's Redis manager), then unsubscribe."""
    published = None
    for _ in range(int(seconds / 0.1)):
        item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if item is not None:
            published = item["data"]
            break
    await pubsub.aclose()
    return published
