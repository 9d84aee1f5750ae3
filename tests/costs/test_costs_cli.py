"""`wellcoach costs report|prices` as finance runs them.

Hand-made ledger rows (fixed times in a period nothing else writes to: two tiers and a
third, a team, cache hits, a routed call, a failed attempt and its estimated fallback, an
unpriced model, a call without a user, rows just outside the period) are committed, the
CLI runs on its own connections, and every `--by` in every format is checked against
figures computed by hand. Then real chat turns through the HTTP API, and the report of
today lists their calls with their cost.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli
from tests.support.clients import make_client
from tests.support.factories import bearer, login
from tests.support.realtime import committed_user
from tests.support.services import with_model
from wellcoach.config import LlmSettings, get_settings
from wellcoach.costs.reports import report_pseudonym
from wellcoach.models import LlmCall

runner = CliRunner()
FIRST, LAST = "2026-02-27", "2026-03-03"

PRICES = """
currency = "USD"
unit = "per_million_tokens"

[[prices]]
model = "gpt-4o-mini"
effective_from = 2026-01-01
input_per_million = 0.15
output_per_million = 0.60
cached_per_million = 0.075

[[prices]]
model = "gpt-4.1-mini"
effective_from = 2026-01-01
input_per_million = 0.40
output_per_million = 1.60
cached_per_million = 0.10

[[prices]]
model = "gpt-4.1"
effective_from = 2026-01-01
input_per_million = 2.00
output_per_million = 8.00
cached_per_million = 0.50

[[prices]]
model = "text-embedding-3-small"
effective_from = 2026-01-01
input_per_million = 0.02

[[prices]]
model = "omni-moderation-latest"
effective_from = 2026-01-01
input_per_million = 0

[[prices]]
model = "use-m3-512"
effective_from = 2026-01-01
input_per_million = 0

