"""What the API says to people is in their language: the signed-in user's, else the
request's Accept-Language, else English. Codes never change."""

from __future__ import annotations

import inspect
import re
import uuid

import pytest
from sqlalchemy import select

from api.errors import CODE_BY_STATUS
from api.messages import ITALIAN, ITALIAN_BY_CODE, negotiate, say
from tests.support.factories import (
    PASSWORD,
    bearer,
    create_user,
    last_email,
    login,
    token_in,
    unique_email,
)
from tests.support.realtime import connect, new_session, tokens
from wellcoach.errors import WellcoachError
from wellcoach.models import User

ENGLISH_WORDS = ("the", "is", "your", "you", "to", "and", "not", "this", "use", "try", "please")


def italian(text: str) -> bool:
    """Not English: none of the commonest English words (code names in backquotes aside)."""
    words = re.sub(r"`[^`]*`", " ", text).lower().replace(";", " ").replace(".", " ").split()
    return bool(words) and not any(word in ENGLISH_WORDS for word in words)


def register_body(address: str, **overrides) -> dict:
    body = {
        "email": address,
        "password": PASSWORD,
        "name": "Giulia",
        "consents": {"data_processing": True},
    }
    return body | overrides


async def test_an_italian_sign_up_is_answered_in_italian_end_to_end(client, db_session):
    address = unique_email()
    registered = await client.post(
        "/v1/auth/register", json=register_body(address), headers={"Accept-Language": "it-IT"}
    )
    assert registered.status_code == 202
    assert registered.json()["message"] == (
        "Se l'indirizzo è utilizzabile, ti abbiamo inviato un'email con il prossimo passo."
    )
    mail = await last_email(db_session, address, "verify_email")
    # the link is opened later, on any device: the answer follows the account's language
    verified = await client.post("/v1/auth/verify", json={"token": token_in(mail)})
    assert verified.json() == {
        "status": "verified",
        "message": "Il tuo indirizzo email è verificato.",
    }

    reused = await client.post("/v1/auth/verify", json={"token": token_in(mail)})
    assert reused.json()["error"]["code"] == "invalid_or_expired_token"  # no user known: English
    assert reused.json()["error"]["message"] == "The link is invalid, expired or was already used."


async def test_an_english_sign_up_is_answered_in_english(client):
    registered = await client.post(
        "/v1/auth/register",
        json=register_body(unique_email(), language="en"),
        headers={"Accept-Language": "it-IT"},  # the body's language wins
    )
    assert registered.json()["message"].startswith("If the address can be used")


async def test_errors_follow_the_signed_in_users_language(client, db_session, platform):
    user = await create_user(db_session, platform, language="it")
    headers = bearer(await login(client, user.email))
    missing = await client.post(
        f"/v1/chat/sessions/{uuid.uuid4()}/messages", json={"content": "ciao"}, headers=headers
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "Questa conversazione non esiste.",
        "details": None,
    }
    # the profile wins over a browser asking for English
    invalid = await client.post(
        "/v1/chat/sessions/not-a-uuid/messages",
        json={"content": "ciao"},
        headers=headers | {"Accept-Language": "en-US"},
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["message"] == "La richiesta non è valida."
    assert invalid.json()["error"]["details"]  # the machine-readable part is unchanged

    english = await create_user(db_session, platform, language="en")
    english_headers = bearer(await login(client, english.email))
    missing = await client.post(
        f"/v1/chat/sessions/{uuid.uuid4()}/messages",
        json={"content": "hi"},
        headers=english_headers | {"Accept-Language": "it"},
    )
    assert missing.json()["error"]["message"] == "No such chat session."


async def test_before_sign_in_errors_follow_accept_language(client, db_session, platform):
    user = await create_user(db_session, platform)
    wrong = await client.post(
        "/v1/auth/login",
        json={"email": user.email, "password": "not the password at all"},
        headers={"Accept-Language": "it;q=0.9, de;q=1"},  # German is not offered: Italian
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert italian(wrong.json()["error"]["message"]), wrong.json()
    weak = await client.post(
        "/v1/auth/register",
        json=register_body(unique_email(), password="short"),
        headers={"Accept-Language": "it"},
    )
    assert weak.json()["error"]["code"] in {"weak_password", "validation_error"}
    assert italian(weak.json()["error"]["message"]), weak.json()
    unknown = await client.get("/v1/no-such-route", headers={"Accept-Language": "it"})
    assert unknown.status_code == 404 and italian(unknown.json()["error"]["message"])
    plain = await client.get("/v1/no-such-route")
    assert plain.json()["error"]["message"] == "Not Found"


async def test_socket_error_acks_are_in_the_users_language(live_server, platform):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform, language="it")
        email = user.email
    access = (await tokens(live_server, email))["access_token"]
    await new_session(live_server, access)
    socket = await connect(live_server, access)
    try:
        foreign = await socket.call(
            "send_message",
            {"session_id": str(uuid.uuid4()), "content": "ciao"},
            namespace="/chat",
            timeout=5,
        )
    finally:
        await socket.disconnect()
    assert foreign["error"] == {"code": "not_found", "message": "Questa conversazione non esiste."}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("it-IT,it;q=0.9,en;q=0.8", "it"),
        ("en-GB, it;q=0.5", "en"),
        ("de-DE, it;q=0.1", "it"),
        ("fr, de", None),
        ("", None),
        (None, None),
        ("*", None),
        ("it;q=0", None),
    ],
)
def test_accept_language_negotiation(header, language):
    assert negotiate(header) == language


def _codes() -> set[str]:
    """Every code an error of the core or the adapter can carry."""
    codes = set(CODE_BY_STATUS.values()) | {"server_busy", "http_error"}
    pending = [WellcoachError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_every_error_code_has_an_italian_message():
    import wellcoach.platform

    assert inspect.ismodule(wellcoach)
    assert _codes() - set(ITALIAN_BY_CODE) == set()


def test_english_stays_as_raised_and_italian_is_never_english():
    assert say("No such message.", "en", "not_found") == "No such message."
    assert say("Use at least 10 characters.", "it", "weak_password") == "Usa almeno 10 caratteri."
    assert (
        say("Something new the catalogue lacks.", "it", "conflict") == (ITALIAN_BY_CODE["conflict"])
    )
    for english, translated in ITALIAN.items():
        assert italian(translated), (english, translated)
    for translated in ITALIAN_BY_CODE.values():
        assert italian(translated), translated


async def test_profile_language_is_what_decides(client, db_session, platform):
    """Switching the profile's language switches the API's."""
    user = await create_user(db_session, platform, language="en")
    headers = bearer(await login(client, user.email))
    changed = await client.patch(
        "/v1/me", json={"preferences": {"language": "it"}}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    stored = await db_session.scalar(select(User).where(User.id == user.id))
    assert stored is not None
    missing = await client.post(f"/v1/chat/messages/{uuid.uuid4()}/retry", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Questo messaggio non esiste."
