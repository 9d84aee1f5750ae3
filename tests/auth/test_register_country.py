"""Sign-up with a country, a locale or only an Accept-Language header (issue 14): what is
stored, and how a bad country or locale is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.factories import PASSWORD, unique_email
from wellcoach.models import User


def body(email: str, **fields) -> dict:
    return {
        "email": email,
        "password": PASSWORD,
        "name": "Alex",
        "consents": {"data_processing": True},
    } | fields


async def register(client, db_session, headers=None, **fields) -> User:
    email = unique_email()
    response = await client.post(
        "/v1/auth/register", json=body(email, **fields), headers=headers or {}
    )
    assert response.status_code == 202, response.text
    user = await db_session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


@pytest.mark.parametrize(
    ("fields", "accept_language", "country", "language"),
    [
        ({"country": "it", "language": "it"}, None, "IT", "it"),
        ({"country": "US", "locale": "en-GB"}, "en-AU", "US", "en"),  # stated wins
        ({"locale": "en_GB"}, None, "GB", "en"),
        ({"locale": "it-IT"}, None, "IT", "it"),
        ({"locale": "it-CH", "language": "en"}, None, "CH", "en"),  # stated language wins
        ({"locale": "fr-FR"}, None, "FR", "en"),  # not a coach language: en
        ({"locale": "es-419"}, None, None, "en"),  # a region that is not a country
        ({}, "it-IT,it;q=0.9,en-US;q=0.8", "IT", "it"),
        ({}, "en", None, "en"),  # no region anywhere: left null
        ({}, None, None, "en"),
        ({}, "not a header ;;", None, "en"),
    ],
)
async def test_register_stores_the_stated_or_inferred_country(
    client, db_session, platform, fields, accept_language, country, language
):
    headers = {"Accept-Language": accept_language} if accept_language else None
    user = await register(client, db_session, headers, **fields)
    assert user.country == country
    assert user.preferences["language"] == language


@pytest.mark.parametrize(
    ("fields", "field", "error_type"),
    [
        ({"country": "UK"}, "country", "invalid_country"),
        ({"country": "XX"}, "country", "invalid_country"),
        ({"country": "ITA"}, "country", "invalid_country"),
        ({"country": "it "}, "country", "invalid_country"),
        ({"locale": "english"}, "locale", "invalid_locale"),
        ({"locale": "en US"}, "locale", "invalid_locale"),
        ({"locale": "en-" + "a" * 40}, "locale", "invalid_locale"),
    ],
)
async def test_register_refuses_a_bad_country_or_locale_with_a_code(
    client, db_session, platform, fields, field, error_type
):
    email = unique_email()
    response = await client.post("/v1/auth/register", json=body(email, **fields))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [(d["loc"], d["type"]) for d in error["details"]] == [(["body", field], error_type)]
    assert await db_session.scalar(select(User).where(User.email == email)) is None


def test_the_openapi_document_names_the_new_fields(app):
    document = app.openapi()
    register = document["paths"]["/v1/auth/register"]["post"]
    assert {"name": "accept-language", "in": "header"}.items() <= register["parameters"][0].items()
    assert {"country", "locale"} <= set(
        document["components"]["schemas"]["RegisterIn"]["properties"]
    )
    assert "invalid_country" in register["responses"]["422"]["description"]
    assert "country" in document["components"]["schemas"]["UserProfile"]["required"]
