"""Text as the edge accepts it: the validated string types every request schema uses,
and the cleaning the chat pipeline applies.

One rule for every text field: no control characters and no lone surrogates (a NUL
byte cannot be stored in PostgreSQL text and made the database raise on user input;
others hide content from the people who read it, or cannot be encoded). Single-line
fields also refuse line breaks; message-like fields keep them. Every field must hold
at least one visible character, so a message always has something to answer once
cleaned. The rules are regular expressions, published as the `pattern` of each field
in the OpenAPI document: what the schema calls valid, the API accepts, and the reverse.
The value is checked as sent, then trimmed: trimming first would hide a control
character at either end from the check.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# C0 controls but tab, line feed and carriage return; DEL; C1 controls. (Lone surrogates,
# which JSON can escape but nothing can encode, are refused apart: schema tools cannot
# use a pattern that names them.)
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BREAKS = r"\t\n\r\u2028\u2029"
_SPACES = r" \x85\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
# zero-width and other format characters: invisible, yet not controls (the Basic
# Multilingual Plane's format characters but the few that print a mark, like U+0600)
_FORMAT = r"\xad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
# kept when cleaning (they belong to words: Hangul fillers, variation selectors), but
# alone they show nothing, so they do not count as visible
_BLANK = r"\u034f\u115f\u1160\u180b-\u180d\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
_VISIBLE = rf"[^{_CONTROL}{_BREAKS}{_SPACES}{_FORMAT}{_BLANK}]"

ONE_LINE_PATTERN = rf"^[^{_CONTROL}{_BREAKS}]*{_VISIBLE}[^{_CONTROL}{_BREAKS}]*$"
PROSE_PATTERN = rf"^[^{_CONTROL}]*{_VISIBLE}[^{_CONTROL}]*$"
_INVISIBLE = re.compile(rf"[{_CONTROL}{_FORMAT}\r]")
_RUNS_OF_SPACE = re.compile(rf"[\t{_SPACES}]+")


def clean_text(text: str) -> str:
    """NFC, without controls and format characters (line feeds kept), runs of spaces as
    one, trimmed: never empty for text that passed `Prose` or `OneLine`."""
    kept = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return _RUNS_OF_SPACE.sub(" ", kept).strip()


@dataclass(frozen=True)
class _Rule:
    """A pydantic marker: checks a string against `pattern` as sent, publishes the
    pattern in the JSON schema (so the check and the schema are one rule), then trims
    the value unless `trim` is off (a password is kept as typed)."""

    pattern: str
    message: str
    trim: bool = True

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        compiled = re.compile(self.pattern)

        def check(value: str) -> str:
            if not compiled.fullmatch(value) or _SURROGATE.search(value):
                raise ValueError(self.message)
            return value.strip() if self.trim else value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


_ONE_LINE = "must be one line of visible text, without control characters"
# names, sports, labels, codes, tokens, ids: `Annotated[str, StringConstraints(max_length=..),
# OneLine]` (never `strip_whitespace`: it would trim before the check; the rule trims after)
OneLine = _Rule(ONE_LINE_PATTERN, _ONE_LINE)
# passwords: the same rule, the value kept exactly as typed
Secret = _Rule(ONE_LINE_PATTERN, _ONE_LINE, trim=False)
# free text a person writes: line breaks kept
Prose = _Rule(PROSE_PATTERN, "must contain visible text, without control characters")

ShortLine = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]


# RFC 3339, what `format: date-time` means: a full date, a time and its offset
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _date_time_text(value: object) -> object:
    """Dates come as RFC 3339 text with their offset, as the schema says: pydantic alone
    would also read a number as a Unix time, a bare date as midnight, a time without an
    offset as local to nobody knows where."""
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with its offset, like 2026-12-03T08:00:00Z")


def _uuid_text(value: object) -> object:
    """Ids come in their canonical form, as `format: uuid` says: pydantic alone would also
    take 32 bare hex digits, braces or a `urn:uuid:` prefix."""
    if isinstance(value, uuid.UUID) or (isinstance(value, str) and _UUID.fullmatch(value)):
        return value
    raise ValueError("must be a UUID with its hyphens, like 3f2b1c4e-8d9a-4b7c-9e1f-2a3b4c5d6e7f")


IsoDateTime = Annotated[datetime, BeforeValidator(_date_time_text)]
Uuid = Annotated[uuid.UUID, BeforeValidator(_uuid_text)]