[[prices]]
model = "offline-composer"
effective_from = 2026-01-01
input_per_million = 0
"""


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def ledger(users: dict[str, uuid.UUID]) -> list[LlmCall]:
    """A premium user in team Lions, B free without a team, C team tier in Lions."""
    a, b, c = users["A"], users["B"], users["C"]
    m5 = uuid.uuid4()

    def call(when: datetime, user: uuid.UUID | None, purpose: str, model: str, **more) -> LlmCall:
        tier = {a: "premium", b: "free", c: "team"}.get(user)  # type: ignore[arg-type]
        fields = {
            "provider": "openai",
            "tokens_in": 0,
            "tokens_out": 0,
            "tokens_cached": 0,
            "tokens_estimated": False,
            "cost_usd": Decimal(0),
            "saved_usd": Decimal(0),
            "cache_hit": False,
            "latency_ms": 100,
            "status": "ok",
            "team": "Lions" if user in (a, c) else None,
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

    mini, top = "gpt-4o-mini", "gpt-4.1"
    return [
        # a chat call routed down from the tier's top model
        call(at(2026, 2, 27, 10), a, "chat", mini, tokens_in=1000, tokens_out=200,
             cost_usd=Decimal("0.00027"), routed_from="gpt-4.1-mini"),
        call(at(2026, 2, 27, 10), a, "retrieval", "use-m3-512", provider="offline", tokens_in=12),
        # 1,024 prompt tokens from the provider's cache: 976 × 0.15 + 1024 × 0.075 + 400 × 0.6
        call(at(2026, 2, 28, 9), b, "chat", mini, tokens_in=2000, tokens_out=400,
             tokens_cached=1024, cost_usd=Decimal("0.0004632")),
        call(at(2026, 2, 28, 9, 5), b, "chat", mini, cache_hit=True, saved_usd=Decimal("0.00027")),
        call(at(2026, 2, 28, 10), b, "chat", "offline-composer", provider="offline"),
        call(at(2026, 3, 1, 23, 59, 59), c, "chat", top, tokens_in=3000, tokens_out=500,
             cost_usd=Decimal("0.01")),
        # a failed attempt, then the fallback that answered the same message (estimated)
        call(at(2026, 3, 2, 8), c, "chat", top, status="error", error_code="upstream_timeout",
             message_id=m5),
        call(at(2026, 3, 2, 8, 0, 5), c, "chat", mini, tokens_in=3000, tokens_out=500,
             tokens_estimated=True, cost_usd=Decimal("0.00075"), routed_from=top, message_id=m5),
        call(at(2026, 3, 2, 9), c, "chat", "mystery-model", tokens_in=100, tokens_out=10),
        call(at(2026, 3, 3, 12), None, "kb_ingest", "text-embedding-3-small", tokens_in=50000,
             cost_usd=Decimal("0.001")),
        call(at(2026, 3, 3, 13), a, "session_summary", mini, tokens_in=800, tokens_out=100,
             cost_usd=Decimal("0.00018")),
        call(at(2026, 3, 3, 13), a, "moderation", "omni-moderation-latest", tokens_in=20),
        # just outside the period, on both sides
        call(datetime(2026, 2, 26, 23, 59, 59, 999999, tzinfo=UTC), a, "chat", mini,
             tokens_in=9, cost_usd=Decimal("1")),
        call(at(2026, 3, 4), b, "chat", mini, tokens_in=9, cost_usd=Decimal("1")),
    ]  # fmt: skip


# Each line: key; calls, messages, active users; tokens in, out, cached; cost, cache
# savings, routing savings (on gpt-4.1: 2 / 8 / 0.5 per million tokens), per message, per
# active user (USD, 8 decimals in the output). Two spaces end the key.
EXPECTED = {
    "day": """
        2026-02-27  2 1 1  1012 200 0  .00027 0 .00333 .00027 .00027
        2026-02-28  3 3 1  2000 400 1024  .0004632 .00027 .0052008 .0001544 .0004632
        2026-03-01  1 1 1  3000 500 0  .01 0 0 .01 .01
        2026-03-02  3 2 1  3100 510 0  .00075 0 .00953 .000375 .00075
        2026-03-03  3 0 1  50820 100 0  .00118 0 0 0 .00118
    """,
    "week": """
        2026-W09  6 5 3  6012 1100 1024  .0107332 .00027 .0085308 .00214664 .00357773
        2026-W10  6 2 2  53920 610 0  .00193 0 .00953 .000965 .000965
    """,
    "month": """
        2026-02  5 4 2  3012 600 1024  .0007332 .00027 .0085308 .0001833 .0003666
        2026-03  7 3 2  56920 1110 0  .01193 0 .00953 .00397667 .005965
    """,
    "model": """
        gpt-4.1                 2 1 1  3000 500 0  .01 0 0 .01 .01
        gpt-4o-mini             5 4 3  6800 1200 1024  .0016632 .00027 .0177808 .0004158 .0005544
        text-embedding-3-small  1 0 0  50000 0 0  .001 0 0 0 0
        mystery-model           1 1 1  100 10 0  0 0 .00028 0 0
        offline-composer        1 1 1  0 0 0  0 0 0 0 0
        omni-moderation-latest  1 0 1  20 0 0  0 0 0 0 0
        use-m3-512              1 0 1  12 0 0  0 0 0 0 0
    """,
    "tier": """
        team     4 3 1  6100 1010 0  .01075 0 .00953 .00358333 .01075
        (none)   1 0 0  50000 0 0  .001 0 0 0 0
        free     3 3 1  2000 400 1024  .0004632 .00027 .0052008 .0001544 .0004632
        premium  4 1 1  1832 300 0  .00045 0 .00333 .00045 .00045
    """,
    # the users of the tiers above, under their pseudonyms ("C" stands for C's)
    "user": """
        C          4 3 1  6100 1010 0  .01075 0 .00953 .00358333 .01075
        (no user)  1 0 0  50000 0 0  .001 0 0 0 0
        B          3 3 1  2000 400 1024  .0004632 .00027 .0052008 .0001544 .0004632
        A          4 1 1  1832 300 0  .00045 0 .00333 .00045 .00045
    """,
    "purpose": """
        chat             8 7 3  9100 1610 1024  .0114832 .00027 .0180608 .00164046 .00382773
        kb_ingest        1 0 0  50000 0 0  .001 0 0 0 0
        session_summary  1 0 1  800 100 0  .00018 0 0 0 .00018
        moderation       1 0 1  20 0 0  0 0 0 0 0
        retrieval        1 0 1  12 0 0  0 0 0 0 0
    """,
    "team": """
        Lions      8 4 2  7932 1310 0  .0112 0 .01286 .0028 .0056
        (no team)  4 3 1  52000 400 1024  .0014632 .00027 .0052008 .00048773 .0014632
    """,
}
TOTALS = "total  12 7 3  59932 1710 1024  .0126632 .00027 .0180608 .00180903 .00422107"

FIELDS = (
    "key",
    "calls",
    "messages",
    "active_users",
    "tokens_in",
    "tokens_out",
    "tokens_cached",
    "cost_usd",
    "cache_savings_usd",
    "routing_savings_usd",
    "avg_cost_per_message_usd",
    "avg_cost_per_active_user_usd",
)
Z = "0.00000000"
# $2,800 a month: 2 days of February (2/28) and 3 of March (3/31) = 14,600/31 over 3 users
INFRASTRUCTURE = "156.98924731"


async def run(*args: str):
    """The CLI runs its own event loop: in a thread, beside the test's."""
    return await asyncio.to_thread(runner.invoke, cli, list(args))


