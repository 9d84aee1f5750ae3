"""The price table: a versioned TOML file of USD per million tokens with effective dates.
A price change mid-period prices the calls after it differently, and never rewrites the
rows written before it (checked through the HTTP API too)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from api.main import create_app
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from tests.support.services import with_model
from wellcoach.config import CostSettings, LlmSettings, Settings
from wellcoach.costs import repository as ledger
from wellcoach.costs.ledger import LedgerRow, Usage
from wellcoach.costs.pricing import (
    PACKAGED_PRICES,
    PriceRow,
    PricesInvalid,
    PriceTable,
    load_price_table,
    parse_price_table,
)
from wellcoach.models import LlmCall

ROW = """
[[prices]]
model = "{model}"
effective_from = {day}
input_per_million = {input}
output_per_million = {output}
cached_per_million = {cached}
"""


def _table(*rows: tuple[str, str, str, str, str]) -> str:
    return 'currency = "USD"\nunit = "per_million_tokens"\n' + "".join(
        ROW.format(model=m, day=d, input=i, output=o, cached=c) for m, d, i, o, c in rows
    )


def test_the_shipped_table_prices_every_model_the_platform_uses():
    table = load_price_table()
    rows = table.rows()
    assert rows == sorted(rows, key=lambda row: (row.model, row.effective_from))
    tiers = Settings(_env_file=None).llm.tiers
    used = {model for tier in tiers.values() for model in tier.models} | {
        "gpt-4o-mini",
        "text-embedding-3-small",
        "omni-moderation-latest",
        "use-m3-512",
        "offline-composer",
    }
    assert used <= set(table.models())
    mini = table.price_at("gpt-4o-mini", datetime(2026, 3, 1, tzinfo=UTC))
    assert mini == PriceRow(
        "gpt-4o-mini", date(2026, 1, 1), Decimal("0.15"), Decimal("0.60"), Decimal("0.075")
    )
    assert table.price_at("gpt-4.1", datetime(2026, 3, 1)).cached_per_million == Decimal("0.50")
    assert load_price_table() is table  # cached
    assert load_price_table(PACKAGED_PRICES) is table


def test_rows_apply_from_their_date_and_snapshot_names_find_their_model():
    table = parse_price_table(
        _table(
            ("m", "2026-01-01", "1", "2", "0.5"),
            ("m", "2026-06-01", "3", "4", "1"),
        )
    )
    assert table.price_at("m", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) is None
    assert table.price_at("m", datetime(2026, 5, 31, 23, 59, tzinfo=UTC)).input_per_million == 1
    assert table.price_at("m", datetime(2026, 6, 1, tzinfo=UTC)).input_per_million == 3
    assert table.price_at("m", date(2026, 6, 1)).effective_from == date(2026, 6, 1)
    assert table.price_at("m-2026-07-01", datetime(2026, 7, 2)).effective_from == date(2026, 6, 1)
    assert table.price_at("other", datetime(2026, 7, 2)) is None
    assert table.cost("other", datetime(2026, 7, 2), 1000, 1000) == 0
    # 1,000 in (100 of them cached) + 10 out at the June row: (900*3 + 100*1 + 10*4) / 1e6
    assert table.cost("m", datetime(2026, 7, 1), 1000, 10, 100) == Decimal("0.00284000")


def test_costs_are_quantized_half_up_to_the_ledgers_scale():
    table = parse_price_table(_table(("m", "2026-01-01", "0.075", "0", "0.075")))
    assert table.cost("m", datetime(2026, 2, 1), 1, 0) == Decimal("0.00000008")
    assert table.cost("m", datetime(2026, 2, 1), 3, 0) == Decimal("0.00000023")  # 0.225
    assert str(table.cost("m", datetime(2026, 2, 1), 0, 0)) == "0E-8"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_table(("m", "2026-01-01", "1", "1", "1"), ("m", "2026-01-01", "2", "2", "2")), "two"),
        (_table(("m", "2026-01-01", "-1", "1", "1")), ">= 0"),
        (_table(("m", '"soon"', "1", "1", "1")), "date"),
        (
            'currency = "EUR"\n'
            + ROW.format(model="m", day="2026-01-01", input=1, output=1, cached=1),
            "USD",
        ),
        ("[[prices]]\nmodel = 'm'\neffective_from = 2026-01-01\n", "input_per_million"),
        ("not toml = = 1", "prices"),
        ('currency = "USD"\n', "no ..prices.. rows"),
    ],
)
def test_an_invalid_table_is_refused_with_the_reason(content, message):
    with pytest.raises(PricesInvalid, match=message):
        parse_price_table(content)


def test_cached_rate_defaults_to_the_input_rate():
    table = parse_price_table(
        "[[prices]]\nmodel = 'm'\neffective_from = 2026-01-01\ninput_per_million = 1.5\n"
    )
    [row] = table.rows()
    assert row.cached_per_million == row.input_per_million == Decimal("1.5")
    assert row.output_per_million == 0


def test_a_prices_file_setting_points_at_another_table(tmp_path, monkeypatch):
    path = tmp_path / "prices.toml"
    path.write_text(_table(("gpt-4o-mini", "2026-01-01", "1", "1", "1")))
    monkeypatch.setenv("WELLCOACH_COSTS__PRICES_FILE", str(path))
    assert Settings(_env_file=None).costs.prices_file == path
    assert load_price_table(path).rows()[0].input_per_million == 1
    with pytest.raises(PricesInvalid):
        load_price_table(tmp_path / "missing.toml")


async def test_a_price_change_mid_period_prices_later_rows_only(db_session, platform, tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(
        _table(
            ("gpt-4.1", "2026-01-01", "2", "8", "0.5"),
            ("gpt-4.1", "2026-03-15", "1", "4", "0.25"),  # a price cut mid-March
        )
    )
    table = load_price_table(path)
    user = await create_user(db_session, platform)
    usage = Usage("openai", "gpt-4.1", "chat", tokens_in=1000, tokens_out=500, tokens_cached=200)
    for when in (datetime(2026, 3, 14, 23, 59, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC)):
        await ledger.add(db_session, LedgerRow.of(usage, table, user_id=user.id, created_at=when))
    rows = list(
        await db_session.scalars(
            select(LlmCall).where(LlmCall.user_id == user.id).order_by(LlmCall.created_at)
        )
    )
    # (800*2 + 200*0.5 + 500*8) / 1e6, then (800*1 + 200*0.25 + 500*4) / 1e6
    assert [row.cost_usd for row in rows] == [Decimal("0.0057"), Decimal("0.00285")]
    assert [row.price_effective_from for row in rows] == [date(2026, 1, 1), date(2026, 3, 15)]


async def test_a_new_price_row_reprices_only_the_calls_after_it(
    settings, platform, app, db_session, fake_openai, tmp_path, kb
):
    """Through the HTTP API: a turn, a price change effective today, another turn. The
    first row keeps its price; the second is priced by the new row."""
    fake_openai.reset()
    path = tmp_path / "prices.toml"
    shipped = PACKAGED_PRICES.read_text(encoding="utf-8")
    path.write_text(shipped)
    llm = LlmSettings(provider="openai", max_retries=0, moderation=False)
    configured = with_model(
        settings, fake_openai.base_url, llm, costs=CostSettings(prices_file=path)
    )
    application = create_app(configured, platform.with_settings(configured), units=app.state.units)
    async with make_client(application) as http:
        user = await create_user(db_session, platform)
        headers = bearer(await login(http, user.email))
        session_id = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]

        async def say(content: str) -> None:
            response = await http.post(
                f"/v1/chat/sessions/{session_id}/messages",
                json={"content": content},
                headers=headers,
            )
            assert response.status_code == 200, response.text

        await say("my heart races before my matches")
        today = datetime.now(UTC).date()
        path.write_text(
            shipped + ROW.format(model="gpt-4o-mini", day=today, input=30, output=60, cached=15)
        )
        os.utime(path, ns=(Path(path).stat().st_mtime_ns + 10**9,) * 2)
        await say("and how do I calm down at half time")

    first, second = list(
        await db_session.scalars(
            select(LlmCall)
            .where(LlmCall.user_id == user.id, LlmCall.purpose == "chat")
            .order_by(LlmCall.created_at)
        )
    )
    assert first.price_effective_from == date(2026, 1, 1)
    assert first.cost_usd == (
        (first.tokens_in * Decimal("0.15") + first.tokens_out * Decimal("0.6")) / 10**6
    ).quantize(Decimal("1e-8"), ROUND_HALF_UP)
    assert second.price_effective_from == today
    assert second.cost_usd == (
        (second.tokens_in * 30 + second.tokens_out * 60) / Decimal(10**6)
    ).quantize(Decimal("1e-8"), ROUND_HALF_UP)
    assert isinstance(load_price_table(path), PriceTable)
