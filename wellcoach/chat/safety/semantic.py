"""The second layer of the crisis check: similarity to labeled exemplars.

Rules miss indirect wording ("wrote letters to my family today. i'm done"). Each
message is compared, with the offline multilingual embedder, to labeled crisis and
non-crisis messages shipped with the code: it counts as a crisis when its nearest
crisis exemplar is close enough and at least as close as its nearest non-crisis one.
The thresholds were chosen by leave-one-out on the exemplars; bench/crisis_bench.py
measures the layers on a held-out set. This layer only adds crises, never removes one.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wellcoach.rag.embedders import UseEmbedder

EXEMPLARS = Path(__file__).with_name("exemplars.jsonl")
MIN_SIMILARITY = 0.35
MIN_MARGIN = 0.0


@dataclass(frozen=True)
class SemanticVerdict:
    crisis: bool
    category: str | None
    similarity: float
    margin: float


class ExemplarIndex:
    def __init__(self, path: Path = EXEMPLARS) -> None:
        self.path = path
        self.embedder = UseEmbedder(threads=1)
        self._lock = threading.Lock()
        self._vectors: np.ndarray | None = None
        self._crisis: np.ndarray | None = None
        self._categories: list[str | None] = []

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._vectors is None:
                rows = [json.loads(line) for line in self.path.read_text().splitlines() if line]
                self._vectors = self.embedder.embed_sync([row["text"] for row in rows])
                self._crisis = np.array([bool(row["crisis"]) for row in rows])
                self._categories = [row.get("category") for row in rows]
            assert self._crisis is not None
            return self._vectors, self._crisis

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.embed_sync([text])[0]

    def judge(self, vector: np.ndarray) -> SemanticVerdict:
        vectors, crisis = self._load()
        similarity = vectors @ vector
        crisis_best = int(np.argmax(np.where(crisis, similarity, -2.0)))
        calm_best = float(np.max(np.where(crisis, -2.0, similarity)))
        near = float(similarity[crisis_best])
        margin = near - calm_best
        flagged = near >= MIN_SIMILARITY and margin >= MIN_MARGIN
        return SemanticVerdict(
            flagged,
            self._categories[crisis_best] if flagged else None,
            round(near, 3),
            round(margin, 3),
        )


_index: ExemplarIndex | None = None


def index() -> ExemplarIndex:
    global _index
    if _index is None:
        _index = ExemplarIndex()
    return _index
