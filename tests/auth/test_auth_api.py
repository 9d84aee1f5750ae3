"""The mobile apps' auth contract, through HTTP."""

from __future__ import annotations

import jwt
import pyotp
import pytest
from sqlalchemy import select

from tests.support.clients import make_client
from tests.support.factories import (
    PASSWORD,
    bearer,
    create_user,
    last_email,
    login,
    token_in,
    unique_email,
)
from wellcoach.auth import one_time, passwords
from wellcoach.models import AuditLog, EmailOutbox, User


def register_body(address: str, **overrides) -> dict:
    body = {
        "email": address,
        "password": PASSWORD,
        "name": "Giulia",
        "role": "athlete",
        "sport": "tennis",
        "team": "Roma TC",
        "language": "it",
        "consents": {"data_processing": True, "health_data": False, "marketing": False},
    }
    return body | overrides


async def audit_actions(session, user_id) -> list[str]:
    rows = await session.scalars(
        select(AuditLog.action).where(AuditLog.user_id == user_id).order_by(AuditLog.created_at)
    )
    return list(rows)


# -- registration and verification ------------------------------------------------------


async def test_register_verify_login_flow(client, db_session):
    email = unique_email()
    response = await client.post("/v1/auth/register", json=register_body(email))
    assert response.status_code == 202

    user = await db_session.scalar(select(User).where(User.email == email))
    assert user is not None and user.email_verified_at is None
    assert passwords.hash_cost(user.password_hash) == 4
    mail = await last_email(db_session, email, "verify_email")
    assert mail.subject.startswith("Conferma")  # the user's language

    tokens = await login(client, email)
    me = (await client.get("/v1/me", headers=bearer(tokens))).json()
    assert me["email_verified"] is False
    assert me["preferences"]["language"] == "it"
    assert me["consent"] == {"data_processing": True, "health_data": False, "marketing": False}

    verified = await client.post("/v1/auth/verify", json={"token": token_in(mail)})
    assert verified.status_code == 200
    again = await client.post("/v1/auth/verify", json={"token": token_in(mail)})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_or_expired_token"
    me = (await client.get("/v1/me", headers=bearer(tokens))).json()
    assert me["email_verified"] is True
    assert {"user.register", "auth.login", "user.verify_email"} <= set(
        await audit_actions(db_session, user.id)
    )


