"""The cost ledger: one priced row per LLM, embedding and moderation call, for each
purpose (chat through the real HTTP API and the real `openai` client against the
loopback OpenAI-compatible server; summaries; retrieval; knowledge-base ingest), with
exact decimal costs, cached prompt tokens at the cached rate, and counts made here when
a server reports no usage."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from api.main import create_app
from tests.doubles.openai_server import FakeOpenAIServer, content_text, default_reply
from tests.support.clients import make_client
from tests.support.data import KB_SMALL
from tests.support.factories import bearer, create_user, login
from tests.support.services import with_model
from wellcoach.chat.summaries import write_model_summary
from wellcoach.config import LlmSettings
from wellcoach.costs import repository as ledger
from wellcoach.costs import tokens
from wellcoach.costs.ledger import LedgerRow, Usage
from wellcoach.costs.pricing import load_price_table
from wellcoach.models import LlmCall
from wellcoach.models.enums import Tier
from wellcoach.rag.embedders import OpenAIEmbedder
from wellcoach.rag.ingest import ingest
from wellcoach.rag.retrieval import SearchFilters
from wellcoach.rag.service import search_kb

MILLION = Decimal(1_000_000)
FIRST_PRICES = date(2026, 1, 1)


class UsageServer(FakeOpenAIServer):
    """The test double, with the usage its chat streams report changed: prompt-cache
    hits (`cached_tokens`), or no usage at all (as some compatible servers do)."""

    cached_tokens = 0
    report_usage = True

    async def _asgi(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            await super()._asgi(scope, receive, send)
            return

        async def rewrite(message: dict) -> None:
            body = message.get("body", b"")
            if message["type"] == "http.response.body" and b'"prompt_tokens"' in body:
                if not self.report_usage:
                    message = {**message, "body": b""}
                else:
                    cached = f'"cached_tokens": {self.cached_tokens}'.encode()
                    message = {**message, "body": body.replace(b'"cached_tokens": 0', cached)}
            await send(message)

        await super()._asgi(scope, receive, rewrite)


@pytest.fixture(scope="module")
def fake_openai():
    with UsageServer() as server:
        yield server


@pytest.fixture
def configured(settings, fake_openai):
    fake_openai.reset()
    fake_openai.cached_tokens, fake_openai.report_usage = 0, True
    llm = LlmSettings(provider="openai", request_timeout_seconds=2.0, max_retries=0)
    return with_model(settings, fake_openai.base_url, llm)


@pytest.fixture
async def http(configured, platform, app):
    application = create_app(configured, platform.with_settings(configured), units=app.state.units)
    async with make_client(application) as client:
        yield client


async def _turn(http, db_session, platform, content: str, **fields):
    user = await create_user(db_session, platform, **fields)
    headers = bearer(await login(http, user.email))
    session_id = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
    response = await http.post(
        f"/v1/chat/sessions/{session_id}/messages", json={"content": content}, headers=headers
    )
    assert response.status_code == 200, response.text
    return user, session_id, response.json()


async def _rows(db_session, **where) -> list[LlmCall]:
    query = select(LlmCall).order_by(LlmCall.created_at)
    for column, value in where.items():
        query = query.where(getattr(LlmCall, column) == value)
    return list(await db_session.scalars(query))


def _words(text_: str) -> int:
    return len(text_.split())  # the test double's token count


def _prompt_words(request) -> int:
    return sum(_words(content_text(m.get("content"))) for m in request.messages)


async def test_a_chat_turn_writes_a_priced_row_per_call(
    http, db_session, platform, fake_openai, kb
):
    user, session_id, turn = await _turn(
        http, db_session, platform, "my heart races before my matches", team="Rovers"
    )
    assert turn["reply"]["metadata"]["model_used"] == "gpt-4o-mini"
    rows = await _rows(db_session, user_id=user.id)
    by_purpose = {row.purpose: row for row in rows}
    assert sorted(row.purpose for row in rows) == ["chat", "moderation", "retrieval"]
    assert {row.team for row in rows} == {"Rovers"} and {row.tier for row in rows} == {"free"}

    chat = by_purpose["chat"]
    request = fake_openai.requests_for("chat/completions")[-1]
    assert request.body["stream_options"] == {"include_usage": True}
    tokens_in = _prompt_words(request)
    tokens_out = _words(default_reply("gpt-4o-mini", request.messages))
    assert (chat.tokens_in, chat.tokens_out, chat.tokens_cached) == (tokens_in, tokens_out, 0)
    assert chat.tokens_estimated is False
    expected = (tokens_in * Decimal("0.15") + tokens_out * Decimal("0.60")) / MILLION
    assert chat.cost_usd == expected.quantize(Decimal("1e-8"), ROUND_HALF_UP)
    assert chat.price_effective_from == FIRST_PRICES
    assert chat.provider == "openai" and chat.status == "ok" and chat.routed_from is None
    assert str(chat.session_id) == session_id and chat.message_id is not None

    moderation = by_purpose["moderation"]
    assert (moderation.provider, moderation.model) == ("openai", "omni-moderation-latest")
    assert moderation.cost_usd == 0 and moderation.tokens_in > 0
    assert moderation.price_effective_from == FIRST_PRICES

    retrieval = by_purpose["retrieval"]
    assert (retrieval.provider, retrieval.model) == ("offline", "use-m3-512")
    assert retrieval.tokens_in == tokens.count_text("my heart races before my matches")
    assert retrieval.tokens_estimated is True and retrieval.cost_usd == 0
    assert retrieval.session_id is None


async def test_cached_prompt_tokens_are_priced_at_the_cached_rate(
    http, db_session, platform, fake_openai, kb
):
    fake_openai.cached_tokens = 9
    user, _, _ = await _turn(http, db_session, platform, "how should I sleep before a big race")
    [chat] = await _rows(db_session, user_id=user.id, purpose="chat")
    request = fake_openai.requests_for("chat/completions")[-1]
    tokens_in = _prompt_words(request)
    assert chat.tokens_in == tokens_in and chat.tokens_cached == 9
    expected = (
        (tokens_in - 9) * Decimal("0.15") + 9 * Decimal("0.075") + chat.tokens_out * Decimal("0.6")
    ) / MILLION
    assert chat.cost_usd == expected.quantize(Decimal("1e-8"), ROUND_HALF_UP)
    uncached = (tokens_in * Decimal("0.15") + chat.tokens_out * Decimal("0.6")) / MILLION
    assert chat.cost_usd < uncached


async def test_a_server_without_usage_gets_counts_made_here_marked_estimated(
    http, db_session, platform, fake_openai, kb
):
    fake_openai.report_usage = False
    user, _, _ = await _turn(http, db_session, platform, "what do I eat the night before a game")
    [chat] = await _rows(db_session, user_id=user.id, purpose="chat")
    request = fake_openai.requests_for("chat/completions")[-1]
    reply = default_reply("gpt-4o-mini", request.messages)
    assert chat.tokens_estimated is True and chat.tokens_cached == 0
    assert chat.tokens_in == tokens.count_messages(request.messages)
    assert chat.tokens_out == tokens.count_text(reply)
    assert chat.cost_usd == load_price_table().cost(
        "gpt-4o-mini", chat.created_at, chat.tokens_in, chat.tokens_out
    )


def test_local_counts_use_the_shipped_encoding_offline():
    encoding = tokens.encoding()
    assert encoding is not None and encoding.name == "cl100k_base"
    # known cl100k_base counts
    assert tokens.count_text("hello world") == 2
    assert tokens.count_text("Ciao, come stai?") == len(
        encoding.encode_ordinary("Ciao, come stai?")
    )
    assert tokens.count_messages([{"role": "user", "content": "hello world"}]) == 2 + 3 + 3


async def test_a_session_summary_is_a_ledger_row(http, configured, db_session, platform, kb):
    user, session_id, _ = await _turn(
        http, db_session, platform, "my heart races before my matches", tier=Tier.premium
    )
    services = platform.with_settings(configured)
    outcome, _ = await write_model_summary(db_session, services, user.id, session_id)
    assert outcome == "stored"
    [row] = await _rows(db_session, user_id=user.id, purpose="session_summary")
    assert (
        row.model == "gpt-4o-mini" and row.tier == "premium" and str(row.session_id) == session_id
    )
    assert row.cost_usd == (
        (row.tokens_in * Decimal("0.15") + row.tokens_out * Decimal("0.6")) / MILLION
    ).quantize(Decimal("1e-8"), ROUND_HALF_UP)
    assert row.cost_usd > 0 and row.price_effective_from == FIRST_PRICES


async def test_a_knowledge_base_search_is_a_retrieval_row(configured, db_session, platform, kb):
    user = await create_user(db_session, platform, team="Harriers")
    await search_kb(
        db_session,
        platform.embedder,
        configured,
        "breathing before a match",
        SearchFilters(),
        user_id=user.id,
        tier=user.tier.value,
        team=user.team,
    )
    [row] = await _rows(db_session, user_id=user.id)
    assert (row.purpose, row.model, row.team) == ("retrieval", "use-m3-512", "Harriers")
    assert row.tokens_estimated and row.price_effective_from == FIRST_PRICES


async def test_knowledge_base_ingest_writes_priced_embedding_rows(
    configured, db_session, tmp_path, fake_openai
):
    corpus = tmp_path / "kb"
    shutil.copytree(KB_SMALL, corpus)
    await db_session.execute(text("DELETE FROM kb_documents"))
    before = await db_session.scalar(select(func.count()).select_from(LlmCall))
    embedder = OpenAIEmbedder(configured)
    report = await ingest(db_session, configured, embedder, corpus)
    rows = await _rows(db_session, purpose="kb_ingest", model="text-embedding-3-small")
    assert rows and await db_session.scalar(select(func.count()).select_from(LlmCall)) == (
        before + len(rows)
    )
    sent = sum(
        sum(_words(item) for item in request.body["input"])
        for request in fake_openai.requests_for("embeddings")
    )
    assert sum(row.tokens_in for row in rows) == sent
    assert report.chunks_embedded > 0
    for row in rows:
        assert row.cost_usd == (row.tokens_in * Decimal("0.02") / MILLION).quantize(
            Decimal("1e-8"), ROUND_HALF_UP
        )
        assert row.user_id is None and row.provider == "openai" and not row.tokens_estimated


async def test_costs_are_exact_decimals_and_add_up_exactly(db_session, platform):
    user = await create_user(db_session, platform)
    prices = load_price_table()
    calls = [
        # 1 prompt token of gpt-4o-mini: $0.00000015
        Usage("openai", "gpt-4o-mini", "chat", tokens_in=1),
        # 1 cached token: $0.000000075, rounded half up to 8 places
        Usage("openai", "gpt-4o-mini", "chat", tokens_in=1, tokens_cached=1),
        # 3 output tokens of gpt-4.1: $0.000024
        Usage("openai", "gpt-4.1", "chat", tokens_out=3),
        # 7 embedding tokens: $0.00000014
        Usage("openai", "text-embedding-3-small", "retrieval", tokens_in=7),
        # 333 prompt + 77 reply tokens of gpt-4.1-mini: $0.0001332 + $0.0001232
        Usage("openai", "gpt-4.1-mini", "chat", tokens_in=333, tokens_out=77),
    ]
    expected = [
        Decimal("0.00000015"),
        Decimal("0.00000008"),
        Decimal("0.00002400"),
        Decimal("0.00000014"),
        Decimal("0.00025640"),
    ]
    for usage in calls:
        await ledger.add(db_session, LedgerRow.of(usage, prices, user_id=user.id, tier="team"))
    rows = await _rows(db_session, user_id=user.id)
    assert sorted(row.cost_usd for row in rows) == sorted(expected)
    total = await db_session.scalar(
        select(func.sum(LlmCall.cost_usd)).where(LlmCall.user_id == user.id)
    )
    assert total == sum(expected) == Decimal("0.00028077")


async def test_a_cache_hit_costs_nothing_and_records_what_it_saved(db_session, platform):
    prices = load_price_table()
    hit = Usage("openai", "gpt-4o-mini", "chat", cache_hit=True, tokens_in=100)
    row = LedgerRow.of(hit, prices, saved_usd=Decimal("0.00012"))
    assert row.cost_usd == 0 and row.saved_usd == Decimal("0.00012")
    assert row.price_effective_from == FIRST_PRICES


async def test_an_unknown_model_costs_nothing_and_says_it_was_not_priced(db_session, platform):
    row = LedgerRow.of(Usage("openai", "some-new-model", "chat", tokens_in=50), load_price_table())
    assert row.cost_usd == 0 and row.price_effective_from is None


async def test_every_inserting_statement_adds_to_the_platforms_daily_spend(db_session, platform):
    from wellcoach.costs.budgets import day_start
    from wellcoach.db.base import utcnow

    today = day_start(utcnow()).date()
    before = await ledger.platform_spent(db_session, today)
    prices = load_price_table()
    usage = Usage("openai", "gpt-4.1", "chat", tokens_in=1000, tokens_out=100)
    rows = [LedgerRow.of(usage, prices) for _ in range(3)]
    for row in rows:
        await ledger.add(db_session, row)
    assert await ledger.platform_spent(db_session, today) == before + 3 * Decimal("0.0028")
    # rows deleted (by a purge, or a test's cleanup) leave the day's spend
    await db_session.execute(
        LlmCall.__table__.delete().where(LlmCall.id.in_([row.id for row in rows]))
    )
    assert await ledger.platform_spent(db_session, today) == before


async def test_a_crisis_turn_still_records_its_moderation_call(http, db_session, platform, kb):
    """The deterministic check finds the crisis first; the moderation call already asked
    is a row all the same (answered, or cancelled unanswered)."""
    user, _, turn = await _turn(http, db_session, platform, "i want to end my life tonight")
    assert turn["crisis"] is True
    [moderation] = await _rows(db_session, user_id=user.id, purpose="moderation")
    assert moderation.model == "omni-moderation-latest" and moderation.cost_usd == 0
    assert moderation.status in ("ok", "cancelled")
    [chat] = await _rows(db_session, user_id=user.id, purpose="chat")
    assert chat.cost_usd > 0 and chat.price_effective_from == FIRST_PRICES
