"""Budgets: routing degrades over a budget (the tier's cheapest model, then the offline
composer, never an error), deterministically; alerts are raised once per threshold and
period; the platform's daily spend is kept without writers waiting on each other."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from api.main import create_app
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from tests.support.services import with_model
from wellcoach.chat.budget_alerts import check_platform_budget
from wellcoach.config import CostSettings, LlmSettings, Settings
from wellcoach.costs import budgets
from wellcoach.costs import repository as ledger
from wellcoach.costs.budgets import Spend
from wellcoach.costs.ledger import LedgerRow, Usage
from wellcoach.costs.pricing import load_price_table
from wellcoach.db.base import utcnow
from wellcoach.llm.routing import route
from wellcoach.models import AuditLog, LlmCall
from wellcoach.models.costs import CostAlert
from wellcoach.models.enums import Role, Tier
from wellcoach.models.notify import EmailOutbox

LONG_QUESTION = (
    "Why do I freeze in the last minutes of close games, how can I plan a routine, and how"
    " does breathing compare with self-talk? "
) * 3
SHORT = "hi coach"
LLM = LlmSettings()
NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)


def costs(**fields) -> CostSettings:
    return CostSettings(**fields)


# -- routing, deterministic ---------------------------------------------------------


def test_under_every_budget_complexity_picks_the_model():
    spend = Spend()
    assert route(LLM, costs(), "team", SHORT, 0, spend).model == "gpt-4o-mini"
    chosen = route(LLM, costs(), "team", LONG_QUESTION, 0, spend)
    assert (chosen.model, chosen.offline, chosen.degraded_from) == ("gpt-4.1", False, None)
    assert chosen.reason == "complexity_step_2"
    assert route(LLM, costs(), "team", SHORT, 0, spend).degraded_from == "gpt-4.1"
    # the same input always gives the same route
    assert len({route(LLM, costs(), "team", LONG_QUESTION, 3, spend) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    ("spend", "model", "offline", "reason"),
    [
        (Spend(user_month=Decimal("19.99")), "gpt-4.1", False, "complexity_step_2"),
        (Spend(user_month=Decimal("20")), "gpt-4o-mini", False, "budget_user_month_cheapest"),
        (Spend(user_month=Decimal("24.99")), "gpt-4o-mini", False, "budget_user_month_cheapest"),
        (Spend(user_month=Decimal("25")), "gpt-4o-mini", True, "budget_user_month_offline"),
        (
            Spend(platform_today=Decimal("500")),
            "gpt-4o-mini",
            False,
            "budget_platform_day_cheapest",
        ),
        (Spend(platform_today=Decimal("625")), "gpt-4o-mini", True, "budget_platform_day_offline"),
        # the tier's daily budget per user (team: $1)
        (Spend(user_today=Decimal("1")), "gpt-4o-mini", False, "budget_user_day_cheapest"),
        # the budget under most pressure decides
        (
            Spend(user_month=Decimal("21"), platform_today=Decimal("700")),
            "gpt-4o-mini",
            True,
            "budget_platform_day_offline",
        ),
    ],
)
def test_over_a_budget_routing_degrades_to_the_cheapest_model_then_offline(
    spend, model, offline, reason
):
    chosen = route(LLM, costs(), "team", LONG_QUESTION, 0, spend)
    assert (chosen.model, chosen.offline, chosen.reason) == (model, offline, reason)
    if chosen.offline or chosen.model != "gpt-4.1":
        assert chosen.degraded_from == "gpt-4.1"


def test_a_crisis_turn_is_never_sent_offline_by_a_budget():
    chosen = route(LLM, costs(), "team", SHORT, 0, Spend(user_month=Decimal(100)), crisis=True)
    assert (chosen.model, chosen.offline) == ("gpt-4o-mini", False)


def test_budget_settings_defaults_and_checks(monkeypatch):
    defaults = Settings(_env_file=None).costs
    assert defaults.daily_platform_budget_usd == 500
    assert defaults.monthly_budget_per_user_usd == {
        "free": Decimal("0.5"),
        "premium": 5,
        "team": 20,
    }
    assert defaults.alert_thresholds == [Decimal("0.8"), Decimal("1.0")]
    assert defaults.monthly_infrastructure_usd == 0
    monkeypatch.setenv("WELLCOACH_COSTS__DAILY_PLATFORM_BUDGET_USD", "250.50")
    monkeypatch.setenv("WELLCOACH_COSTS__ALERT_THRESHOLDS", "[1.0, 0.5, 0.5]")
    configured = Settings(_env_file=None).costs
    assert configured.daily_platform_budget_usd == Decimal("250.50")
    assert configured.alert_thresholds == [Decimal("0.5"), Decimal("1.0")]
    with pytest.raises(ValueError):
        CostSettings(degrade_at=Decimal("1.5"), offline_at=Decimal("1.2"))
    with pytest.raises(ValueError):
        CostSettings(monthly_budget_per_user_usd={"free": Decimal(0)})


# -- alerts ----------------------------------------------------------------------------


def test_due_alerts_are_the_thresholds_reached_and_not_yet_raised():
    settings = costs(monthly_budget_per_user_usd={"team": Decimal("10")})
    user = uuid.uuid4()
    spend = Spend(user_month=Decimal("8"), platform_today=Decimal("399.99"))
    due = budgets.due_alerts(settings, spend, now=NOW, user_id=user, tier="team")
    assert [(a.scope, a.threshold, a.period_start) for a in due] == [
        ("user_month", Decimal("0.8"), date(2026, 5, 1))
    ]
    raised = frozenset({("user_month", Decimal("0.8"))})
    spend = Spend(user_month=Decimal("12"), platform_today=Decimal("500"), alerted=raised)
    due = budgets.due_alerts(settings, spend, now=NOW, user_id=user, tier="team")
    assert {(a.scope, a.threshold) for a in due} == {
        ("platform_day", Decimal("0.8")),
        ("platform_day", Decimal("1.0")),
        ("user_month", Decimal("1.0")),
    }
    assert {a.period_start for a in due if a.scope == "platform_day"} == {date(2026, 5, 20)}


async def test_an_alert_is_raised_once_with_an_audit_entry(db_session, platform):
    user = await create_user(db_session, platform, tier=Tier.team)
    alert = budgets.Alert(
        scope="user_month",
        threshold=Decimal("0.8"),
        budget_usd=Decimal("20"),
        spent_usd=Decimal("16.5"),
        period_start=date(2026, 5, 1),
        user_id=user.id,
        tier="team",
    )
    assert await budgets.raise_alerts(db_session, [alert]) == [alert]
    assert await budgets.raise_alerts(db_session, [alert]) == []
    entries = list(
        await db_session.scalars(
            select(AuditLog).where(
                AuditLog.action == "costs.budget_alert", AuditLog.user_id == user.id
            )
        )
    )
    assert len(entries) == 1
    assert entries[0].details["spent_usd"] == "16.5" and entries[0].details["threshold"] == "0.8"


async def test_the_platform_check_raises_its_daily_alerts_once(db_session, platform):
    today = budgets.day_start(utcnow()).date()
    spent = await ledger.platform_spent(db_session, today)
    usage = Usage("openai", "text-embedding-3-small", "kb_ingest", tokens_in=500_000)  # $0.01
    await ledger.add(db_session, LedgerRow.of(usage, load_price_table()))
    settings = costs(daily_platform_budget_usd=spent + Decimal("0.01"))
    raised = await budgets.check_platform(db_session, settings)
    assert {(a.scope, a.threshold) for a in raised} == {
        ("platform_day", Decimal("0.8")),
        ("platform_day", Decimal("1.0")),
    }
    assert await budgets.check_platform(db_session, settings) == []


# -- the platform's daily spend ---------------------------------------------------------


async def test_a_transaction_holding_todays_spend_row_never_makes_another_wait(platform):
    """The roll-up skips rows another transaction holds: `lock_timeout` would turn any
    wait into an error (no timing is measured)."""
    today = budgets.day_start(utcnow()).date()
    engine = platform.database.engine
    async with engine.begin() as setup:  # a committed row of today, worth nothing
        await setup.execute(
            text(
                "INSERT INTO llm_spend_daily (day, shard, cost_usd, calls)"
                " VALUES (:day, -1, 0, 0) ON CONFLICT DO NOTHING"
            ),
            {"day": today},
        )
    usage = Usage("openai", "gpt-4.1", "chat", tokens_in=1000)  # $0.002
    prices = load_price_table()
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await second.begin()
        await first.execute(text("SET LOCAL lock_timeout = '5s'"))
        await second.execute(text("SET LOCAL lock_timeout = '5s'"))
        before = await second.scalar(
            text("SELECT coalesce(sum(cost_usd), 0) FROM llm_spend_daily WHERE day = :d"),
            {"d": today},
        )
        stmt = ledger.insert_statement("p_")
        await first.execute(stmt, ledger.insert_params("p_", LedgerRow.of(usage, prices)))
        await second.execute(stmt, ledger.insert_params("p_", LedgerRow.of(usage, prices)))
        await second.execute(stmt, ledger.insert_params("p_", LedgerRow.of(usage, prices)))
        after = await second.scalar(
            text("SELECT coalesce(sum(cost_usd), 0) FROM llm_spend_daily WHERE day = :d"),
            {"d": today},
        )
        assert after - before == Decimal("0.004")  # its own two rows
        await first.rollback()
        await second.rollback()


# -- through the HTTP API ----------------------------------------------------------------


@pytest.fixture
def configure(settings, platform, app, fake_openai):
    """An HTTP client on the app with a model and these budgets."""
    fake_openai.reset()

    def make(cost_settings: CostSettings):
        llm = LlmSettings(provider="openai", max_retries=0, moderation=False)
        configured = with_model(settings, fake_openai.base_url, llm, costs=cost_settings)
        application = create_app(
            configured, platform.with_settings(configured), units=app.state.units
        )
        return make_client(application)

    return make


async def _spend(db_session, user_id, usd: str) -> None:
    """A call of the user's worth `usd` (gpt-4.1 prompt tokens at $2 a million)."""
    tokens_in = int(Decimal(usd) * 1_000_000 / 2)
    usage = Usage("openai", "gpt-4.1", "chat", tokens_in=tokens_in)
    row = LedgerRow.of(usage, load_price_table(), user_id=user_id, tier="team")
    assert row.cost_usd == Decimal(usd)
    await ledger.add(db_session, row)