async def test_register_does_not_reveal_taken_emails(client, db_session, platform):
    existing = await create_user(db_session, platform)
    fresh = await client.post("/v1/auth/register", json=register_body(unique_email()))
    taken = await client.post("/v1/auth/register", json=register_body(existing.email))

    assert taken.status_code == fresh.status_code == 202
    assert taken.json() == fresh.json()
    notice = await last_email(db_session, existing.email)
    assert notice.template == "already_registered"
    assert "token=" not in notice.body


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"password": "short"}, 400, "weak_password"),
        ({"password": "Football2024!"}, 400, "weak_password"),
        ({"email": "not-an-email"}, 422, "validation_error"),
        ({"role": "admin"}, 422, "validation_error"),
        ({"language": "fr"}, 422, "validation_error"),
        ({"tier": "team"}, 422, "validation_error"),
    ],
)
async def test_register_rejects_bad_input_with_a_code(client, overrides, status, code):
    response = await client.post(
        "/v1/auth/register", json=register_body(unique_email(), **overrides)
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("role", ["coach", "team_manager", "admin"])
async def test_staff_cannot_sign_themselves_up(client, db_session, role):
    """Coach and team manager accounts see athletes' data: an administrator creates them
    (`wellcoach users create --role ...`); sign-up makes athletes only."""
    email = unique_email()
    response = await client.post("/v1/auth/register", json=register_body(email, role=role))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == ["body", "role"]
    assert await db_session.scalar(select(User).where(User.email == email)) is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Giu\u0000lia"}, "name"),
        ({"sport": "ten\u0000nis"}, "sport"),
        ({"team": "Roma TC\u0000"}, "team"),
        ({"consents": {"data_processing": 1.0}}, "consents"),
    ],
)
async def test_register_refuses_what_the_database_cannot_store(client, overrides, field):
    """A NUL byte made the database raise (a 500, the values in the log): now a 422 that
    names the field, before anything is looked up."""
    response = await client.post(
        "/v1/auth/register", json=register_body(unique_email(), **overrides)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"][:2] == ["body", field]


async def test_password_equal_to_email_is_refused(client):
    email = unique_email()
    response = await client.post("/v1/auth/register", json=register_body(email, password=email))
    assert response.json()["error"]["details"] == {"rule": "equals_email"}


async def test_tampered_verification_token_is_refused(client, db_session):
    email = unique_email()
    await client.post("/v1/auth/register", json=register_body(email))
    token = token_in(await last_email(db_session, email, "verify_email"))
    tampered = token[:-3] + ("aaa" if token[-3:] != "aaa" else "bbb")
    response = await client.post("/v1/auth/verify", json={"token": tampered})
    assert response.json()["error"]["code"] == "invalid_or_expired_token"


async def test_resend_verification_is_rate_limited_and_silent(client, db_session):
    email = unique_email()
    await client.post("/v1/auth/register", json=register_body(email))
    for _ in range(4):
        response = await client.post("/v1/auth/verify/resend", json={"email": email})
        assert response.status_code == 202
    unknown = await client.post("/v1/auth/verify/resend", json={"email": unique_email()})
    assert unknown.json() == response.json()
    sent = await db_session.scalars(select(EmailOutbox).where(EmailOutbox.to_address == email))
    assert len(list(sent)) == 3  # the registration email plus two resends within 3/hour


# -- login, tokens ------------------------------------------------------------------------


async def test_login_failures_do_not_reveal_which_part_was_wrong(client, db_session, platform):
    user = await create_user(db_session, platform)
    wrong_password = await client.post(
        "/v1/auth/login", json={"email": user.email, "password": "wrong password 123"}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"email": unique_email(), "password": PASSWORD}
    )
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"

    failure = await db_session.scalar(
        select(AuditLog).where(AuditLog.user_id == user.id, AuditLog.action == "auth.login_failed")
    )
    assert failure is not None
    assert str(failure.ip_address) == "127.0.0.1"
    assert failure.user_agent == "pytest-app/1.0"
    assert "wrong password" not in str(failure.details)


async def test_login_returns_the_token_contract(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email.upper())  # emails are case-insensitive
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["access_token"])
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "athlete" and claims["tier"] == "free"
    assert claims["exp"] - claims["iat"] == 900
    assert header["kid"] and header["alg"] == "HS256"


