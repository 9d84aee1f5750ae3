"""The response cache keeps only answers to prompts without personal data (DESIGN:
"response cache never leaks"): a reply written with the user's history or mood in its
prompt is never stored in Redis, and a crisis reply never is."""

from __future__ import annotations

from tests.support.factories import bearer, create_user, login
from wellcoach.platform import Platform

CACHE_KEYS = "wellcoach:response-cache:*"


async def _cached_values(platform: Platform) -> list[bytes]:
    keys = await platform.redis.keys(CACHE_KEYS)
    return [value for key in keys if (value := await platform.redis.get(key)) is not None]


async def test_personal_and_crisis_replies_never_reach_the_cache(client, db_session, platform, kb):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    chat = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    url = f"/v1/chat/sessions/{chat}/messages"

    generic = await client.post(url, headers=headers, json={"content": "How do I focus?"})
    assert generic.status_code == 200
    assert len(await _cached_values(platform)) == 1  # a first turn, nothing personal: shared

    follow_up = await client.post(
        url, headers=headers, json={"content": "My coach Giulia shouts at me, how do I focus?"}
    )
    assert follow_up.status_code == 200
    await client.post(f"/v1/chat/sessions/{chat}/mood", headers=headers, json={"mood": 3})
    other = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    with_mood = await client.post(
        f"/v1/chat/sessions/{other}/messages", headers=headers, json={"content": "How do I rest?"}
    )
    crisis = await client.post(
        f"/v1/chat/sessions/{other}/messages",
        headers=headers,
        json={"content": "I want to kill myself after this season"},
    )
    assert with_mood.status_code == crisis.status_code == 200
    assert crisis.json()["crisis"] is True

    cached = await _cached_values(platform)
    assert len(cached) == 1  # still only the generic answer
    for reply in (follow_up, with_mood, crisis):
        text = reply.json()["reply"]["content"].encode()
        assert all(text not in value for value in cached)
    assert all(b"Giulia" not in value for value in cached)