async def _conversation(http, db_session, platform, tier=Tier.team):
    user = await create_user(db_session, platform, tier=tier)
    headers = bearer(await login(http, user.email))
    session_id = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]

    async def say(content: str) -> dict:
        response = await http.post(
            f"/v1/chat/sessions/{session_id}/messages", json={"content": content}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()["reply"]

    return user, say


async def _chat_rows(db_session, user_id) -> list[LlmCall]:
    return list(
        await db_session.scalars(
            select(LlmCall)
            .where(LlmCall.user_id == user_id, LlmCall.purpose == "chat", LlmCall.status == "ok")
            .order_by(LlmCall.created_at)
        )
    )


async def test_over_a_monthly_budget_a_user_gets_a_cheaper_model_then_the_offline_composer(
    configure, db_session, platform, fake_openai, kb
):
    budget = costs(
        monthly_budget_per_user_usd={"free": 100, "premium": 100, "team": Decimal("0.01")},
        daily_platform_budget_usd=Decimal(10**6),
    )
    async with configure(budget) as http:
        user, say = await _conversation(http, db_session, platform)
        first = await say(LONG_QUESTION)
        assert (first["metadata"]["model_used"], first["metadata"]["route"]) == (
            "gpt-4.1",
            "complexity_step_2",
        )

        await _spend(db_session, user.id, "0.01")  # now at 100 % of the budget and more
        second = await say(LONG_QUESTION + " Again?")
        assert second["metadata"]["provider"] == "openai"
        assert second["metadata"]["model_used"] == "gpt-4o-mini"
        assert second["metadata"]["route"] == "budget_user_month_cheapest"

        await _spend(db_session, user.id, "0.003")  # past 125 %
        asked = len(fake_openai.requests_for("chat/completions"))
        third = await say(LONG_QUESTION + " Once more?")
        assert third["metadata"]["provider"] == "offline" and third["content"]
        assert third["metadata"]["route"] == "budget_user_month_offline"
        assert len(fake_openai.requests_for("chat/completions")) == asked  # no model asked

    rows = await _chat_rows(db_session, user.id)
    answered = [row for row in rows if row.tokens_in != 5000 and row.tokens_in != 1500]
    assert [(row.model, row.routed_from) for row in answered] == [
        ("gpt-4.1", None),
        ("gpt-4o-mini", "gpt-4.1"),
        ("offline-composer", "gpt-4.1"),
    ]
    assert answered[-1].cost_usd == 0


async def test_over_the_platforms_daily_budget_turns_degrade_likewise(
    configure, db_session, platform, fake_openai, kb
):
    today = budgets.day_start(utcnow()).date()
    spent = await ledger.platform_spent(db_session, today)
    daily = spent + Decimal("0.04")
    budget = costs(daily_platform_budget_usd=daily)
    async with configure(budget) as http:
        user, say = await _conversation(http, db_session, platform, tier=Tier.premium)
        first = await say(LONG_QUESTION)
        assert first["metadata"]["model_used"] == "gpt-4.1-mini"

        # someone else's calls (an ingest) take the platform to its budget
        usage = Usage("openai", "text-embedding-3-small", "kb_ingest", tokens_in=2_000_000)
        await ledger.add(db_session, LedgerRow.of(usage, load_price_table()))  # $0.04
        second = await say(LONG_QUESTION + " Again?")
        assert second["metadata"]["model_used"] == "gpt-4o-mini"
        assert second["metadata"]["route"] == "budget_platform_day_cheapest"

        await ledger.add(db_session, LedgerRow.of(usage, load_price_table()))  # 200 %
        third = await say(LONG_QUESTION + " Once more?")
        assert third["metadata"]["provider"] == "offline" and third["content"]
        assert third["metadata"]["route"] == "budget_platform_day_offline"

    rows = await _chat_rows(db_session, user.id)
    assert [(row.model, row.routed_from) for row in rows] == [
        ("gpt-4.1-mini", None),
        ("gpt-4o-mini", "gpt-4.1-mini"),
        ("offline-composer", "gpt-4.1-mini"),
    ]
    alerts = list(
        await db_session.scalars(
            select(CostAlert.threshold).where(
                CostAlert.scope == "platform_day", CostAlert.period_start == today
            )
        )
    )
    assert sorted(alerts) == [Decimal("0.8"), Decimal("1.0")]


async def test_budget_alerts_are_raised_once_per_threshold_during_chat(
    configure, db_session, platform, fake_openai, kb
):
    budget = costs(
        monthly_budget_per_user_usd={"team": Decimal("0.01")},
        daily_platform_budget_usd=Decimal(10**6),
        alert_thresholds=[Decimal("0.5"), Decimal("1.0")],
    )

    async def raised(user_id) -> list[Decimal]:
        alerts = await db_session.scalars(
            select(CostAlert.threshold)
            .where(CostAlert.user_id == user_id, CostAlert.scope == "user_month")
            .order_by(CostAlert.threshold)
        )
        return list(alerts)

    async def audited(user_id) -> int:
        entries = await db_session.scalars(
            select(AuditLog).where(
                AuditLog.user_id == user_id, AuditLog.action == "costs.budget_alert"
            )
        )
        return len(list(entries))

    admin = await create_user(db_session, platform, role=Role.admin)

    async with configure(budget) as http:
        user, say = await _conversation(http, db_session, platform)
        await say("hello coach")
        assert await raised(user.id) == []

        await _spend(db_session, user.id, "0.006")
        await say("how do I relax before a game")
        assert await raised(user.id) == [Decimal("0.5")]
        await say("and after the game")
        assert await raised(user.id) == [Decimal("0.5")] and await audited(user.id) == 1

        await _spend(db_session, user.id, "0.005")
        await say("what about the night before")
        await say("thanks coach")
        assert await raised(user.id) == [Decimal("0.5"), Decimal("1.0")]
        assert await audited(user.id) == 2
    # each alert also reached the administrators, naming no user but by id
    mails = list(
        await db_session.scalars(
            select(EmailOutbox).where(
                EmailOutbox.to_address == admin.email, EmailOutbox.template == "budget_alert"
            )
        )
    )
    assert len(mails) == 2
    assert all(str(user.id) in mail.body and user.email not in mail.body for mail in mails)
    percents = sorted(int(mail.subject.rsplit(" at ", 1)[1].split("%")[0]) for mail in mails)
    assert 50 <= percents[0] < 100 <= percents[1]  # what was spent when each was crossed


async def test_the_scheduled_check_emails_the_platforms_alerts(db_session, platform):
    admin = await create_user(db_session, platform, role=Role.admin)
    today = budgets.day_start(utcnow()).date()
    spent = await ledger.platform_spent(db_session, today)
    usage = Usage("openai", "text-embedding-3-small", "kb_ingest", tokens_in=500_000)  # $0.01
    await ledger.add(db_session, LedgerRow.of(usage, load_price_table()))
    settings = costs(daily_platform_budget_usd=spent + Decimal("0.01"))
    raised = await check_platform_budget(db_session, settings)
    assert len(raised) == 2
    assert await check_platform_budget(db_session, settings) == []
    subjects = await db_session.scalars(
        select(EmailOutbox.subject).where(
            EmailOutbox.to_address == admin.email, EmailOutbox.template == "budget_alert"
        )
    )
    assert all(subject.startswith("wellcoach budget alert: The platform") for subject in subjects)
