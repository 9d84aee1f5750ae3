"""Data files the tests share."""

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
KB_SMALL = DATA / "kb_small"  # a small corpus, en + it
KB_EVAL_SMALL = DATA / "kb_eval_small.yaml"  # evaluation queries over it
