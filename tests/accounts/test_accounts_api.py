"""Profiles, consents and who may read whose data, through HTTP."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from wellcoach.db.base import utcnow
from wellcoach.models import AuditLog, Coach, Escalation
from wellcoach.models.enums import EscalationReason, Role, Urgency

PROFILE_KEYS = {
    "id",
    "email",
    "name",
    "sport",
    "team",
    "country",
    "timezone",
    "role",
    "tier",
    "avatar_config",
    "preferences",
    "consent",
    "email_verified",
    "two_factor_enabled",
    "created_at",
    "last_active",
}


async def test_me_matches_the_user_profile_contract(client, db_session, platform):
    user = await create_user(db_session, platform, sport="basketball", team="Bulls U19")
    tokens = await login(client, user.email)
    me = (await client.get("/v1/me", headers=bearer(tokens))).json()

    assert set(me) == PROFILE_KEYS
    assert me["role"] == "athlete" and me["sport"] == "basketball"
    assert set(me["preferences"]) == {
        "notifications_enabled",
        "health_data_sync",
        "language",
        "privacy_mode",
        "ai_personality",
    }
    assert set(me["consent"]) == {"data_processing", "health_data", "marketing"}
    assert me["last_active"] is not None


async def test_patch_me_updates_profile_preferences_and_avatar(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email)
    response = await client.patch(
        "/v1/me",
        json={
            "name": "Marco",
            "sport": "football",
            "preferences": {"ai_personality": "analytical", "language": "it"},
            "avatar_config": {"style": "cartoon", "primary_color": "#12ab34", "voice": "calm"},
        },
        headers=bearer(tokens),
    )
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["name"] == "Marco" and me["sport"] == "football"
    assert me["preferences"]["ai_personality"] == "analytical"
    assert me["preferences"]["language"] == "it"
    assert me["preferences"]["notifications_enabled"] is True  # untouched keys stay
    assert me["avatar_config"]["primary_color"] == "#12AB34"
    audit = await db_session.scalar(
        select(AuditLog).where(AuditLog.user_id == user.id, AuditLog.action == "profile.update")
    )
    assert audit.details["fields"] == ["avatar_config", "name", "preferences", "sport"]


async def test_patch_me_rejects_bad_or_forbidden_fields(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    bad = [
        {"role": "admin"},
        {"email": "other@example.com"},
        {"tier": "premium"},
        {"avatar_config": {"primary_color": "red"}},
        {"avatar_config": {"script": "<x>"}},
        {"preferences": {"ai_personality": "sarcastic"}},
        {"name": ""},
        {"name": "x" * 101},
    ]
    for body in bad:
        response = await client.patch("/v1/me", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    not_json = await client.patch(
        "/v1/me", content=b"{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422


async def test_health_sync_needs_health_consent(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    refused = await client.patch(
        "/v1/me", json={"preferences": {"health_data_sync": True}}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "consent_required"

    await client.put("/v1/me/consents", json={"health_data": True}, headers=headers)
    allowed = await client.patch(
        "/v1/me", json={"preferences": {"health_data_sync": True}}, headers=headers
    )
    assert allowed.json()["preferences"]["health_data_sync"] is True


async def test_consent_history_and_withdrawal(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    granted = await client.put(
        "/v1/me/consents",
        json={"health_data": True, "marketing": True, "policy_version": "2026-12"},
        headers=headers,
    )
    assert granted.json()["current"] == {
        "data_processing": True,
        "health_data": True,
        "marketing": True,
    }
    await client.patch("/v1/me", json={"preferences": {"health_data_sync": True}}, headers=headers)

    withdrawn = (
        await client.put("/v1/me/consents", json={"health_data": False}, headers=headers)
    ).json()
    assert withdrawn["current"]["health_data"] is False
    history = withdrawn["history"]
    health = [row for row in history if row["purpose"] == "health_data"]
    assert [row["granted"] for row in health] == [False, True]
    assert health[1]["policy_version"] == "2026-12"
    assert health[0]["source"] == "api"
    me = (await client.get("/v1/me", headers=headers)).json()
    assert me["preferences"]["health_data_sync"] is False  # sync stops with the consent

    unchanged = await client.put("/v1/me/consents", json={"health_data": False}, headers=headers)
    assert len(unchanged.json()["history"]) == len(history)  # no-op changes leave no record
    changes = await db_session.scalars(
        select(AuditLog).where(AuditLog.user_id == user.id, AuditLog.action == "consent.change")
    )
    assert len(list(changes)) == 3  # at registration, then the two changes
    listed = (await client.get("/v1/me/consents", headers=headers)).json()
    assert listed == unchanged.json()


async def _assign(db_session, coach_user, athlete) -> None:
    coach = Coach(user_id=coach_user.id, display_name="Coach", languages=["en"], sports=[])
    db_session.add(coach)
    await db_session.flush()
    db_session.add(
        Escalation(
            user_id=athlete.id,
            reason=EscalationReason.needs_human_support,
            urgency=Urgency.medium,
            message_encrypted=b"x",
            assigned_coach_id=coach.id,
            response_time_sla="24h",
            sla_due_at=utcnow(),
        )
    )
    await db_session.flush()


async def test_other_users_profiles_are_invisible_except_to_admins_and_assigned_coaches(
    app, db_session, platform
):
    alice = await create_user(db_session, platform, name="Alice")
    bob = await create_user(db_session, platform, name="Bob")
    admin = await create_user(db_session, platform, role=Role.admin)
    coach = await create_user(db_session, platform, role=Role.coach)
    other_coach = await create_user(db_session, platform, role=Role.coach)
    manager = await create_user(db_session, platform, role=Role.team_manager)
    await _assign(db_session, coach, alice)

    async with make_client(app, "10.9.0.1") as http:
        tokens = {u.email: await login(http, u.email) for u in (alice, bob, admin)}
    async with make_client(app, "10.9.0.2") as http:
        for u in (coach, other_coach, manager):
            tokens[u.email] = await login(http, u.email)

    async with make_client(app, "10.9.0.3") as http:

        async def read(reader, target) -> int:
            url = f"/v1/users/{target.id}"
            return (await http.get(url, headers=bearer(tokens[reader.email]))).status_code

        assert await read(bob, alice) == 404  # not 403: existence is not revealed
        assert await read(manager, alice) == 404  # managers see aggregates only
        assert await read(other_coach, alice) == 404
        assert await read(coach, bob) == 404
        assert await read(coach, alice) == 200
        assert await read(admin, bob) == 200
        assert await read(alice, alice) == 200
        random_id = await http.get(f"/v1/users/{uuid.uuid4()}", headers=bearer(tokens[admin.email]))
        assert random_id.status_code == 404
        bad_id = await http.get("/v1/users/not-a-uuid", headers=bearer(tokens[admin.email]))
        assert bad_id.status_code == 422

        # B cannot end A's session with A's refresh token
        stolen = await http.post(
            "/v1/auth/logout",
            json={"refresh_token": tokens[alice.email]["refresh_token"]},
            headers=bearer(tokens[bob.email]),
        )
        assert stolen.status_code == 401

    reads = list(
        await db_session.scalars(
            select(AuditLog).where(
                AuditLog.user_id.in_([alice.id, bob.id]), AuditLog.action == "profile.read"
            )
        )
    )
    assert {(row.actor_id, row.user_id) for row in reads} == {
        (coach.id, alice.id),
        (admin.id, bob.id),
    }


async def test_every_me_route_needs_a_token(client):
    for method, url in [
        ("GET", "/v1/me"),
        ("PATCH", "/v1/me"),
        ("GET", "/v1/me/consents"),
        ("PUT", "/v1/me/consents"),
        ("POST", "/v1/auth/2fa/enroll"),
        ("GET", f"/v1/users/{uuid.uuid4()}"),
    ]:
        response = await client.request(method, url, json={})
        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "invalid_token"


async def test_disabled_accounts_cannot_use_their_tokens(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email)
    user.disabled_at = utcnow()
    await db_session.flush()
    response = await client.get("/v1/me", headers=bearer(tokens))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    relogin = await client.post(
        "/v1/auth/login", json={"email": user.email, "password": "correct horse battery staple"}
    )
    assert relogin.json()["error"]["code"] == "account_disabled"


async def test_the_time_zone_is_set_checked_and_reset(client, db_session, platform):
    """Health summaries count the user's days in it (an IANA zone, UTC by default)."""
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    assert (await client.get("/v1/me", headers=headers)).json()["timezone"] == "UTC"
    changed = await client.patch("/v1/me", json={"timezone": "Europe/Rome"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["timezone"] == "Europe/Rome"
    for wrong in ("Mars/Olympus", "CET\n", ""):
        refused = await client.patch("/v1/me", json={"timezone": wrong}, headers=headers)
        assert refused.status_code == 422, wrong
    refused = await client.patch("/v1/me", json={"timezone": "Rome"}, headers=headers)
    assert refused.json()["error"]["details"][0]["type"] == "invalid_timezone"
    reset = await client.patch("/v1/me", json={"timezone": None}, headers=headers)
    assert reset.json()["timezone"] == "UTC"
