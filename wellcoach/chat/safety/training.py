"""Train the crisis classifier and write its weights; cross-validation helpers.

    python -m wellcoach.chat.safety.training [--exemplars-from A.jsonl B.jsonl ...]

With --exemplars-from, exemplars.jsonl is first rewritten as the concatenation of the
given labeled sets (never a set kept for measuring: files named *blind* are refused).
Then the messages are embedded, the softmax regression is fitted with the module's
hyperparameters and classifier.jsonl is written. Deterministic for one embedder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from wellcoach.chat.safety.semantic import (
    CLASSES,
    EXEMPLARS,
    L2,
    WEIGHTS,
    Classifier,
    fit,
    labels,
    read_rows,
    save,
)
from wellcoach.rag.embedders import UseEmbedder


def folds(strata: list[str], k: int, seed: int) -> np.ndarray:
    """A fold number per row, stratified: each stratum spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    strata_array = np.array(strata)
    assignment = np.zeros(len(strata), dtype=int)
    for stratum in sorted(set(strata)):
        members = np.flatnonzero(strata_array == stratum)
        rng.shuffle(members)
        assignment[members] = (np.arange(len(members)) + rng.integers(k)) % k
    return assignment


def out_of_fold(
    vectors: np.ndarray,
    targets: np.ndarray,
    strata: list[str],
    *,
    k: int = 10,
    seed: int = 0,
    l2: float = L2,
) -> np.ndarray:
    """Class probabilities for every row from a classifier that never saw it."""
    probabilities = np.zeros((len(targets), len(CLASSES)))
    assignment = folds(strata, k, seed)
    for fold in range(k):
        train, test = assignment != fold, assignment == fold
        classifier = fit(vectors[train], targets[train], l2=l2)
        probabilities[test] = classifier.probabilities(vectors[test])
    return probabilities


def train(rows: list[dict], embedder: UseEmbedder | None = None) -> Classifier:
    vectors = (embedder or UseEmbedder()).embed_sync([row["text"] for row in rows])
    return fit(vectors, labels(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exemplars-from", nargs="*", type=Path, default=[])
    args = parser.parse_args()
    if args.exemplars_from:
        refused = [path for path in args.exemplars_from if "blind" in path.name]
        if refused:
            parser.error(f"not a training set: {refused[0]}")
        lines = [
            line
            for path in args.exemplars_from
            for line in path.read_text().splitlines()
            if line.strip()
        ]
        EXEMPLARS.write_text("\n".join(lines) + "\n")
    rows = read_rows(EXEMPLARS)
    save(train(rows), WEIGHTS, EXEMPLARS)
    print(f"{WEIGHTS.name}: trained on {len(rows)} exemplars")


if __name__ == "__main__":
    main()
