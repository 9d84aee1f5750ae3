"""The second layer of the crisis check: a classifier on the message's embedding.

Rules miss indirect wording ("wrote letters to my family today. i'm done"). A softmax
regression (no crisis + the six categories) on the offline multilingual embedding,
trained on the labeled messages in exemplars.jsonl, flags a message when the
probability of any crisis reaches THRESHOLD. Its weights ship in classifier.jsonl,
written by `python -m wellcoach.chat.safety.training`; if they were trained on other
exemplars than the shipped ones, the layer retrains in memory at first use. The
hyperparameters were chosen by cross-validation on the labeled sets (bench/README.md).
This layer only adds crises, never removes one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import structlog

from wellcoach.chat.safety.patterns import (
    ABUSE,
    HARM_OTHERS,
    MEDICAL,
    OVERDOSE,
    SELF_HARM,
    SUICIDAL,
)
from wellcoach.rag.embedders import UseEmbedder

EXEMPLARS = Path(__file__).with_name("exemplars.jsonl")
WEIGHTS = Path(__file__).with_name("classifier.jsonl")
CLASSES: tuple[str | None, ...] = (
    None,
    SUICIDAL,
    SELF_HARM,
    OVERDOSE,
    MEDICAL,
    ABUSE,
    HARM_OTHERS,
)
# P(any crisis) needed to flag; a message whose ambiguous words an idiom explained
# ("this drill is killing me") needs a confident classifier
THRESHOLD = 0.4
IDIOM_THRESHOLD = 0.7
L2 = 3e-4
ITERATIONS = 400

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SemanticVerdict:
    crisis: bool
    category: str | None
    probability: float  # of any crisis
    score: float  # 0.5-0.9 when flagged, on the rules' scale


@dataclass(frozen=True)
class Classifier:
    weights: np.ndarray  # (dimension, classes)
    bias: np.ndarray  # (classes,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return softmax(vectors @ self.weights + self.bias)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def decide(
    probabilities: np.ndarray, *, idiom: bool = False, threshold: float = THRESHOLD
) -> SemanticVerdict:
    """Turn one message's class probabilities into a verdict."""
    crisis_probability = float(1.0 - probabilities[0])
    threshold = max(threshold, IDIOM_THRESHOLD) if idiom else threshold
    if crisis_probability < threshold:
        return SemanticVerdict(False, None, round(crisis_probability, 3), 0.0)
    category = CLASSES[1 + int(np.argmax(probabilities[1:]))]
    score = 0.5 + 0.4 * (crisis_probability - threshold) / (1.0 - threshold)
    return SemanticVerdict(True, category, round(crisis_probability, 3), round(score, 3))


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def labels(rows: list[dict]) -> np.ndarray:
    return np.array([CLASSES.index(row["category"] if row["crisis"] else None) for row in rows])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fit(
    vectors: np.ndarray, targets: np.ndarray, l2: float = L2, iterations: int = ITERATIONS
) -> Classifier:
    """Softmax regression, mean cross-entropy + l2/2 |W|^2, by Nesterov's accelerated
    gradient with the step from the loss's Lipschitz bound. Deterministic."""
    count, dimension = vectors.shape
    onehot = np.eye(len(CLASSES))[targets]
    step = 1.0 / (0.5 * np.linalg.norm(vectors, 2) ** 2 / count + l2)
    weights = previous_w = np.zeros((dimension, len(CLASSES)))
    bias = previous_b = np.zeros(len(CLASSES))
    for iteration in range(1, iterations + 1):
        momentum = (iteration - 1) / (iteration + 2)
        look_w = weights + momentum * (weights - previous_w)
        look_b = bias + momentum * (bias - previous_b)
        error = (softmax(vectors @ look_w + look_b) - onehot) / count
        previous_w, previous_b = weights, bias
        weights = look_w - step * (vectors.T @ error + l2 * look_w)
        bias = look_b - step * error.sum(axis=0)
    return Classifier(weights.astype(np.float32), bias.astype(np.float32))


def save(classifier: Classifier, path: Path, exemplars: Path) -> None:
    """One header line, then one line per class: small, diffable, packaged as *.jsonl."""
    header = {
        "embedder": UseEmbedder.id,
        "exemplars_sha256": digest(exemplars),
        "l2": L2,
        "iterations": ITERATIONS,
    }
    lines = [json.dumps(header)]
    for index, name in enumerate(CLASSES):
        weights = [float(f"{w:.6g}") for w in classifier.weights[:, index]]
        bias = float(f"{classifier.bias[index]:.6g}")
        lines.append(json.dumps({"class": name, "bias": bias, "weights": weights}))
    path.write_text("\n".join(lines) + "\n")


def load(path: Path, exemplars: Path) -> Classifier | None:
    """The shipped weights, or None when they were trained on other exemplars."""
    if not path.exists():
        return None
    header, *rows = read_rows(path)
    if header.get("exemplars_sha256") != digest(exemplars) or header.get("embedder") != (
        UseEmbedder.id
    ):
        return None
    if [row["class"] for row in rows] != list(CLASSES):
        return None
    weights = np.array([row["weights"] for row in rows], dtype=np.float32).T
    bias = np.array([row["bias"] for row in rows], dtype=np.float32)
    return Classifier(weights, bias)


class SemanticLayer:
    def __init__(self, exemplars: Path = EXEMPLARS, weights: Path = WEIGHTS) -> None:
        self.exemplars = exemplars
        self.weights = weights
        self.embedder = UseEmbedder(threads=1)
        self._lock = threading.Lock()
        self._classifier: Classifier | None = None

    def classifier(self) -> Classifier:
        with self._lock:
            if self._classifier is None:
                loaded = load(self.weights, self.exemplars)
                if loaded is None:
                    log.warning("crisis_classifier_retrained", reason="weights_out_of_date")
                    rows = read_rows(self.exemplars)
                    vectors = self.embedder.embed_sync([row["text"] for row in rows])
                    loaded = fit(vectors, labels(rows))
                self._classifier = loaded
            return self._classifier

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.embed_sync([text])[0]

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        return self.classifier().probabilities(vector)


_layer: SemanticLayer | None = None


def layer() -> SemanticLayer:
    global _layer
    if _layer is None:
        _layer = SemanticLayer()
    return _layer
