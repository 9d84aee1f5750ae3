"""The cost report use case as the dashboard calls it: routing savings across a price
change, the routing baseline, the chart series, pseudonyms, exact decimals, bad requests.
(Every grouping in every output format: tests/costs/test_costs_cli.py.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from wellcoach.costs.pricing import load_price_table, parse_price_table
from wellcoach.costs.reports import (
    CostReport,
    InvalidPeriod,
    ReportRow,
    UnknownGrouping,
    cost_report,
    daily_series,
    report_as_csv,
    report_as_dict,
    report_pseudonym,
    routing_baseline,
)
from wellcoach.models import LlmCall

START, END = date(2026, 3, 1), date(2026, 3, 3)
HEAD = 'currency = "USD"\nunit = "per_million_tokens"\n'


def price(model: str, since: str, inp: str, out: str, cached: str) -> str:
    return (
        f'[[prices]]\nmodel = "{model}"\neffective_from = {since}\n'
        f"input_per_million = {inp}\noutput_per_million = {out}\ncached_per_million = {cached}\n"
    )


BASE = [
    price("gpt-4o-mini", "2026-01-01", "0.15", "0.60", "0.075"),
    price("gpt-4.1-mini", "2026-01-01", "0.40", "1.60", "0.10"),
    price("gpt-4.1", "2026-01-01", "2.00", "8.00", "0.50"),
    price("text-embedding-3-small", "2026-01-01", "0.02", "0", "0.02"),
    price("offline-composer", "2026-01-01", "0", "0", "0"),
]
# the top model's price halves from the second day of the period on
CHANGED = [*BASE, price("gpt-4.1", "2026-03-02", "1.00", "4.00", "0.25")]


def table(rows: list[str]):
    return parse_price_table(HEAD + "\n".join(rows))


def row(when: datetime, user: uuid.UUID, tier: str, purpose: str, model: str, **more) -> LlmCall:
    fields = {
        "provider": "openai",
        "tokens_in": 0,
        "tokens_out": 0,
        "tokens_cached": 0,
        "tokens_estimated": False,
        "cost_usd": Decimal(0),
        "saved_usd": Decimal(0),
        "cache_hit": False,
        "latency_ms": 50,
        "status": "ok",
        "message_id": uuid.uuid4() if purpose == "chat" else None,
    } | more
    return LlmCall(
        id=uuid.uuid4(),
        created_at=when,
        user_id=user,
        tier=tier,
        purpose=purpose,
        model=model,
        **fields,
    )


@pytest.fixture
async def ledger(db_session):
    """Two users over three days: a routed chat call, one with 1,000 prompt tokens from
    the provider's cache, one a budget sent to the offline composer (routed_from), a cache
    hit and a query embedding. Rolled back after the test."""
    premium, free = uuid.uuid4(), uuid.uuid4()
    db_session.add_all(
        [
            row(datetime(2026, 3, 1, 12, tzinfo=UTC), premium, "premium", "chat", "gpt-4o-mini",
                tokens_in=1000, tokens_out=200, cost_usd=Decimal("0.00027"),
                routed_from="gpt-4.1-mini", team="Lions"),
            # (1000 × 0.15 + 1000 × 0.075 + 100 × 0.60) / 1e6
            row(datetime(2026, 3, 2, 12, tzinfo=UTC), premium, "premium", "chat", "gpt-4o-mini",
                tokens_in=2000, tokens_cached=1000, tokens_out=100,
                cost_usd=Decimal("0.000285"), team="Lions"),
            row(datetime(2026, 3, 2, 13, tzinfo=UTC), free, "free", "chat", "offline-composer",
                provider="offline", tokens_in=500, tokens_out=100, tokens_estimated=True,
                routed_from="gpt-4o-mini"),
            row(datetime(2026, 3, 3, 9, tzinfo=UTC), free, "free", "chat", "gpt-4o-mini",
                cache_hit=True, saved_usd=Decimal("0.00027")),
            row(datetime(2026, 3, 3, 10, tzinfo=UTC), free, "free", "retrieval",
                "text-embedding-3-small", tokens_in=10, cost_usd=Decimal("0.0000002")),
        ]
    )  # fmt: skip
    await db_session.flush()
    return {premium: "premium-user", free: "free-user"}


def with_infrastructure(settings, monthly: str):
    costs = settings.costs.model_copy(update={"monthly_infrastructure_usd": Decimal(monthly)})
    return settings.model_copy(update={"costs": costs})


async def test_routing_savings_follow_the_top_models_price_of_each_day(
    db_session, settings, ledger
):
    names = ledger
    report = await cost_report(
        db_session,
        with_infrastructure(settings, "3100"),
        start=START,
        end=END,
        by="day",
        pseudonym=names.__getitem__,
        prices=table(CHANGED),
    )
    assert isinstance(report, CostReport) and report.by == "day"
    # on gpt-4.1: day 1 at 2 / 8 / 0.5 per million, then 1 / 4 / 0.25
    #   03-01  1000 × 2 + 200 × 8                 = 0.0036  − 0.00027  = 0.00333
    #   03-02  1000 × 1 + 1000 × 0.25 + 100 × 4   = 0.00165 − 0.000285 = 0.001365
    #          500 × 1 + 100 × 4 (offline, routed) = 0.0009  − 0        = 0.0009
    #   03-03  a cache hit (counted as cache savings) and an embedding: nothing
    assert [(r.key, r.routing_savings_usd) for r in report.rows] == [
        ("2026-03-01", Decimal("0.00333000")),
        ("2026-03-02", Decimal("0.00226500")),
        ("2026-03-03", Decimal("0.00000000")),
    ]
    assert report.totals == ReportRow(
        key="total",
        calls=5,
        messages=4,
        active_users=2,
        tokens_in=3510,
        tokens_out=400,
        tokens_cached=1000,
        cost_usd=Decimal("0.00055520"),
        cache_savings_usd=Decimal("0.00027000"),
        routing_savings_usd=Decimal("0.00559500"),
        avg_cost_per_message_usd=Decimal("0.00013880"),
        avg_cost_per_active_user_usd=Decimal("0.00027760"),
    )
    assert [(u.user, u.cost_usd, u.calls) for u in report.top_users] == [
        ("premium-user", Decimal("0.00055500"), 2),
        ("free-user", Decimal("0.00000020"), 3),
    ]
    # $3,100 a month, 3 of March's 31 days: $300 over 2 active users
    assert report.infrastructure_per_active_user_usd == Decimal("150.00000000")
    assert report.daily_budget_usd == Decimal("500.00000000")
    assert report.unpriced_models == []

    # the same calls with one price for the whole period
    unchanged = await cost_report(
        db_session,
        settings,
        start=START,
        end=END,
        by="tier",
        pseudonym=names.__getitem__,
        prices=table(BASE),
    )
    assert unchanged.totals.routing_savings_usd == Decimal("0.00814500")
    assert [(r.key, r.routing_savings_usd) for r in unchanged.rows] == [
        ("premium", Decimal("0.00634500")),
        ("free", Decimal("0.00180000")),
    ]
    assert unchanged.infrastructure_per_active_user_usd == Decimal("0E-8")  # none configured


async def test_every_figure_is_an_exact_decimal_and_the_formats_carry_strings(
    db_session, settings, ledger
):
    report = await cost_report(
        db_session,
        settings,
        start=START,
        end=END,
        by="team",
        pseudonym=ledger.__getitem__,
        prices=table(BASE),
        top=1,
    )
    assert [r.key for r in report.rows] == ["Lions", "(no team)"]
    for group in [*report.rows, report.totals]:
        for name in ReportRow.__dataclass_fields__:
            value = getattr(group, name)
            assert isinstance(value, str | int | Decimal) and not isinstance(value, bool), name
    assert len(report.top_users) == 1
    data = report_as_dict(report)
    json.dumps(data)  # no Decimal (nor float) left to convert
    assert data["totals"]["cost_usd"] == "0.00055520"
    assert data["rows"][1]["avg_cost_per_message_usd"] == "0.00000010"  # 0.0000002 / 2
    assert report_as_csv(report).splitlines()[0] == (
        "team,calls,messages,active_users,tokens_in,tokens_out,tokens_cached,cost_usd,"
        "cache_savings_usd,routing_savings_usd,avg_cost_per_message_usd,"
        "avg_cost_per_active_user_usd"
    )


async def test_daily_series_for_the_charts(db_session, ledger):
    by_model = await daily_series(db_session, start=START, end=END, dimension="model")
    assert by_model == [
        (date(2026, 3, 1), "gpt-4o-mini", Decimal("0.00027000")),
        (date(2026, 3, 2), "gpt-4o-mini", Decimal("0.00028500")),
        (date(2026, 3, 2), "offline-composer", Decimal("0E-8")),
        (date(2026, 3, 3), "gpt-4o-mini", Decimal("0E-8")),
        (date(2026, 3, 3), "text-embedding-3-small", Decimal("0.00000020")),
    ]
    by_tier = await daily_series(db_session, start=START, end=date(2026, 3, 2), dimension="tier")
    assert by_tier == [
        (date(2026, 3, 1), "premium", Decimal("0.00027000")),
        (date(2026, 3, 2), "free", Decimal("0E-8")),
        (date(2026, 3, 2), "premium", Decimal("0.00028500")),
    ]
    with pytest.raises(UnknownGrouping):
        await daily_series(db_session, start=START, end=END, dimension="purpose")


def test_the_routing_baseline_is_the_dearest_model_a_tier_may_use(settings):
    # gpt-4o is dearer but no tier uses it
    assert routing_baseline(settings, load_price_table(), date(2026, 6, 1)) == "gpt-4.1"
    repriced = table([*BASE, price("gpt-4.1-mini", "2026-03-03", "10", "40", "5")])
    assert routing_baseline(settings, repriced, date(2026, 3, 2)) == "gpt-4.1"
    assert routing_baseline(settings, repriced, date(2026, 3, 3)) == "gpt-4.1-mini"
    assert routing_baseline(settings, repriced, date(2025, 12, 31)) is None  # nothing priced


def test_pseudonyms_are_stable_keyed_and_reveal_no_id():
    key = b"k" * 32
    pseudonym = report_pseudonym(key)
    user, other = uuid.uuid4(), uuid.uuid4()
    assert pseudonym(user) == report_pseudonym(key)(user)
    assert pseudonym(user) != pseudonym(other)
    assert pseudonym(user) != report_pseudonym(b"j" * 32)(user)
    assert pseudonym(user).startswith("u-") and len(pseudonym(user)) == 14
    assert user.hex[:12] not in pseudonym(user)


async def test_bad_requests_are_refused_with_stable_codes(db_session, settings):
    with pytest.raises(UnknownGrouping) as unknown:
        await cost_report(db_session, settings, start=START, end=END, by="hour", pseudonym=str)
    assert unknown.value.code == "unknown_grouping" and unknown.value.kind == "invalid"
    with pytest.raises(InvalidPeriod) as backwards:
        await cost_report(db_session, settings, start=END, end=START, by="day", pseudonym=str)
    assert backwards.value.code == "invalid_period"
