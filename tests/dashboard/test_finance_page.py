"""The finance page over ledger rows the test commits: KPIs, charts, top users by
pseudonym, the breakdown and its CSV, the audit entry of each view, the empty state."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from tests.dashboard.conftest import Committed, Dashboard
from wellcoach.config import get_settings
from wellcoach.models import AuditLog, LlmCall
from wellcoach.models.costs import LlmSpendDaily
from wellcoach.models.enums import Role
from wellcoach.platform import Platform, run_with_platform

# a period no other test writes ledger rows in
FIRST, LAST = date(2001, 3, 1), date(2001, 3, 3)
ATHLETE, PREMIUM = uuid.uuid4(), uuid.uuid4()


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2001, 3, day, hour, tzinfo=UTC)


def call(day: int, user: uuid.UUID, model: str, tier: str, cost: str, **fields) -> LlmCall:
    return LlmCall(
        id=uuid.uuid4(),
        created_at=at(day),
        user_id=user,
        tier=tier,
        team="Rovers",
        purpose=fields.pop("purpose", "chat"),
        provider="openai",
        model=model,
        tokens_in=fields.pop("tokens_in", 800),
        tokens_out=fields.pop("tokens_out", 200),
        cost_usd=Decimal(cost),
        status="ok",
        **fields,
    )


@pytest.fixture
def ledger(committed: Committed) -> Iterator[None]:
    """Three answered messages over the first two days of the period (one from the
    cache), an embedding call; nothing on the third day."""
    committed.ledger(
        [
            call(1, ATHLETE, "gpt-4o-mini", "free", "0.00120000", message_id=uuid.uuid4()),
            call(
                1,
                ATHLETE,
                "text-embedding-3-small",
                "free",
                "0.00001000",
                purpose="embedding",
                tokens_out=0,
            ),
            call(2, PREMIUM, "gpt-4.1", "premium", "0.01500000", message_id=uuid.uuid4()),
            call(
                2,
                ATHLETE,
                "gpt-4o-mini",
                "free",
                "0",
                message_id=uuid.uuid4(),
                cache_hit=True,
                saved_usd=Decimal("0.00120000"),
            ),
        ]
    )
    yield
    clear_daily_spend()


def clear_daily_spend() -> None:
    """The daily spend rows the ledger's trigger added for the period."""

    async def work(platform: Platform) -> None:
        async with platform.unit_of_work() as session:
            await session.execute(
                delete(LlmSpendDaily).where(LlmSpendDaily.day.between(FIRST, LAST))
            )

    run_with_platform(work, get_settings())


def views_audited(user_id: uuid.UUID) -> list[dict]:
    async def work(platform: Platform) -> list[dict]:
        async with platform.unit_of_work() as session:
            rows = await session.scalars(
                select(AuditLog)
                .where(AuditLog.actor_id == user_id, AuditLog.action == "dashboard.view")
                .order_by(AuditLog.created_at)
            )
            return [{"resource": row.resource_id, **row.details} for row in rows]

    return run_with_platform(work, get_settings())


def finance_page(dashboard: Dashboard, committed: Committed, first: date, last: date) -> None:
    dashboard.sign_in(committed.account(Role.finance))
    assert dashboard.title() == "Finance"
    dashboard.at.date_input(key="finance_period").set_value((first, last)).run()


def test_the_period_defaults_to_this_month(dashboard: Dashboard, committed: Committed) -> None:
    dashboard.sign_in(committed.account(Role.finance))

    today = datetime.now(UTC).date()
    assert dashboard.at.date_input(key="finance_period").value == (today.replace(day=1), today)


def test_kpis_charts_top_users_and_the_breakdown(
    dashboard: Dashboard, committed: Committed, ledger: None
) -> None:
    finance_page(dashboard, committed, FIRST, LAST)
    page = dashboard.at

    metrics = {metric.label: metric.value for metric in page.metric}
    assert metrics["Spend"] == "$0.0162"  # 0.0012 + 0.00001 + 0.015
    assert metrics["Messages answered"] == "3"
    assert metrics["Active users"] == "2"
    assert metrics["Cost per message"] == "$0.005403"  # 0.01621 / 3
    assert metrics["Cost per active user"] == "$0.008105"
    assert metrics["Cache savings"] == "$0.001200"
    assert {"Infrastructure per active user", "Routing savings"} <= metrics.keys()

    charts = [json.loads(chart.proto.spec) for chart in page.get("vega_lite_chart")]
    assert len(charts) == 3
    colours = [chart.get("encoding", {}).get("color", {}).get("field") for chart in charts[:2]]
    assert colours == ["model", "tier"]
    marks = [layer["mark"]["type"] for layer in charts[2]["layer"]]
    assert marks == ["line", "text"]  # daily spend, and where the (far higher) budget is
    assert "Highest day $0.0150, under 0.1% of the $500.00 daily budget; 0 days over it." in (
        dashboard.text()
    )

    top_users, breakdown = (frame.value for frame in page.dataframe)
    assert list(top_users["Cost"]) == [0.015, 0.00121]
    assert all(name.startswith("u-") for name in top_users["User (pseudonym)"])
    assert str(PREMIUM) not in top_users.to_string() and str(ATHLETE) not in top_users.to_string()
    assert list(breakdown["Day"]) == ["2001-03-01", "2001-03-02", "2001-03-03"]
    assert list(breakdown["Cost"]) == [0.00121, 0.015, 0.0]

    page.selectbox(key="finance_by").set_value("model").run()
    breakdown = page.dataframe[1].value
    assert list(breakdown["Model"]) == ["gpt-4.1", "gpt-4o-mini", "text-embedding-3-small"]
    assert [button.label for button in page.download_button] == ["Download CSV"]

    view = {"resource": "finance", "source": "dashboard", "page": "finance"}
    period = {"start": "2001-03-01", "end": "2001-03-03"}
    assert views_audited(committed.users[-1])[-2:] == [
        view | period | {"by": "day"},
        view | period | {"by": "model"},
    ]


def test_an_empty_period_says_what_produces_costs(
    dashboard: Dashboard, committed: Committed
) -> None:
    finance_page(dashboard, committed, date(2000, 1, 1), date(2000, 1, 31))

    assert "No LLM calls were recorded from 01 Jan 2000 to 31 Jan 2000" in dashboard.text()
    assert "Costs appear after chat turns" in dashboard.text()
    assert "Try a wider range." in dashboard.text()
    assert not dashboard.at.metric
    assert not dashboard.at.download_button
