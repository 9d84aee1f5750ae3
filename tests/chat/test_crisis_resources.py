"""Crisis replies give the user's country's emergency number and crisis line, in the
user's language (issue 14, item 2): through sign-up, verification, login and a crisis
message over HTTP, with the offline composer and with a model."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from tests.support.factories import PASSWORD, bearer, last_email, login, token_in, unique_email
from wellcoach.chat.safety import resources
from wellcoach.config import EmergencyResource, SafetySettings

CRISIS_MESSAGE = {"en": "I can't go on, I want to kill myself", "it": "voglio farla finita"}
SAFE_NOW = {"en": "Are you safe right now?", "it": "Adesso sei al sicuro?"}
# written out here, not read from the module: a wrong number there fails here
EMERGENCY = {
    "IT": "112",
    "GB": "999",
    "IE": "112",
    "US": "911",
    "CA": "911",
    "AU": "000",
    "DE": "112",
    "FR": "112",
    "ES": "112",
}
CRISIS_LINES = {
    "IT": ["02 2327 2327"],
    "GB": ["116 123"],
    "IE": ["116 123", "1800 247 247"],
    "US": ["988"],
    "CA": ["988"],
    "AU": ["13 11 14"],
    "DE": ["0800 111 0 111", "0800 111 0 222"],
    "FR": ["3114"],
    "ES": ["024"],
}
# how each language names the two kinds of resource, on the resource's own line
EMERGENCY_WORD = {"en": re.compile(r"emergency", re.I), "it": re.compile(r"emergenza", re.I)}
CRISIS_WORD = {"en": re.compile(r"line\b", re.I), "it": re.compile(r"\b(linea|numero)\b", re.I)}
FALLBACK_DIRECTORIES = [
    "https://findahelpline.com",
    "https://www.iasp.info/crisis-centres-helplines/",
]
FALLBACK_EMERGENCY = {"en": "your local emergency number", "it": "il numero di emergenza locale"}


async def sign_up(client, db_session, *, headers=None, **fields) -> dict[str, str]:
    """Register over HTTP, verify the address from the outbox, log in: auth headers."""
    email = unique_email()
    body = {
        "email": email,
        "password": PASSWORD,
        "name": "Alex",
        "consents": {"data_processing": True},
    } | fields
    registered = await client.post("/v1/auth/register", json=body, headers=headers or {})
    assert registered.status_code == 202, registered.text
    mail = await last_email(db_session, email, "verify_email")
    verified = await client.post("/v1/auth/verify", json={"token": token_in(mail)})
    assert verified.status_code == 200, verified.text
    return bearer(await login(client, email))


async def crisis_reply(client, headers, language: str) -> str:
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    turn = await client.post(
        f"/v1/chat/sessions/{session_id}/messages",
        json={"content": CRISIS_MESSAGE[language]},
        headers=headers,
    )
    assert turn.status_code == 200, turn.text
    assert turn.json()["crisis"] is True
    return turn.json()["reply"]["content"]


def line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert lines, f"{needle!r} is not in the reply:\n{text}"
    return lines[0]


def assert_country_resources(reply: str, country: str, language: str, composed=True) -> None:
    if composed:  # the offline composer's reviewed wording, in the user's language
        assert SAFE_NOW[language] in reply
    emergency = line_with(reply, f": {EMERGENCY[country]}")
    assert EMERGENCY_WORD[language].search(emergency), emergency
    for number in CRISIS_LINES[country]:
        assert CRISIS_WORD[language].search(line_with(reply, number)), number
    other = "it" if language == "en" else "en"
    assert not EMERGENCY_WORD[other].search(emergency)


def assert_fallback(reply: str, language: str, composed=True) -> None:
    if composed:
        assert SAFE_NOW[language] in reply
    assert "112" in line_with(reply, FALLBACK_EMERGENCY[language])
    for directory in FALLBACK_DIRECTORIES:
        assert directory in reply


@pytest.mark.parametrize("language", ["en", "it"])
@pytest.mark.parametrize("country", sorted(EMERGENCY))
async def test_a_crisis_reply_gives_the_countrys_numbers_in_the_users_language(
    client, db_session, platform, country, language
):
    headers = await sign_up(client, db_session, country=country.lower(), language=language)
    me = (await client.get("/v1/me", headers=headers)).json()
    assert me["country"] == country
    reply = await crisis_reply(client, headers, language)
    assert_country_resources(reply, country, language)


@pytest.mark.parametrize(
    ("fields", "language"),
    [
        ({"language": "en"}, "en"),  # no country: no longer "European emergency number" only
        ({"language": "en", "country": "NL"}, "en"),  # a country with no shipped list
        ({"language": "it", "country": "BR"}, "it"),
        ({"language": "en", "locale": "en"}, "en"),  # a locale without a region
    ],
)
async def test_any_other_or_unknown_country_gets_the_local_number_and_directories(
    client, db_session, platform, fields, language
):
    headers = await sign_up(client, db_session, **fields)
    assert_fallback(await crisis_reply(client, headers, language), language)


async def test_an_italian_speaker_without_a_country_gets_the_italian_resources(
    client, db_session, platform
):
    headers = await sign_up(client, db_session, language="it")
    assert (await client.get("/v1/me", headers=headers)).json()["country"] is None
    assert_country_resources(await crisis_reply(client, headers, "it"), "IT", "it")


@pytest.mark.parametrize(
    ("fields", "accept_language", "country", "language"),
    [
        ({"locale": "en-AU"}, None, "AU", "en"),
        ({"locale": "en_GB"}, None, "GB", "en"),
        ({"locale": "it-IT"}, None, "IT", "it"),  # the language follows the locale too
        ({}, "en-US,en;q=0.9", "US", "en"),
        ({}, "fr-CA,fr;q=0.9,en;q=0.8", "CA", "en"),  # fr is not a coach language
        ({}, "de;q=0.9, de-DE;q=0.8, it;q=0.5", "DE", "it"),
        ({"locale": "en"}, "es-ES", "ES", "en"),  # the locale has no region: the header's
        ({"locale": "en-IE"}, "en-US", "IE", "en"),  # the body's locale wins
    ],
)
async def test_the_country_is_inferred_from_the_locale_or_accept_language(
    client, db_session, platform, fields, accept_language, country, language
):
    headers = await sign_up(
        client,
        db_session,
        headers={"Accept-Language": accept_language} if accept_language else None,
        **fields,
    )
    me = (await client.get("/v1/me", headers=headers)).json()
    assert (me["country"], me["preferences"]["language"]) == (country, language)
    assert_country_resources(await crisis_reply(client, headers, language), country, language)


async def test_changing_the_country_changes_the_resources(client, db_session, platform):
    headers = await sign_up(client, db_session, language="en")
    assert_fallback(await crisis_reply(client, headers, "en"), "en")
    patched = await client.patch("/v1/me", json={"country": "au"}, headers=headers)
    assert patched.json()["country"] == "AU"
    assert_country_resources(await crisis_reply(client, headers, "en"), "AU", "en")


# -- with a model: the crisis prompt names both, and the reply gives both ---------------------


@pytest.mark.parametrize(("country", "language"), [("AU", "en"), ("FR", "it"), (None, "en")])
async def test_the_crisis_prompt_and_the_models_reply_give_both(
    openai_client, db_session, platform, fake_openai, country, language
):
    fields = {"language": language} | ({"country": country} if country else {})
    headers = await sign_up(openai_client, db_session, **fields)
    reply = await crisis_reply(openai_client, headers, language)
    system = fake_openai.requests_for("chat/completions")[-1].messages[0]["content"]
    assert system.startswith("CRISIS MODE")
    contacts = system.split("Emergency contacts:")[1]
    if country is None:
        assert_fallback(reply, language, composed=False)
        assert FALLBACK_DIRECTORIES[0] in contacts
    else:
        # the model's text names none of them: the pipeline appended them
        assert_country_resources(reply, country, language, composed=False)
        assert EMERGENCY[country] in contacts
        assert all(number in contacts for number in CRISIS_LINES[country])


# -- the table itself ------------------------------------------------------------------------


@pytest.mark.parametrize("country", sorted(resources.COUNTRIES))
def test_every_shipped_country_has_both_kinds_worded_in_both_languages(country):
    assert set(resources.COUNTRIES) == set(EMERGENCY)
    worded = {
        language: resources.resources_for(SafetySettings(), country=country, language=language)
        for language in ("en", "it")
    }
    for listed in worded.values():
        kinds = [r.kind for r in listed]
        assert kinds[0] == "emergency" and "crisis_line" in kinds
        assert listed[0].contact == EMERGENCY[country]
        lines = " ".join(r.contact for r in listed if r.kind == "crisis_line")
        assert all(number in lines for number in CRISIS_LINES[country])
    assert [r.name for r in worded["en"]] != [r.name for r in worded["it"]]
    assert [r.contact for r in worded["en"]] == [r.contact for r in worded["it"]]


def test_resolution_order_country_then_language_then_fallback():
    settings = SafetySettings()
    assert resources.country_for("gb", ["it"], settings) == "GB"
    assert resources.country_for(None, ["en", "it"], settings) == "IT"
    assert resources.country_for(None, [None, "en"], settings) is None
    # the profile's language comes first: the message's only when it implies a country
    listed = resources.resources_for(settings, country=None, language="en", languages=["it"])
    assert listed[1].organisation == "Telefono Amico Italia" and "Emotional" in listed[1].name


def test_an_operator_can_replace_a_countrys_list_but_not_drop_the_crisis_line():
    override = [
        EmergencyResource(kind="emergency", name="Emergency", contact="112"),
        EmergencyResource(kind="crisis_line", name="Local line", contact="0800 000 000"),
    ]
    settings = SafetySettings(resources={"nl": override, "fallback": override})
    assert resources.resources_for(settings, country="NL", language="it") == override
    assert resources.resources_for(settings, country="PT", language="en") == override
    assert resources.resources_for(settings, country="GB", language="en")[0].contact == "999"
    with pytest.raises(ValidationError, match="crisis line"):
        SafetySettings(resources={"NL": override[:1]})
