"""Knowledge-base documents: front matter validation and heading-aware chunking.

A document is Markdown with YAML front matter. Chunks follow `##` sections; a
section longer than the limit is split on paragraph boundaries, and consecutive
pieces of one section overlap, so a sentence near a cut is retrievable from both.
Every chunk carries its document title and heading, which the embedder sees too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wellcoach.errors import InvalidInput

CHUNKER_VERSION = "3"
CATEGORIES = {
    "wellness_fundamentals": {
        "stress_management",
        "motivation_techniques",
        "performance_anxiety",
        "recovery_strategies",
    },
    "sport_specific": {"basketball", "football", "tennis", "individual_sports"},
    "emergency_protocols": {"crisis_intervention", "escalation_triggers", "resource_directories"},
    "conversational_patterns": {
        "empathetic_responses",
        "motivational_language",
        "coaching_techniques",
    },
}
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*-(en|it)$"


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, max_length=120)
    title: str = Field(min_length=3, max_length=255)
    category: str
    topic: str
    sport: str = Field(pattern=r"^[a-z_]+$", max_length=50)
    language: Literal["en", "it"]
    source: str = Field(min_length=3)
    confidence: float = Field(ge=0, le=1)
    last_reviewed: date
    tags: list[str] = Field(default_factory=list, max_length=12)
    # questions the document answers, in athletes' words: embedded to find it
    questions: list[str] = Field(default_factory=list, max_length=16)
    translation_of: str | None = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"must be one of {sorted(CATEGORIES)}")
        return value

    @property
    def slug(self) -> str:
        return self.id.rsplit("-", 1)[0]


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    heading: str | None
    content: str  # the text shown as a passage
    embed_text: str  # what is embedded: title and heading give the chunk its context
    kind: str = "passage"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode()).hexdigest()


@dataclass(frozen=True)
class Document:
    meta: FrontMatter
    body: str
    path: str
    content_hash: str

    @property
    def id(self) -> str:
        return self.meta.id


class DocumentError(InvalidInput):
    """A knowledge-base file is not valid."""

    code = "invalid_kb_document"


def parse_document(path: Path, root: Path) -> Document:
    """Parse and validate one file; errors name the file and the field."""
    relative = str(path.relative_to(root))
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="strict")
    match = FRONT_MATTER.match(text)
    if not match:
        raise DocumentError(
            f"{relative}: missing YAML front matter (--- ... ---)",
            details={"file": relative, "field": None},
        )
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise DocumentError(
            f"{relative}: front matter is not valid YAML ({exc})",
            details={"file": relative, "field": None},
        ) from exc
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise DocumentError(
            f"{relative}: field {field!r}: {first['msg']}",
            details={"file": relative, "field": field, "errors": [e["msg"] for e in exc.errors()]},
        ) from exc
    parts = Path(relative).parts
    if len(parts) >= 3 and (parts[0] != meta.category or parts[1] != meta.topic):
        raise DocumentError(
            f"{relative}: category/topic {meta.category}/{meta.topic} do not match the folder",
            details={"file": relative, "field": "topic"},
        )
    if meta.topic not in CATEGORIES[meta.category]:
        raise DocumentError(
            f"{relative}: field 'topic': not a topic of {meta.category}",
            details={"file": relative, "field": "topic"},
        )
    body = text[match.end() :].strip()
    if len(body) < 50:
        raise DocumentError(
            f"{relative}: the document has no body", details={"file": relative, "field": "body"}
        )
    digest = hashlib.sha256(raw + CHUNKER_VERSION.encode()).hexdigest()
    return Document(meta=meta, body=body, path=relative, content_hash=digest)


def load_corpus(root: Path) -> tuple[list[Document], list[DocumentError]]:
    """Every `*.md` under root except README/eval files; duplicate ids are errors."""
    documents: list[Document] = []
    errors: list[DocumentError] = []
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*.md")):
        if path.name.lower() == "readme.md" or "eval" in path.relative_to(root).parts[:1]:
            continue
        try:
            document = parse_document(path, root)
        except DocumentError as exc:
            errors.append(exc)
            continue
        except UnicodeDecodeError:
            errors.append(DocumentError(f"{path.relative_to(root)}: not UTF-8 text"))
            continue
        if document.id in seen:
            errors.append(
                DocumentError(
                    f"{document.path}: field 'id': {document.id!r} is also used by "
                    f"{seen[document.id]}",
                    details={"file": document.path, "field": "id"},
                )
            )
            continue
        seen[document.id] = document.path
        documents.append(document)
    return documents, errors


def chunk_document(document: Document, max_chars: int = 1200, overlap: int = 200) -> list[Chunk]:
    sections: list[tuple[str | None, str]] = []
    heading: str | None = None
    lines: list[str] = []
    for line in document.body.splitlines():
        if line.startswith("## ") or line.startswith("# "):
            if "\n".join(lines).strip():
                sections.append((heading, "\n".join(lines).strip()))
            heading = line.lstrip("#").strip()
            lines = []
        else:
            lines.append(line)
    if "\n".join(lines).strip():
        sections.append((heading, "\n".join(lines).strip()))

    chunks: list[Chunk] = []
    title = document.meta.title
    for heading, text in sections:
        for piece in _split(text, max_chars, overlap):
            label = f"{title} — {heading}" if heading else title
            chunks.append(Chunk(len(chunks), heading, piece, f"{label}\n{piece}"))
    return chunks


def _split(text: str, max_chars: int, overlap: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    current = ""
    for paragraph in paragraphs:
        if current and len(current) + len(paragraph) + 2 > max_chars:
            pieces.append(current)
            tail = current[-overlap:]
            cut = tail.find(" ")
            current = (tail[cut + 1 :] if cut >= 0 else tail) + "\n\n" + paragraph
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
        while len(current) > max_chars:  # one paragraph longer than the limit
            cut = current.rfind(" ", 0, max_chars)
            cut = cut if cut > overlap else max_chars
            pieces.append(current[:cut])
            current = current[max(0, cut - overlap) :]
    if current:
        pieces.append(current)
    return pieces


def kb_version(documents: list[tuple[str, str]]) -> str:
    """A short digest of (id, content hash) pairs: changes whenever any document does."""
    digest = hashlib.sha256()
    for doc_id, content_hash in sorted(documents):
        digest.update(f"{doc_id}:{content_hash}\n".encode())
    return digest.hexdigest()[:16]
