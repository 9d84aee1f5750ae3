"""Cost reports for finance: what the LLM calls of a period cost, grouped one way.

One use case (`cost_report`) backs `wellcoach costs report` and the dashboard's finance
page; `daily_series` feeds its charts. Both read the ledger only (`report_queries`).

Definitions (README "Costs and finance reports" says the same):

- **period**: whole UTC days, `start` and `end` included. Weeks are ISO weeks (Monday
  first, keys like `2025-W07`), months calendar months (`2025-02`); the first and last
  week or month of a period count only its days. Time groupings list every bucket of
  the period, empty ones too.
- **calls**: ledger rows (every LLM, embedding and moderation call, cache hits and
  failed attempts included).
- **messages**: answered user messages: distinct messages with a `chat` row of status
  `ok` (the model's reply, a cache hit or the offline composer). A failed attempt before
  a fallback is a call, not a message; a reply discarded because moderation flagged the
  message is a call, and the message still counts once.
- **active users**: distinct users with any row in the group.
- **cost**: the sum of `cost_usd`, each row priced when it was made (the price table of
  that day). **average cost per message** = cost / messages, **per active user** = cost
  / active users: the cost of every purpose (retrieval, summaries, ...) is spread over
  the messages answered.
- **cache savings**: the sum of `saved_usd`, what each cache hit would have cost.
- **routing savings**: for every answered chat call the router chose a model for
  (status `ok`; not cache hits, whose saving is counted above; not the offline composer
  unless routing sent the call there, `routed_from`), what the same tokens would have
  cost on the platform's top model minus what they cost. The top model is the most
  expensive chat model (one a tier may use, `llm.tiers`) by input + output price per
  million tokens on the period's last day, priced at its rates of each call's day
  (cached input tokens at its cached rate). This is the saving against "always the top
  model", the baseline of `bench/costs_bench.py`.
- **infrastructure per active user**: `costs.monthly_infrastructure_usd` prorated over
  the period (each day 1/days-in-its-month of the monthly figure) divided by the
  period's active users (0 when there are none).
- **top users**: the users who cost most, under a pseudonym (`report_pseudonym`): a
  keyed hash of the user id, stable across reports under one master key, never an id or
  an email.
- **unpriced models**: models called in the period that the price table had no price
  for on the day of their first call there (their rows cost 0).

Money is `Decimal` from the database to the output: sums are exact; averages, routing
savings and infrastructure shares are rounded once, half-even, to 8 decimals (the
ledger's scale).
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import hmac
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.config import Settings
from wellcoach.costs import report_queries as queries
from wellcoach.costs.pricing import PriceTable, load_price_table
from wellcoach.errors import InvalidInput

GROUPINGS = ("day", "week", "month", "model", "tier", "user", "purpose", "team")
TIME_GROUPINGS = ("day", "week", "month")
DIMENSIONS = ("model", "tier")
TOTAL_KEY = "total"
# the key of the rows whose grouping column is empty (a kb_ingest call has no user)
NO_VALUE = {"tier": "(none)", "user": "(no user)", "team": "(no team)"}
CENT_MILLIONTHS = Decimal("0.00000001")
PER_MILLION = Decimal(1_000_000)
PSEUDONYM_LABEL = b"wellcoach/costs/report-users/v1"


class UnknownGrouping(InvalidInput):
    """Reports group by day, week, month, model, tier, user, purpose or team."""

    code = "unknown_grouping"


class InvalidPeriod(InvalidInput):
    """The period of a report must start on or before its end."""

    code = "invalid_period"


@dataclass(frozen=True)
class ReportRow:
    key: str
    calls: int
    messages: int
    active_users: int
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: Decimal
    cache_savings_usd: Decimal
    routing_savings_usd: Decimal
    avg_cost_per_message_usd: Decimal
    avg_cost_per_active_user_usd: Decimal


@dataclass(frozen=True)
class TopUser:
    user: str  # a pseudonym, never an id or an email
    cost_usd: Decimal
    calls: int


@dataclass(frozen=True)
class CostReport:
    start: date
    end: date
    by: str
    rows: list[ReportRow]
    totals: ReportRow
    top_users: list[TopUser]
    infrastructure_per_active_user_usd: Decimal
    daily_budget_usd: Decimal
    unpriced_models: list[str]


ROW_FIELDS = tuple(f.name for f in fields(ReportRow))


def money(value: Decimal) -> Decimal:
    """Rounded once, half-even, to the ledger's 8 decimals."""
    return value.quantize(CENT_MILLIONTHS, rounding=ROUND_HALF_EVEN)


