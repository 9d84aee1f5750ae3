"""Front matter validation and chunking (unit tests: the logic is subtle)."""

from pathlib import Path

import pytest

from tests.support.data import KB_SMALL
from wellcoach.rag.documents import (
    DocumentError,
    chunk_document,
    kb_version,
    load_corpus,
    parse_document,
)

VALID = """---
id: {id}
title: A Valid Title
category: wellness_fundamentals
topic: stress_management
sport: all
language: en
source: "Somewhere real"
confidence: 0.8
last_reviewed: 2026-01-01
tags: [a]
---

{body}
"""


def write(root: Path, text: str, name: str = "doc.en.md") -> Path:
    folder = root / "wellness_fundamentals" / "stress_management"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_the_small_corpus_parses():
    documents, errors = load_corpus(KB_SMALL)
    assert errors == []
    assert {d.id for d in documents} == {
        "box-breathing-en",
        "box-breathing-it",
        "sleep-hygiene-en",
        "emergency-numbers-en",
    }
    italian = next(d for d in documents if d.id == "box-breathing-it")
    assert italian.meta.slug == "box-breathing"
    assert italian.meta.questions == ["ho il cuore a mille prima della partita"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("language: en", "language: fr"), "language"),
        (("confidence: 0.8", "confidence: 1.5"), "confidence"),
        (("last_reviewed: 2026-01-01", "last_reviewed: someday"), "last_reviewed"),
        (("id: my-doc-en", "id: Not_Valid"), "id"),
        (("category: wellness_fundamentals", "category: gossip"), "category"),
        (("tags: [a]", "tags: [a]\nsecret_field: 1"), "secret_field"),
        (('source: "Somewhere real"\n', ""), "source"),
    ],
)
def test_front_matter_errors_name_the_file_and_field(tmp_path, change, field):
    text = VALID.format(id="my-doc-en", body="Body text long enough to count as a body. " * 3)
    path = write(tmp_path, text.replace(*change))
    with pytest.raises(DocumentError) as raised:
        parse_document(path, tmp_path)
    assert raised.value.details["file"] == "wellness_fundamentals/stress_management/doc.en.md"
    assert raised.value.details["field"] == field
    assert "doc.en.md" in raised.value.message


def test_missing_front_matter_empty_body_and_wrong_folder(tmp_path):
    with pytest.raises(DocumentError, match="missing YAML front matter"):
        parse_document(write(tmp_path, "# just markdown\n"), tmp_path)
    with pytest.raises(DocumentError, match="no body"):
        parse_document(write(tmp_path, VALID.format(id="x-en", body="short")), tmp_path)
    moved = tmp_path / "sport_specific" / "tennis"
    moved.mkdir(parents=True)
    (moved / "x.en.md").write_text(VALID.format(id="x-en", body="A body. " * 20))
    with pytest.raises(DocumentError, match="do not match the folder"):
        parse_document(moved / "x.en.md", tmp_path)


def test_duplicate_ids_are_reported(tmp_path):
    body = "A body that is long enough for the parser to accept it. " * 2
    write(tmp_path, VALID.format(id="same-en", body=body), "a.en.md")
    write(tmp_path, VALID.format(id="same-en", body=body), "b.en.md")
    documents, errors = load_corpus(tmp_path)
    assert len(documents) == 1
    assert "also used by" in errors[0].message


def test_chunks_follow_headings_and_long_sections_overlap(tmp_path):
    paragraphs = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(6))
    body = (
        f"Intro line that sets the scene.\n\n## Short\n\nShort section.\n\n## Long\n\n{paragraphs}"
    )
    document = parse_document(write(tmp_path, VALID.format(id="long-en", body=body)), tmp_path)
    chunks = chunk_document(document, max_chars=800, overlap=150)

    assert [c.heading for c in chunks[:2]] == [None, "Short"]
    long_chunks = [c for c in chunks if c.heading == "Long"]
    assert len(long_chunks) >= 3
    assert all(len(c.content) <= 800 for c in long_chunks)
    for first, second in zip(long_chunks, long_chunks[1:], strict=False):
        assert first.content[-60:].split()[-1] in second.content[:200]  # overlap carries over
    assert all(c.embed_text.startswith("A Valid Title") for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_kb_version_changes_with_any_document():
    base = kb_version([("a", "1"), ("b", "2")])
    assert base == kb_version([("b", "2"), ("a", "1")])
    assert base != kb_version([("a", "1"), ("b", "3")])
    assert base != kb_version([("a", "1")])
