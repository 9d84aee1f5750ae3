"""The OpenAPI document tells the truth: every text field publishes the rule the API
applies (and the two agree on any string), every operation names the error statuses
its own rules answer with and their body, and only athletes sign themselves up."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from api.main import create_app
from wellcoach.accounts.countries import COUNTRY_PATTERN, LOCALE_PATTERN
from wellcoach.accounts.schemas import ShortText
from wellcoach.auth.schemas import Password
from wellcoach.chat.schemas import MessageText
from wellcoach.text import ONE_LINE_PATTERN, PROSE_PATTERN, clean_text

ERROR_REF = "#/components/schemas/ErrorOut"
RULES = (ONE_LINE_PATTERN, PROSE_PATTERN, COUNTRY_PATTERN, LOCALE_PATTERN)
# what each operation's own rules answer with, beyond what every route may (4XX)
BUSINESS_STATUSES = {
    ("post", "/v1/auth/register"): {"400", "403", "422", "429", "503"},
    ("post", "/v1/auth/verify"): {"400", "422", "503"},
    ("post", "/v1/auth/login"): {"401", "403", "422", "429", "503"},
    ("post", "/v1/auth/refresh"): {"401", "422", "503"},
    ("post", "/v1/auth/password/reset"): {"400", "422", "503"},
    ("post", "/v1/auth/password/change"): {"400", "401", "422", "503"},
    ("post", "/v1/auth/2fa/enroll"): {"409", "503"},
    ("post", "/v1/auth/2fa/confirm"): {"400", "401", "409", "422", "503"},
    ("patch", "/v1/me"): {"401", "403", "422", "503"},
    ("put", "/v1/me/consents"): {"401", "422", "503"},
    ("get", "/v1/users/{user_id}"): {"401", "404", "422", "503"},
    ("post", "/v1/chat/sessions"): {"401", "403", "503"},
    ("get", "/v1/chat/sessions"): {"401", "403", "422", "503"},
    ("post", "/v1/chat/sessions/{session_id}/mood"): {"400", "403", "404", "422", "503"},
    ("post", "/v1/chat/sessions/{session_id}/messages"): {"403", "404", "409", "422", "503"},
    ("post", "/v1/chat/messages/{message_id}/retry"): {"404", "422", "503"},
}


@pytest.fixture(scope="module")
def document(settings) -> dict:
    app: FastAPI = create_app(settings)
    return app.openapi()


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def _error_schema(response: dict) -> str | None:
    return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


@pytest.mark.parametrize(("method", "path"), sorted(BUSINESS_STATUSES))
def test_business_statuses_are_declared_with_the_error_body(document, method, path):
    responses = document["paths"][path][method]["responses"]
    assert BUSINESS_STATUSES[(method, path)] <= set(responses), sorted(responses)
    for status in BUSINESS_STATUSES[(method, path)]:
        assert _error_schema(responses[status]) == ERROR_REF, (status, responses[status])
        assert responses[status]["description"]


def test_every_operation_declares_its_errors(document):
    """Any 4xx has the error body; a 422 or 503 is declared where it can happen, and a
    503 (or 429) says when to come back."""
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        assert _error_schema(responses["4XX"]) == ERROR_REF, (method, path)
        body = operation.get("requestBody", {}).get("content", {})
        if operation.get("parameters") or "application/json" in body:
            assert "422" in responses, (method, path)  # a raw upload has no schema to fail
        for status in ("429", "503"):
            if status in responses and _error_schema(responses[status]) == ERROR_REF:
                assert "Retry-After" in responses[status]["headers"], (method, path, status)
        if path.startswith("/v1/") and path != "/v1/meta":  # they all read the database
            assert "503" in responses, (method, path)


def _strings(schema: dict, components: dict, seen: set[str]):
    """Every string schema under `schema`, following references once."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _strings(components[name], components, seen)
        return
    if schema.get("type") == "string":
        yield schema
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            yield from _strings(part, components, seen)
    for part in schema.get("properties", {}).values():
        yield from _strings(part, components, seen)
    if isinstance(schema.get("items"), dict):
        yield from _strings(schema["items"], components, seen)


