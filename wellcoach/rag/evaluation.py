"""Retrieval evaluation on a labeled query set: hit@1, hit@3 and MRR, per language.

The set is YAML: a list of {query, language, relevant: [document slugs], sport?}.
A hit is any top-k passage whose document slug is labeled relevant (either
language version of a document counts).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.config import RagSettings
from wellcoach.errors import InvalidInput
from wellcoach.rag.embedders import Embedder
from wellcoach.rag.retrieval import SearchFilters, search


class EvalQuery(BaseModel):
    query: str = Field(min_length=2)
    language: str = Field(pattern="^(en|it)$")
    relevant: list[str] = Field(min_length=1)
    sport: str | None = None
    category: str | None = None


@dataclass
class Metrics:
    count: int = 0
    hit1: float = 0.0
    hit3: float = 0.0
    mrr: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "queries": self.count,
            "hit@1": round(self.hit1, 4),
            "hit@3": round(self.hit3, 4),
            "mrr": round(self.mrr, 4),
        }


@dataclass
class EvalReport:
    overall: Metrics
    by_language: dict[str, Metrics]
    misses: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "by_language": {lang: m.as_dict() for lang, m in sorted(self.by_language.items())},
            "misses": self.misses,
        }


def load_eval_set(path: Path) -> list[EvalQuery]:
    """One YAML file, or every *.yaml file in a directory."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise InvalidInput(f"no evaluation files in {path}")
    queries: list[EvalQuery] = []
    for file in files:
        try:
            entries = yaml.safe_load(file.read_text()) or []
            queries.extend(EvalQuery.model_validate(entry) for entry in entries)
        except (yaml.YAMLError, ValidationError, OSError) as exc:
            raise InvalidInput(f"{file}: not a valid evaluation set ({exc})") from exc
    return queries


async def evaluate(
    session: AsyncSession, embedder: Embedder, queries: list[EvalQuery], settings: RagSettings
) -> EvalReport:
    totals: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    misses = []
    for item in queries:
        filters = SearchFilters(sport=item.sport, category=item.category, language=item.language)
        result = await search(session, embedder, item.query, filters, settings, top_k=5)
        slugs = [passage.slug for passage in result.passages]
        rank = next((i + 1 for i, slug in enumerate(slugs) if slug in item.relevant), None)
        scores = (
            1.0 if rank == 1 else 0.0,
            1.0 if rank is not None and rank <= 3 else 0.0,
            1.0 / rank if rank else 0.0,
        )
        totals[item.language].append(scores)
        if not rank or rank > 3:
            misses.append(
                {
                    "query": item.query,
                    "language": item.language,
                    "relevant": item.relevant,
                    "got": slugs[:3],
                }
            )
    by_language = {lang: _mean(rows) for lang, rows in totals.items()}
    overall = _mean([row for rows in totals.values() for row in rows])
    return EvalReport(overall=overall, by_language=by_language, misses=misses)


def _mean(rows: list[tuple[float, float, float]]) -> Metrics:
    if not rows:
        return Metrics()
    count = len(rows)
    return Metrics(
        count=count,
        hit1=sum(r[0] for r in rows) / count,
        hit3=sum(r[1] for r in rows) / count,
        mrr=sum(r[2] for r in rows) / count,
    )
