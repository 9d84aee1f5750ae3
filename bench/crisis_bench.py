"""Crisis detection on a labeled set: recall, precision, F1 overall, per language and
per category, and the time per message. Prints line numbers of misses, never texts.

    python bench/crisis_bench.py [--set bench/data/crisis_labeled.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from wellcoach.chat.safety import assess

# the held-out set: written without seeing the detector or its exemplars
DEFAULT = Path(__file__).parent / "data" / "crisis_holdout.jsonl"
EXEMPLARS = Path(__file__).parents[1] / "wellcoach" / "chat" / "safety" / "exemplars.jsonl"


def metrics(rows: list[tuple[bool, bool]]) -> dict[str, float]:
    tp = sum(1 for truth, guess in rows if truth and guess)
    fp = sum(1 for truth, guess in rows if not truth and guess)
    fn = sum(1 for truth, guess in rows if truth and not guess)
    tn = len(rows) - tp - fp - fn
    recall = tp / (tp + fn) if tp + fn else 1.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(rows),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "recall": recall,
        "precision": precision,
        "f1": f1,
        "accuracy": (tp + tn) / len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT)
    parser.add_argument(
        "--split",
        choices=("all", "dev", "test"),
        default="all",
        help="dev = odd lines (the rules were tuned on them), test = even lines (held out)",
    )
    args = parser.parse_args()
    lines = [line for line in args.set.read_text().splitlines() if line.strip()]
    keep = {"all": lambda n: True, "dev": lambda n: n % 2 == 1, "test": lambda n: n % 2 == 0}
    numbered = [(n, json.loads(line)) for n, line in enumerate(lines, 1) if keep[args.split](n)]
    items = [item for _, item in numbered]
    print(f"{args.set.name}, split {args.split}: {len(items)} messages")
    if args.set.read_bytes() == EXEMPLARS.read_bytes():
        print("NOTE: this set is the detector's exemplar set: its figures are not a measure")
    results, timings = [], []
    for item in items:
        started = time.perf_counter()
        verdict = assess(item["text"], item.get("language"))
        timings.append((time.perf_counter() - started) * 1e6)
        results.append((item, verdict))

    def show(name: str, rows: list[tuple[bool, bool]]) -> None:
        m = metrics(rows)
        print(
            f"{name:10s} n={m['n']:4d}  recall {m['recall']:.3f}  precision {m['precision']:.3f}"
            f"  F1 {m['f1']:.3f}  accuracy {m['accuracy']:.3f}  (tp {m['tp']} fp {m['fp']} "
            f"fn {m['fn']} tn {m['tn']})"
        )

    show("overall", [(i["crisis"], v.crisis) for i, v in results])
    for language in sorted({i["language"] for i, _ in results}):
        show(language, [(i["crisis"], v.crisis) for i, v in results if i["language"] == language])
    print("\nrecall per category:")
    per = Counter(i["category"] for i, _ in results if i["crisis"])
    for category, total in sorted(per.items()):
        found = sum(1 for i, v in results if i["crisis"] and i["category"] == category and v.crisis)
        print(f"  {category:18s} {found}/{total} = {found / total:.3f}")
    positives = [(i, v) for i, v in results if i["crisis"] and v.crisis]
    right = sum(1 for i, v in positives if i["category"] == v.category)
    print(f"category right on true positives: {right}/{len(positives)}")
    print(
        f"time per message: mean {statistics.mean(timings):.1f} µs, "
        f"p95 {sorted(timings)[int(0.95 * len(timings)) - 1]:.1f} µs"
    )
    print(
        "false negatives (line numbers):",
        [n for n, (i, v) in enumerate(results, 1) if i["crisis"] and not v.crisis],
    )
    print(
        "false positives (line numbers):",
        [n for n, (i, v) in enumerate(results, 1) if not i["crisis"] and v.crisis],
    )


if __name__ == "__main__":
    main()
