"""Text as the edge accepts it: the validated string types every request schema uses,
and the cleaning the chat pipeline applies.

One rule for every text field: no control characters (a NUL byte cannot be stored in
PostgreSQL text and made the database raise on user input; others hide content from
the people who read it). Single-line fields also refuse line breaks; message-like
fields keep them. A message must keep something visible once cleaned, so what passes
validation always has something to answer.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

# C0 controls but tab, line feed and carriage return; DEL; C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r\u2028\u2029]")


def clean_text(text: str) -> str:
    """NFC, without invisible characters (controls, zero-width and other format
    characters) except line breaks, runs of spaces collapsed, trimmed."""
    kept = "".join(
        ch for ch in unicodedata.normalize("NFC", text) if ch.isprintable() or ch == "\n"
    )
    return re.sub(r"[ \t]+", " ", kept).strip()


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _one_line(value: str) -> str:
    if _LINE_BREAKS.search(value):
        raise ValueError("must be a single line")
    return _no_control(value)


def _visible(value: str) -> str:
    _no_control(value)
    if not clean_text(value):
        raise ValueError("must contain visible text")
    return value


# the validators to put in an `Annotated[str, StringConstraints(...), ...]`
OneLine = AfterValidator(_one_line)  # names, sports, labels, codes, tokens, ids
Visible = AfterValidator(_visible)  # free text a person writes: line breaks kept

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
