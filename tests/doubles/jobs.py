"""A job queue and an embedder that the tests control: real objects of the core's
Protocols (`ChatJobs`, `Embedder`), not patches."""

from __future__ import annotations

import uuid

import numpy as np

from wellcoach.chat.turns import QueueUnavailable
from wellcoach.costs.ledger import Usage


class RecordingJobs:
    """Records what a use case queued; `down=True` makes it refuse, like a Redis outage."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.replies: list[tuple[uuid.UUID, uuid.UUID]] = []
        self.summaries: list[tuple[uuid.UUID, uuid.UUID]] = []

    async def enqueue_reply(
        self, user_id: uuid.UUID, message_id: uuid.UUID, attempt: int = 0
    ) -> None:
        if self.down:
            raise QueueUnavailable()
        self.replies.append((user_id, message_id))

    async def enqueue_summary(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        if self.down:
            raise QueueUnavailable()
        self.summaries.append((user_id, session_id))


class BrokenEmbedder:
    """An embedder whose every call fails: retrieval, and so the turn, fails with it."""

    id = "use-m3-512"
    model = "use-m3-512"
    provider = "offline"
    dimension = 512

    async def embed(self, texts: list[str], *, purpose: str) -> tuple[np.ndarray, Usage]:
        raise RuntimeError("the embedder is down")
