"""Text as the edge accepts it: the validated string types every request schema uses,
and the cleaning the chat pipeline applies.

One rule for every text field: no control characters and no lone surrogates (a NUL
byte cannot be stored in PostgreSQL text and made the database raise on user input;
others hide content from the people who read it, or cannot be encoded). Single-line
fields also refuse line breaks; message-like fields keep them. Every field must hold
at least one visible character, so a message always has something to answer once
cleaned. The rules are regular expressions, published as the `pattern` of each field
in the OpenAPI document: what the schema calls valid, the API accepts, and the reverse.
"""

from __future__ import annotations

import re
import unicodedata
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
# zero-width and other format characters: invisible, yet not controls
_FORMAT = r"\xad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
_VISIBLE = rf"[^{_CONTROL}{_BREAKS}{_SPACES}{_FORMAT}]"

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
    """A pydantic marker: checks a string against `pattern` and publishes the pattern in
    the JSON schema, so the check and the schema are one rule."""

    pattern: str
    message: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        compiled = re.compile(self.pattern)

        def check(value: str) -> str:
            if not compiled.fullmatch(value) or _SURROGATE.search(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


# names, sports, labels, codes, tokens, ids
OneLine = _Rule(ONE_LINE_PATTERN, "must be one line of visible text, without control characters")
# free text a person writes: line breaks kept
Prose = _Rule(PROSE_PATTERN, "must contain visible text, without control characters")

ShortLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine
]


def _iso_only(value: object) -> object:
    """Dates come as ISO 8601 text: a bare number would be read as a Unix time."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*", value)
    ):
        raise ValueError("must be an ISO 8601 date-time, like 2026-12-03T08:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