@pytest.fixture
def finance_env(cli_env, monkeypatch, tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICES)
    monkeypatch.setenv("WELLCOACH_COSTS__PRICES_FILE", str(prices))
    monkeypatch.setenv("WELLCOACH_COSTS__MONTHLY_INFRASTRUCTURE_USD", "2800")
    get_settings.cache_clear()
    yield


@pytest.fixture
async def committed_ledger(platform) -> AsyncIterator[dict[str, str]]:
    """The rows, committed (the CLI reads on its own connections), deleted after; the
    names of the users as reports show them."""
    users = {name: uuid.uuid4() for name in "ABC"}
    rows = ledger(users)
    async with platform.unit_of_work() as session:
        session.add_all(rows)
    pseudonym = report_pseudonym(platform.vault.keyring.current)
    try:
        yield {name: pseudonym(user_id) for name, user_id in users.items()}
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(LlmCall).where(LlmCall.id.in_([r.id for r in rows])))
            # the daily roll-up the insert trigger kept for these days
            await session.execute(
                text("DELETE FROM llm_spend_daily WHERE day BETWEEN :first AND :last"),
                {"first": date(2026, 2, 26), "last": date(2026, 3, 4)},
            )


def parse(line: str, names: dict[str, str] | None = None) -> tuple:
    """A line of `EXPECTED` as the report's values: counts as ints, money as strings."""
    key, rest = re.split(r"\s{2,}", line.strip(), maxsplit=1)  # keys may hold a space
    values = rest.split()
    counts = [int(value) for value in values[:6]]
    money = [f"{Decimal(value):.8f}" for value in values[6:]]
    return ((names or {}).get(key, key), *counts, *money)


def expected_rows(by: str, names: dict[str, str]) -> list[tuple]:
    return [parse(line, names) for line in EXPECTED[by].strip().splitlines()]


def as_dict(row: tuple) -> dict:
    return dict(zip(FIELDS, row, strict=True))


def table_cells(output: str) -> dict[str, list[list[str]]]:
    """Each line of the report's tables by its first cell: [usage cells, cost cells, ...]."""
    found: dict[str, list[list[str]]] = {}
    for line in output.splitlines():
        if "│" not in line:
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        found.setdefault(cells[0], []).append(cells[1:])
    return found