async def test_refresh_rotates_and_reuse_revokes_the_family(client, db_session, platform):
    user = await create_user(db_session, platform)
    first = await login(client, user.email)

    second = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/v1/me", headers=bearer(second))).status_code == 200

    reused = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_reused"
    # the attacker's (or victim's) newer token of the same family is dead too
    child = await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert child.status_code == 401
    assert "auth.refresh_token_reused" in await audit_actions(db_session, user.id)

    unknown = await client.post("/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert unknown.json()["error"]["code"] == "invalid_token"


async def test_logout_revokes_the_session(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email)
    out = await client.post(
        "/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert out.status_code == 204
    after = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert after.status_code == 401


async def _token_with(platform, user, *, audience=None, typ="access", ttl=900, **claims):
    token, _ = await platform.signer.sign(
        {"sub": str(user.id), "role": "admin", "tier": "team", "typ": typ, **claims},
        audience=audience or platform.settings.auth.audience,
        ttl_seconds=ttl,
    )
    return token


async def test_bad_tokens_are_refused(client, db_session, platform):
    user = await create_user(db_session, platform)
    good = (await login(client, user.email))["access_token"]
    header = jwt.get_unverified_header(good)
    payload = jwt.decode(good, options={"verify_signature": False})
    none_alg = jwt.encode(payload, key=None, algorithm="none", headers={"kid": header["kid"]})
    wrong_key = jwt.encode(payload, "not-the-key", algorithm="HS256", headers=header)
    unknown_kid = jwt.encode(payload, "x" * 32, algorithm="HS256", headers={"kid": "nope"})
    cases = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "none_alg": none_alg,
        "wrong_key": wrong_key,
        "unknown_kid": unknown_kid,
        "expired": await _token_with(platform, user, ttl=-60),
        "wrong_audience": await _token_with(platform, user, audience="another-app"),
        "email_token_as_access": await _token_with(
            platform, user, audience=one_time.AUDIENCE, typ=one_time.VERIFY_EMAIL
        ),
        "garbage": "not.a.jwt",
    }
    for name, token in cases.items():
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "invalid_token", name
        assert response.headers["www-authenticate"] == "Bearer"
    missing = await client.get("/v1/me")
    assert missing.status_code == 401


async def test_wrong_issuer_is_refused(client, db_session, platform):
    user = await create_user(db_session, platform)
    good = (await login(client, user.email))["access_token"]
    key = next(k for k in platform.signer._keys.values() if k.retired_at is None)
    payload = jwt.decode(good, options={"verify_signature": False}) | {"iss": "evil"}
    forged = jwt.encode(payload, key.secret, algorithm="HS256", headers={"kid": key.kid})
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401


async def test_rotated_signing_key_still_verifies_old_tokens(client, db_session, platform):
    user = await create_user(db_session, platform)
    old = await login(client, user.email)
    async with platform.unit_of_work() as session:
        new_kid = await platform.signer.rotate(session)
    assert (await client.get("/v1/me", headers=bearer(old))).status_code == 200
    new = (
        await client.post("/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
    ).json()
    assert jwt.get_unverified_header(new["access_token"])["kid"] == new_kid


async def test_login_is_throttled_per_account(app, db_session, platform):
    user = await create_user(db_session, platform)
    body = {"email": user.email, "password": "wrong password 123"}
    for attempt in range(5):
        async with make_client(app, f"10.1.0.{attempt}") as http:
            assert (await http.post("/v1/auth/login", json=body)).status_code == 401
    async with make_client(app, "10.1.0.99") as http:
        blocked = await http.post(
            "/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert 0 < int(blocked.headers["retry-after"]) <= 600


async def test_login_is_throttled_per_ip(app, db_session, platform):
    async with make_client(app, "10.2.0.1") as http:
        for _ in range(5):
            response = await http.post(
                "/v1/auth/login", json={"email": unique_email(), "password": PASSWORD}
            )
            assert response.status_code == 401
        blocked = await http.post("/v1/auth/login", json={"email": unique_email(), "password": "x"})
    assert blocked.status_code == 429
    assert "retry-after" in blocked.headers


async def test_successful_login_clears_the_account_failures(client, db_session, platform):
    user = await create_user(db_session, platform)
    for _ in range(3):
        await client.post("/v1/auth/login", json={"email": user.email, "password": "nope nope 1"})
    await login(client, user.email)
    async with make_client(client._transport.app, "10.3.0.1") as http:  # type: ignore[attr-defined]
        for _ in range(4):
            await http.post("/v1/auth/login", json={"email": user.email, "password": "nope nope 1"})
        assert (
            await http.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        ).status_code == 200


async def test_password_is_rehashed_at_the_new_cost_on_login(client, db_session, platform):
    user = await create_user(db_session, platform)
    assert passwords.hash_cost(user.password_hash) == 4
    platform.settings.auth.bcrypt_rounds = 5
    try:
        await login(client, user.email)
    finally:
        platform.settings.auth.bcrypt_rounds = 4
    await db_session.refresh(user)
    assert passwords.hash_cost(user.password_hash) == 5
    await login(client, user.email)  # the old password still works after rehash


# -- passwords ------------------------------------------------------------------------------


async def test_password_reset_signs_out_everywhere(client, db_session, platform):
    user = await create_user(db_session, platform)
    user_id, email = user.id, user.email  # a failed request below rolls back and expires `user`
    tokens = await login(client, email)
    silent = await client.post("/v1/auth/password/forgot", json={"email": unique_email()})
    asked = await client.post("/v1/auth/password/forgot", json={"email": email})
    assert asked.status_code == silent.status_code == 202
    assert asked.json() == silent.json()
    token = token_in(await last_email(db_session, email, "reset_password"))

    weak = await client.post(
        "/v1/auth/password/reset", json={"token": token, "new_password": "abc"}
    )
    assert weak.json()["error"]["code"] == "weak_password"
    new_password = "a brand new long passphrase"
    done = await client.post(
        "/v1/auth/password/reset", json={"token": token, "new_password": new_password}
    )
    assert done.status_code == 200
    reuse = await client.post(
        "/v1/auth/password/reset", json={"token": token, "new_password": "yet another passphrase"}
    )
    assert reuse.status_code == 400

    assert (await client.get("/v1/me", headers=bearer(tokens))).status_code == 401
    stale = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert stale.status_code == 401
    await login(client, email, new_password)
    assert (await last_email(db_session, email)).template == "password_changed"
    assert "auth.password_reset" in await audit_actions(db_session, user_id)


async def test_password_change_requires_the_current_password(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email)
    wrong = await client.post(
        "/v1/auth/password/change",
        json={"current_password": "not it at all", "new_password": "another good passphrase"},
        headers=bearer(tokens),
    )
    assert wrong.status_code == 401
    changed = await client.post(
        "/v1/auth/password/change",
        json={"current_password": PASSWORD, "new_password": "another good passphrase"},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200
    fresh = changed.json()
    me = await client.get("/v1/me", headers=bearer(fresh))
    assert me.status_code == 200, me.text
    old = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert old.status_code == 401
    assert {"auth.password_change_failed", "auth.password_change"} <= set(
        await audit_actions(db_session, user.id)
    )


# -- two-factor ----------------------------------------------------------------------------


async def test_totp_enrollment_login_replay_and_recovery(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email)
    enrolled = (await client.post("/v1/auth/2fa/enroll", headers=bearer(tokens))).json()
    assert enrolled["provisioning_uri"].startswith("otpauth://totp/wellcoach:")
    totp = pyotp.TOTP(enrolled["secret"])
    bad = await client.post("/v1/auth/2fa/confirm", json={"code": "000000"}, headers=bearer(tokens))
    assert bad.json()["error"]["code"] == "invalid_totp"
    confirmed = await client.post(
        "/v1/auth/2fa/confirm", json={"code": totp.now()}, headers=bearer(tokens)
    )
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    await db_session.refresh(user)
    assert (
        user.totp_secret_encrypted and enrolled["secret"].encode() not in user.totp_secret_encrypted
    )

    need = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert need.status_code == 401 and need.json()["error"]["code"] == "totp_required"
    await platform.redis.flushdb()  # the confirm code counts as used; start the window fresh
    code = totp.at(totp.timecode(__import__("datetime").datetime.now()) * 30 + 30)
    ok = await client.post(
        "/v1/auth/login", json={"email": user.email, "password": PASSWORD, "totp_code": code}
    )
    assert ok.status_code == 200
    replay = await client.post(
        "/v1/auth/login", json={"email": user.email, "password": PASSWORD, "totp_code": code}
    )
    assert replay.json()["error"]["code"] == "invalid_totp"

    with_recovery = {"email": user.email, "password": PASSWORD, "totp_code": codes[0]}
    assert (await client.post("/v1/auth/login", json=with_recovery)).status_code == 200
    await platform.redis.flushdb()
    assert (await client.post("/v1/auth/login", json=with_recovery)).status_code == 401


async def test_totp_disable_needs_password_and_code(client, db_session, platform):
    user = await create_user(db_session, platform)
    tokens = await login(client, user.email)
    secret = (await client.post("/v1/auth/2fa/enroll", headers=bearer(tokens))).json()["secret"]
    codes = (
        await client.post(
            "/v1/auth/2fa/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=bearer(tokens)
        )
    ).json()["recovery_codes"]
    wrong = await client.post(
        "/v1/auth/2fa/disable",
        json={"password": "wrong wrong wrong", "code": codes[1]},
        headers=bearer(tokens),
    )
    assert wrong.status_code == 401
    fresh = await client.post(
        "/v1/auth/2fa/recovery-codes", json={"code": codes[1]}, headers=bearer(tokens)
    )
    new_codes = fresh.json()["recovery_codes"]
    assert set(new_codes).isdisjoint(codes)
    off = await client.post(
        "/v1/auth/2fa/disable",
        json={"password": PASSWORD, "code": new_codes[0]},
        headers=bearer(tokens),
    )
    assert off.status_code == 204
    assert (
        await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).status_code == 200


async def test_registration_needs_consent_to_data_processing(client):
    for consents in ({}, {"data_processing": False, "marketing": True}):
        body = register_body(unique_email()) | {"consents": consents}
        refused = await client.post("/v1/auth/register", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "consent_required"
        assert refused.json()["error"]["details"] == {"consent": "data_processing"}
