"""Knowledge-base documents and their embedded chunks.

Vectors of different embedders are never compared: each chunk records the
embedder that produced it, and each supported embedder has its own partial
HNSW index over a fixed-dimension cast (see the initial migration).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import ARRAY, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, TimestampMixin, utcnow


class KbDocument(TimestampMixin, Base):
    __tablename__ = "kb_documents"
    __table_args__ = (Index(None, "category", "topic"), Index(None, "language", "sport"))

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    sport: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    last_reviewed: Mapped[date]
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    embedder_id: Mapped[str] = mapped_column(String(64))


class KbChunk(IdMixin, Base):
    __tablename__ = "kb_chunks"
    __table_args__ = (
        Index(None, "document_id", "ordinal", unique=True),
        Index("ix_kb_chunks_tsv", "tsv", postgresql_using="gin"),
        Index(None, "embedder_id", "language", "sport"),
    )

    document_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    # "passage": text shown to users; "question": a question the document answers,
    # embedded only to find the document (never shown)
    kind: Mapped[str] = mapped_column(String(16), default="passage", server_default="passage")
    heading: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    embedder_id: Mapped[str] = mapped_column(String(64))
    # copied from the document so filtered vector search needs no join
    language: Mapped[str] = mapped_column(String(8))
    sport: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[list[float]] = mapped_column(Vector())
    tsv: Mapped[str | None] = mapped_column(TSVECTOR)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class KbIngestRun(IdMixin, Base):
    __tablename__ = "kb_ingest_runs"

    started_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None]
    kb_version: Mapped[str | None] = mapped_column(String(64))
    embedder_id: Mapped[str] = mapped_column(String(64))
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    chunks_embedded: Mapped[int] = mapped_column(Integer, default=0)
    triggered_by: Mapped[uuid.UUID | None]
