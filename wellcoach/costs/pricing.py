"""The price table: USD per million tokens per model, each price from a date.

It is a versioned file, `prices.toml` beside this module (or `costs.prices_file`): a
price change is a new row with a later `effective_from`, so the table always says what
a call cost on the day it was made. The ledger prices a call once, when its row is
written, with the row in force at the row's `created_at`, and records that row's
`effective_from`; nothing ever re-prices history.

Amounts are exact decimals (the TOML is parsed with `parse_float=Decimal`); a call's
cost is quantized to 1e-8 USD, the ledger column's scale, rounding half up.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from wellcoach.errors import WellcoachError

PACKAGED_PRICES = Path(__file__).with_name("prices.toml")
MILLION = Decimal(1_000_000)
QUANTUM = Decimal("0.00000001")  # llm_calls.cost_usd is numeric(14, 8)
# a provider may answer with a dated snapshot name (gpt-4o-mini-2024-07-18)
SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class PricesInvalid(WellcoachError):
    """The price table cannot be read."""

    code = "prices_invalid"
    kind = "invalid"


@dataclass(frozen=True)
class PriceRow:
    model: str
    effective_from: date
    input_per_million: Decimal
    output_per_million: Decimal
    cached_per_million: Decimal

    def cost(self, tokens_in: int, tokens_out: int, tokens_cached: int = 0) -> Decimal:
        """`tokens_in` counts every prompt token, the cached ones included (as providers
        report them); those are priced at the cached rate, the rest at the input rate."""
        cached = min(max(tokens_cached, 0), max(tokens_in, 0))
        total = (
            (max(tokens_in, 0) - cached) * self.input_per_million
            + cached * self.cached_per_million
            + max(tokens_out, 0) * self.output_per_million
        ) / MILLION
        return total.quantize(QUANTUM, rounding=ROUND_HALF_UP)


class PriceTable:
    """Price rows by model, each model's rows ordered by date."""

    def __init__(self, rows: list[PriceRow], source: str = "") -> None:
        self.source = source
        self._rows = sorted(rows, key=lambda row: (row.model, row.effective_from))
        self._by_model: dict[str, list[PriceRow]] = {}
        for row in self._rows:
            listed = self._by_model.setdefault(row.model, [])
            if listed and listed[-1].effective_from == row.effective_from:
                raise PricesInvalid(
                    f"{source}: two prices for {row.model} from {row.effective_from}"
                )
            listed.append(row)
        self._dates = {
            model: [row.effective_from for row in listed]
            for model, listed in self._by_model.items()
        }

    def rows(self) -> list[PriceRow]:
        """Every row, by model then date."""
        return list(self._rows)

    def models(self) -> list[str]:
        return list(self._by_model)

    def price_at(self, model: str, when: datetime | date) -> PriceRow | None:
        """The row in force for `model` at `when` (its UTC day; a naive time is taken as
        UTC; a date is that day), or None for a model without a price then (its calls
        cost 0 and say so)."""
        if model not in self._by_model:
            model = SNAPSHOT_SUFFIX.sub("", model)
        dates = self._dates.get(model)
        if not dates:
            return None
        if isinstance(when, datetime):
            day = (when.astimezone(UTC) if when.tzinfo else when).date()
        else:
            day = when
        index = bisect_right(dates, day)
        return self._by_model[model][index - 1] if index else None

    def cost(
        self,
        model: str,
        when: datetime | date,
        tokens_in: int,
        tokens_out: int,
        tokens_cached: int = 0,
    ) -> Decimal:
        """What a call cost, exact to 1e-8 USD; 0 for a model without a price then."""
        row = self.price_at(model, when)
        if row is None:
            return Decimal(0).quantize(QUANTUM)
        return row.cost(tokens_in, tokens_out, tokens_cached)


def parse_price_table(text: str, source: str = "prices.toml") -> PriceTable:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PricesInvalid(f"{source}: {exc}") from exc
    if data.get("currency", "USD") != "USD" or data.get("unit", "per_million_tokens") != (
        "per_million_tokens"
    ):
        raise PricesInvalid(f"{source}: prices must be USD per_million_tokens")
    entries = data.get("prices")
    if not isinstance(entries, list) or not entries:
        raise PricesInvalid(f"{source}: no [[prices]] rows")
    return PriceTable([_row(entry, source) for entry in entries], source)


def _row(entry: dict[str, Any], source: str) -> PriceRow:
    model = entry.get("model")
    effective = entry.get("effective_from")
    if not isinstance(model, str) or not model:
        raise PricesInvalid(f"{source}: a row without a model: {entry}")
    if not isinstance(effective, date) or isinstance(effective, datetime):
        raise PricesInvalid(f"{source}: {model}: effective_from must be a date (2026-01-01)")
    input_rate = _amount(entry, "input_per_million", source, model)
    output_rate = _amount(entry, "output_per_million", source, model, default=Decimal(0))
    cached_rate = _amount(entry, "cached_per_million", source, model, default=input_rate)
    return PriceRow(model, effective, input_rate, output_rate, cached_rate)


def _amount(
    entry: dict[str, Any], key: str, source: str, model: str, default: Decimal | None = None
) -> Decimal:
    raw = entry.get(key, default)
    if raw is None:
        raise PricesInvalid(f"{source}: {model}: {key} is missing")
    try:
        value = Decimal(str(raw)) if not isinstance(raw, Decimal) else raw
    except InvalidOperation as exc:
        raise PricesInvalid(f"{source}: {model}: {key} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise PricesInvalid(f"{source}: {model}: {key} must be a number >= 0")
    return value


def load_price_table(path: Path | None = None) -> PriceTable:
    """The table in `path` (default: the one shipped with the package). Cached per file
    version: an edited file is read again (by its modification time and size), without
    a restart."""
    target = (path or PACKAGED_PRICES).expanduser().resolve()
    try:
        stat = target.stat()
    except OSError as exc:
        raise PricesInvalid(f"cannot read the price table {target}: {exc}") from exc
    return _load(target, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> PriceTable:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricesInvalid(f"cannot read the price table {path}: {exc}") from exc
    return parse_price_table(text, str(path))