def test_every_text_a_client_sends_has_a_published_rule(document):
    """No free-form string in a request: each is a closed set, a format or one of the
    text rules (which refuse control characters)."""
    components = document["components"]["schemas"]
    for method, path, operation in _operations(document):
        schemas = [p["schema"] for p in operation.get("parameters", [])]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            schemas.append(body["schema"])
        for schema in schemas:
            for string in _strings(schema, components, set()):
                ruled = (
                    string.get("pattern")
                    or string.get("format")
                    or string.get("enum")
                    or "const" in string
                )
                assert ruled, (method, path, string)
                if "pattern" in string and not string["pattern"].startswith("^#"):
                    # a text rule, or a closed grammar of printable ASCII (codes, tags)
                    assert string["pattern"] in RULES, string


def test_only_athletes_sign_themselves_up(document):
    register = document["components"]["schemas"]["RegisterIn"]["properties"]["role"]
    assert register.get("enum", [register.get("const")]) == ["athlete"]
    assert "administrator" in register["description"]
    operation = document["paths"]["/v1/auth/register"]["post"]
    assert "administrator" in operation["description"]


def test_query_dates_are_date_times_and_consents_are_booleans(document):
    listing = document["paths"]["/v1/chat/sessions"]["get"]["parameters"]
    before = next(p for p in listing if p["name"] == "before")["schema"]["anyOf"][0]
    assert before == {"type": "string", "format": "date-time"}
    for name in ("ConsentsIn", "ConsentChange"):
        properties = document["components"]["schemas"][name]["properties"]
        for purpose in ("data_processing", "health_data", "marketing"):
            types = {part.get("type") for part in properties[purpose].get("anyOf", [])}
            assert properties[purpose].get("type") == "boolean" or types == {"boolean", "null"}


# strings a fuzzer or an attacker would try: controls at either end and inside, line
# breaks, spaces of every width, invisible format characters, blanks, lone surrogates
TRICKY = list("\x00\x01\x0b\x0c\x1f\x7f\x85\x9f\t\n\r \xa0\u2028\u2029\u3000")
TRICKY += ["\u200b", "\u200d", "\ufeff", "\u2060", "\u00ad", "\u2800", "\u3164", "\ufe0f"]
TRICKY += ["\ud800", "a", "Z", "é", "e\u0301", "🙂", "名", "-", "0"]
texts = st.lists(st.sampled_from(TRICKY) | st.characters(), max_size=12).map("".join)


def _accepts(adapter: TypeAdapter, value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(texts)
def test_the_published_pattern_and_the_api_agree(value):
    """What the pattern calls valid, the field accepts, and the reverse (lengths aside;
    lone surrogates, which no schema pattern can name, are refused apart). A message
    the API accepts keeps something to answer once cleaned."""
    for adapter, pattern in (
        (TypeAdapter(ShortText), ONE_LINE_PATTERN),
        (TypeAdapter(Password), ONE_LINE_PATTERN),
        (TypeAdapter(MessageText), PROSE_PATTERN),
    ):
        published = bool(re.fullmatch(pattern, value)) and not re.search("[\ud800-\udfff]", value)
        assert _accepts(adapter, value) == published, (pattern[:20], value)
    if _accepts(TypeAdapter(MessageText), value):
        assert clean_text(value)
        assert " ".join(clean_text(value).split())  # what retrieval searches for


def test_constraints_are_json_schema_keywords(document):
    """A constraint pydantic cannot place (`ge` beside a validator) lands in the document
    under its Python name, which no client or tool reads: the bound silently vanishes."""
    found = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"ge", "le", "gt", "lt", "min_length", "max_length", "strict"}:
                    found.append(f"{path}/{key}")
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}/{index}")

    walk(document, "")
    assert not found
    mood = document["components"]["schemas"]["MoodIn"]["properties"]["mood"]["anyOf"][0]
    assert (mood["minimum"], mood["maximum"]) == (1, 10)