def _share(amount: Decimal, count: int) -> Decimal:
    return money(amount / count) if count else money(Decimal(0))


def _decimal(value: Any) -> Decimal:
    """A setting as an exact decimal (a float setting by its shortest repr, not its
    binary value)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def report_pseudonym(keyring_current: bytes) -> Callable[[uuid.UUID], str]:
    """Pseudonyms of users in reports: `u-` and 12 hex digits of HMAC-SHA256 of the user
    id, under a key derived from the current master key for this use only. The same user
    keeps the same pseudonym across reports (finance can follow one) until the master
    key rotates; nobody without the master key can tell whose it is."""
    key = hmac.new(keyring_current, PSEUDONYM_LABEL, hashlib.sha256).digest()

    def pseudonym(user_id: uuid.UUID) -> str:
        return "u-" + hmac.digest(key, user_id.bytes, "sha256").hex()[:12]

    return pseudonym


def routing_baseline(settings: Settings, prices: PriceTable, when: date) -> str | None:
    """The platform's top model on `when`: the most expensive chat model (one a tier may
    use) by input + output price per million tokens; None when none is priced."""
    chat_models = sorted({m for tier in settings.llm.tiers.values() for m in tier.models})
    priced = [(row, model) for model in chat_models if (row := prices.price_at(model, when))]
    if not priced:
        return None
    _, model = max(priced, key=lambda p: (p[0].input_per_million + p[0].output_per_million, p[1]))
    return model


def _baseline_rates(prices: PriceTable, model: str | None, end: date) -> list[queries.Rate]:
    if model is None:
        return []
    return [
        queries.Rate(
            effective_from=row.effective_from,
            input=row.input_per_million / PER_MILLION,
            output=row.output_per_million / PER_MILLION,
            cached=row.cached_per_million / PER_MILLION,
        )
        for row in prices.rows()
        if row.model == model and row.effective_from <= end
    ]


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _bucket(by: str, day: date) -> str:
    if by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def _key(by: str, value: Any, pseudonym: Callable[[uuid.UUID], str]) -> str:
    if value is None:
        return NO_VALUE.get(by, "(none)")
    if by in TIME_GROUPINGS:
        return _bucket(by, value)
    if by == "user":
        return pseudonym(value)
    return str(value)


def _row(key: str, sums: queries.Sums) -> ReportRow:
    return ReportRow(
        key=key,
        calls=sums.calls,
        messages=sums.messages,
        active_users=sums.active_users,
        tokens_in=sums.tokens_in,
        tokens_out=sums.tokens_out,
        tokens_cached=sums.tokens_cached,
        cost_usd=money(sums.cost_usd),
        cache_savings_usd=money(sums.saved_usd),
        routing_savings_usd=money(sums.routing_savings_usd),
        avg_cost_per_message_usd=_share(sums.cost_usd, sums.messages),
        avg_cost_per_active_user_usd=_share(sums.cost_usd, sums.active_users),
    )


def _empty(key: str) -> ReportRow:
    return _row(key, queries.Sums(None, False, 0, 0, 0, 0, 0, 0, *(Decimal(0),) * 3))


def _ordered(by: str, rows: list[ReportRow], start: date, end: date) -> list[ReportRow]:
    """Time groupings in calendar order with every bucket of the period; the others by
    cost, dearest first."""
    if by not in TIME_GROUPINGS:
        return sorted(rows, key=lambda r: (-r.cost_usd, r.key))
    found = {row.key: row for row in rows}
    buckets = dict.fromkeys(_bucket(by, day) for day in _days(start, end))
    return [found.get(bucket) or _empty(bucket) for bucket in buckets]


def prorated_infrastructure(monthly: Decimal, start: date, end: date) -> Fraction:
    """The monthly infrastructure cost over [start, end], each day 1/days-in-its-month."""
    total = Fraction(0)
    for day in _days(start, end):
        total += Fraction(monthly) / calendar.monthrange(day.year, day.month)[1]
    return total


def _fraction_money(value: Fraction) -> Decimal:
    return money(Decimal(value.numerator) / Decimal(value.denominator))


def check_report_request(start: date, end: date, by: str) -> None:
    if by not in GROUPINGS:
        raise UnknownGrouping(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    if start > end:
        raise InvalidPeriod(
            f"the period starts ({start.isoformat()}) after it ends ({end.isoformat()})"
        )


async def cost_report(
    session: AsyncSession,
    settings: Settings,
    *,
    start: date,
    end: date,
    by: str,
    pseudonym: Callable[[uuid.UUID], str],
    top: int = 10,
    prices: PriceTable | None = None,
) -> CostReport:
    """The report of [start, end] (UTC days) grouped `by` one of `GROUPINGS`, with the
    `top` users who cost most. `prices` defaults to the configured price table."""
    check_report_request(start, end, by)
    if top < 0:
        raise InvalidInput("the number of top users cannot be negative")
    if prices is None:
        prices = load_price_table(settings.costs.prices_file)
    baseline = _baseline_rates(prices, routing_baseline(settings, prices, end), end)
    sums = await queries.grouped_sums(session, start=start, end=end, by=by, baseline=baseline)
    totals = _row(TOTAL_KEY, next(s for s in sums if s.total))
    rows = [_row(_key(by, s.key, pseudonym), s) for s in sums if not s.total]
    spenders: list[tuple[uuid.UUID, Decimal, int]] = []
    if top and by == "user":  # the groups are the users: no second pass over the period
        ranked = sorted(
            ((s.key, s.cost_usd, s.calls) for s in sums if not s.total and s.key is not None),
            key=lambda item: (-item[1], -item[2], item[0]),
        )
        spenders = ranked[:top]
    elif top:
        spenders = await queries.top_spenders(session, start=start, end=end, limit=top)
    used = await queries.models_first_used(session, start=start, end=end)
    infrastructure = prorated_infrastructure(
        _decimal(settings.costs.monthly_infrastructure_usd), start, end
    )
    return CostReport(
        start=start,
        end=end,
        by=by,
        rows=_ordered(by, rows, start, end),
        totals=totals,
        top_users=[TopUser(pseudonym(uid), money(cost), calls) for uid, cost, calls in spenders],
        infrastructure_per_active_user_usd=_fraction_money(
            infrastructure / totals.active_users if totals.active_users else Fraction(0)
        ),
        daily_budget_usd=money(_decimal(settings.costs.daily_platform_budget_usd)),
        unpriced_models=[model for model, first in used if prices.price_at(model, first) is None],
    )


async def daily_series(
    session: AsyncSession, *, start: date, end: date, dimension: str
) -> list[tuple[date, str, Decimal]]:
    """Cost per UTC day and model or tier over [start, end], for charts: (day, name,
    cost), by day then name; days and names without calls are absent."""
    if dimension not in DIMENSIONS:
        raise UnknownGrouping(f"unknown dimension {dimension!r}: use model or tier")
    check_report_request(start, end, dimension)
    rows = await queries.daily_costs(session, start=start, end=end, dimension=dimension)
    named = [(day, name or NO_VALUE["tier"], money(cost)) for day, name, cost in rows]
    return sorted(named, key=lambda item: (item[0], item[1]))  # not the database's collation


def _plain(value: Any) -> Any:
    """Decimals as fixed-point strings (never floats, never `1E-8`)."""
    return f"{value:f}" if isinstance(value, Decimal) else value


def report_as_dict(report: CostReport) -> dict[str, Any]:
    """The report for finance tools (JSON): stable keys, money as decimal strings."""
    return {
        "currency": "USD",
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "by": report.by,
        "rows": [{k: _plain(v) for k, v in asdict(row).items()} for row in report.rows],
        "totals": {k: _plain(v) for k, v in asdict(report.totals).items()},
        "top_users": [{k: _plain(v) for k, v in asdict(u).items()} for u in report.top_users],
        "infrastructure_per_active_user_usd": _plain(report.infrastructure_per_active_user_usd),
        "daily_budget_usd": _plain(report.daily_budget_usd),
        "unpriced_models": list(report.unpriced_models),
    }


def report_as_csv(report: CostReport) -> str:
    """One line per group under a header row whose first column is named by the
    grouping; no totals line (a spreadsheet sums the columns; distinct counts of the
    whole period are in the JSON and the table)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by, *ROW_FIELDS[1:]])
    for row in report.rows:
        writer.writerow([_plain(getattr(row, name)) for name in ROW_FIELDS])
    return out.getvalue()