@pytest.mark.parametrize("by", list(EXPECTED))
async def test_every_grouping_in_every_format(by, finance_env, committed_ledger, tmp_path):
    names = committed_ledger
    expected = expected_rows(by, names)
    period = ("costs", "report", "--from", FIRST, "--to", LAST, "--by", by)

    as_json = await run(*period, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert list(report) == [
        "currency",
        "start",
        "end",
        "by",
        "rows",
        "totals",
        "top_users",
        "infrastructure_per_active_user_usd",
        "daily_budget_usd",
        "unpriced_models",
    ]
    assert (report["currency"], report["start"], report["end"], report["by"]) == (
        "USD",
        FIRST,
        LAST,
        by,
    )
    assert report["rows"] == [as_dict(row) for row in expected]
    assert report["totals"] == as_dict(parse(TOTALS))
    assert report["top_users"] == [
        {"user": names["C"], "cost_usd": "0.01075000", "calls": 4},
        {"user": names["B"], "cost_usd": "0.00046320", "calls": 3},
        {"user": names["A"], "cost_usd": "0.00045000", "calls": 4},
    ]
    assert report["infrastructure_per_active_user_usd"] == INFRASTRUCTURE
    assert report["daily_budget_usd"] == "500.00000000"
    assert report["unpriced_models"] == ["mystery-model"]

    as_csv = await run(*period, "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    lines = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert lines[0] == [by, *FIELDS[1:]]
    assert lines[1:] == [[str(value) for value in row] for row in expected]

    out = tmp_path / "report.txt"
    as_table = await run(*period, "--out", str(out))
    assert as_table.exit_code == 0, as_table.output
    assert f"wrote the table report to {out}" in as_table.stderr
    cells = table_cells(out.read_text())
    for row in [*expected, parse(TOTALS)]:
        usage, money = cells[row[0]][:2]
        assert usage == [f"{value:,}" for value in row[1:7]], row[0]
        assert money == list(row[7:]), row[0]
    assert cells[names["C"]][-1] == ["0.01075000", "4"]  # the top users' table


async def test_the_terminal_table_top_n_and_writing_json_to_a_file(
    finance_env, committed_ledger, tmp_path
):
    names = committed_ledger
    shown = await run(
        "costs", "report", "--from", FIRST, "--to", LAST, "--by", "tier", "--top", "1"
    )
    assert shown.exit_code == 0, shown.output
    for words in ("LLM usage", "LLM cost", "total", "team", "saved by routing", "mystery-model"):
        assert words in shown.stdout
    assert names["C"] in shown.stdout and names["B"] not in shown.stdout

    out = tmp_path / "finance.json"
    written = await run(
        "costs", "report", "--from", FIRST, "--to", LAST, "--by", "month",
        "--format", "json", "--out", str(out), "--top", "0",
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    assert written.stdout == ""
    report = json.loads(out.read_text())
    assert [row["key"] for row in report["rows"]] == ["2026-02", "2026-03"]
    assert report["top_users"] == []


async def test_a_period_without_calls_lists_its_days_at_zero(finance_env, committed_ledger):
    result = await run(
        "costs", "report", "--from", "2026-02-10", "--to", "2026-02-12", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(row["key"], row["calls"], row["cost_usd"]) for row in report["rows"]] == [
        ("2026-02-10", 0, Z),
        ("2026-02-11", 0, Z),
        ("2026-02-12", 0, Z),
    ]
    assert report["totals"]["calls"] == 0
    assert report["infrastructure_per_active_user_usd"] == Z  # nobody to share it


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--from", "2026-13-01", "--to", "2026-03-03"), "invalid_date"),
        (("--from", "yesterday", "--to", "today"), "invalid_date"),
        (("--from", "20260301", "--to", "2026-03-03"), "invalid_date"),
        (("--from", "2026-03-04", "--to", "2026-03-03"), "invalid_period"),
        (("--from", "today", "--to", "today", "--by", "hour"), "unknown_grouping"),
        (("--from", "today", "--to", "today", "--format", "xml"), "unknown_format"),
        (("--from", "today", "--to", "today", "--top", "-1"), "invalid_input"),
    ],
)
def test_bad_options_are_one_line_errors(cli_env, args, code):
    result = runner.invoke(cli, ["costs", "report", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error [{code}]"), result.stderr


def test_prices_shows_the_table_in_force(finance_env):
    shown = runner.invoke(cli, ["costs", "prices", "--json"])
    assert shown.exit_code == 0, shown.output
    prices = json.loads(shown.stdout)
    assert prices["currency"] == "USD"
    assert prices["prices"][0] == {
        "model": "gpt-4.1",
        "effective_from": "2026-01-01",
        "input_per_million": "2.00",
        "output_per_million": "8.00",
        "cached_per_million": "0.50",
    }
    assert {row["model"] for row in prices["prices"]} >= {"gpt-4o-mini", "offline-composer"}
    table = runner.invoke(cli, ["costs", "prices"])
    assert table.exit_code == 0 and "gpt-4o-mini" in table.stdout and "0.075" in table.stdout


async def say(client, headers: dict, session_id: str, content: str) -> None:
    response = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json={"content": content}, headers=headers
    )
    assert response.status_code == 200, response.text


async def chat(application, email: str, questions: list[str]) -> None:
    async with make_client(application) as client:
        headers = bearer(await login(client, email))
        session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
        for question in questions:
            await say(client, headers, session_id, question)


async def test_tried_as_finance_would(cli_env, settings, platform, fake_openai):
    """A few real chat turns (the offline provider, then a model behind the OpenAI API)
    committed as in production; today's report by model lists their calls and cost."""
    offline_user, offline_email = await committed_user(platform)
    model_user, model_email = await committed_user(platform)
    try:
        await chat(
            create_app(settings, platform),
            offline_email,
            ["my heart is pounding before matches, how do I calm down?", "and sleep?"],
        )
        fake_openai.reset()
        llm = LlmSettings(provider="openai", request_timeout_seconds=2.0, max_retries=0)
        configured = with_model(settings, fake_openai.base_url, llm)
        await chat(
            create_app(configured, platform.with_settings(configured)),
            model_email,
            ["how do I stay focused in the last minutes of a game?"],
        )

        result = await run(
            "costs", "report", "--from", "today", "--to", "today", "--by", "model",
            "--format", "json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        today = datetime.now(UTC).date().isoformat()
        assert (report["start"], report["end"]) == (today, today)
        by_model = {row["key"]: row for row in report["rows"]}
        async with platform.unit_of_work() as session:
            ours = dict(
                (
                    await session.execute(
                        select(LlmCall.model, func.count())
                        .where(LlmCall.user_id.in_([offline_user, model_user]))
                        .group_by(LlmCall.model)
                    )
                ).all()
            )
            ledger_today = {
                model: (calls, f"{cost:.8f}")
                for model, calls, cost in await session.execute(
                    select(LlmCall.model, func.count(), func.sum(LlmCall.cost_usd))
                    .where(func.timezone("UTC", LlmCall.created_at) >= date.fromisoformat(today))
                    .group_by(LlmCall.model)
                )
            }
        # two offline answers, one from the model; a query embedding for each turn
        assert ours["offline-composer"] == 2 and ours["gpt-4o-mini"] == 1
        assert ours["use-m3-512"] >= 3
        for model, calls in ours.items():
            assert by_model[model]["calls"] >= calls
        # the report is the ledger of today, call for call and cent for cent
        assert {key: (row["calls"], row["cost_usd"]) for key, row in by_model.items()} == (
            ledger_today
        )
        assert Decimal(by_model["gpt-4o-mini"]["cost_usd"]) > 0
        assert by_model["offline-composer"]["cost_usd"] == Z
        assert report["totals"]["messages"] >= 3 and report["totals"]["active_users"] >= 2

        as_csv = await run(
            "costs", "report", "--from", "today", "--to", "today", "--by", "model",
            "--format", "csv",
        )  # fmt: skip
        assert as_csv.exit_code == 0, as_csv.output
        header, *lines = list(csv.reader(io.StringIO(as_csv.stdout)))
        assert header == ["model", *FIELDS[1:]]
        assert {line[0] for line in lines} == set(by_model)
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(
                delete(LlmCall).where(LlmCall.user_id.in_([offline_user, model_user]))
            )
