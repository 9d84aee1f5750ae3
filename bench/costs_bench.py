"""Cost reports over a large ledger, and what routing and the cache save in a month.

    python bench/costs_bench.py            # 1,000,000 ledger rows + a month of 10,000 users
    python bench/costs_bench.py --quick    # 100,000 rows + 2,000 users (a smoke run)
    python bench/costs_bench.py --rows N --users N --skip-report --skip-month

Runs on its own embedded PostgreSQL (and Valkey, unused) in a temporary directory,
deleted at the end; talks only to 127.0.0.1 and asserts nothing about timing.

**1. Report time over 1,000,000 ledger rows.** Generates `--rows` rows over 90 UTC days
(2026-09-01 .. 2026-11-29) and COPYs them into `llm_calls` (the roll-up trigger of
migration 0005 runs as in production), then ANALYZE. The mix, per answered message: one
chat call, one query embedding (text-embedding-3-small), one moderation call; a session
summary every 8th message; 1% of chat calls fail once first (a row with status error,
then the fallback on gpt-4o-mini); 20% of chat calls are cache hits. 20,000 users
(70% free, 25% premium, 5% team; team tier users in 100 teams, a third of premium users
in them too), activity Pareto-distributed (a few users send much more), weekdays busier
than weekends. Chat models by tier: free gpt-4o-mini; premium 75% gpt-4o-mini, 25%
gpt-4.1-mini; team 50% gpt-4o-mini, 30% gpt-4.1-mini, 20% gpt-4.1. Prompts 1,300-2,500
tokens (30% of those over 1,500 with 1,024 from the provider's prompt cache), replies
80-450 tokens; every row priced by `PriceTable.cost` at its day. A knowledge-base ingest
(50 embedding calls without a user) every third day. About 3.1 rows per message:
~320,000 messages. Then `cost_report` (the real use case, on the real session) over the
last 30 days (about a third of the rows), for each `--by`: the first run (cold plan and
caches) and the median of the next 3, with the time of its three statements for one
grouping and the plan of the main one.

**2. A simulated month of traffic** (June 2026, 30 days; no database): `--users` users
(70% free, 25% premium, 5% team; 80% English, 20% Italian; one of 8 sports each). Each
day a user is active with probability free 30%, premium 50%, team 70%, and then sends
1 + a geometric number of messages (mean free 3, premium 5, team 6) in one session. Each
message is drawn from a pool of athlete questions in three bands: 55% short ("any quick
tip to relax before a match?"), 33% medium (a situation and a how/why question), 12%
long (several questions, reasoning words); its history is its position in the session.
The model is `wellcoach.llm.routing.route` (complexity × tier × budgets, with each user's
spend of the day and month and the platform's of the day, as production reads them).
Cache (`wellcoach.llm.cache` rules): only a session's first message can be cached (no
history), and only when no mood is attached (70%); 45% of those first messages are one
of 120 frequent questions (Zipf, s = 1.1); the key is question × language × sport ×
model, kept 7 days; a hit costs nothing. Tokens: prompt = 450 (system) + 880 (4
passages) + 90 per earlier turn (at most 6) + the question's words × 1.3; reply 120-450
tokens whatever the model; no provider prompt caching. Besides the chat call, every
message has a query embedding and a moderation call, and a session of 4 or more messages
a summary on gpt-4o-mini (1,500 in, 150 out): the same in every scenario. Printed: cost
per 1,000 messages for always the top model (the report's routing baseline: the dearest
model a tier may use) without cache, the top model with the cache, routing without the
cache, and routing + cache (the platform as configured).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from common import embedded_services  # type: ignore[import-not-found]
from rich.console import Console

from wellcoach.config import Settings
from wellcoach.costs import report_queries
from wellcoach.costs.budgets import Spend
from wellcoach.costs.pricing import PriceTable, load_price_table
from wellcoach.costs.reports import GROUPINGS, cost_report, report_pseudonym, routing_baseline
from wellcoach.llm.routing import complexity, route
from wellcoach.platform import open_platform
from wellcoach.runtime.services import ServiceUrls

console = Console(highlight=False, soft_wrap=True)

LEDGER_FIRST_DAY = date(2026, 9, 1)
LEDGER_DAYS = 90
REPORT_DAYS = 30
COLUMNS = (
    "id", "created_at", "user_id", "tier", "team", "purpose", "provider", "model",
    "routed_from", "tokens_in", "tokens_out", "tokens_cached", "tokens_estimated",
    "cost_usd", "saved_usd", "price_effective_from", "cache_hit", "latency_ms", "status",
    "error_code", "session_id", "message_id", "request_id",
)  # fmt: skip
CHAT_MODELS = {
    "free": (["gpt-4o-mini"], [1.0]),
    "premium": (["gpt-4o-mini", "gpt-4.1-mini"], [0.75, 0.25]),
    "team": (["gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1"], [0.5, 0.3, 0.2]),
}
TIER_TOP = {"free": "gpt-4o-mini", "premium": "gpt-4.1-mini", "team": "gpt-4.1"}


# -- 1. the ledger and the report -----------------------------------------------------------


@dataclass
class Ledger:
    """Prices each call as the ledger does and hands the row to `write` (COPY)."""

    prices: PriceTable
    rng: random.Random
    write: Callable[[tuple[Any, ...]], None]
    rows: int = 0

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def add(self, when: datetime, user: tuple[uuid.UUID, str, str | None] | None,
            purpose: str, model: str, tokens_in: int, tokens_out: int, *,
            cached: int = 0, provider: str = "openai", routed_from: str | None = None,
            cache_hit: bool = False, saved: Decimal = Decimal(0), status: str = "ok",
            message_id: uuid.UUID | None = None, session_id: uuid.UUID | None = None,
            ) -> Decimal:  # fmt: skip
        price = self.prices.price_at(model, when)
        cost = (
            Decimal(0)
            if price is None or cache_hit or status != "ok"
            else price.cost(tokens_in, tokens_out, cached)
        )
        user_id, tier, team = user if user else (None, None, None)
        self.rows += 1
        self.write(
            (
                self.new_id(), when, user_id, tier, team, purpose, provider, model,
                routed_from, tokens_in, tokens_out, cached, False, cost, saved,
                price.effective_from if price else None, cache_hit,
                self.rng.randint(20, 2500), status,
                "upstream_timeout" if status != "ok" else None,
                session_id, message_id, None,
            )
        )  # fmt: skip
        return cost


def make_users(rng: random.Random, count: int) -> list[tuple[uuid.UUID, str, str | None]]:
    users = []
    for i in range(count):
        tier = "free" if i % 20 < 14 else "premium" if i % 20 < 19 else "team"
        team = None
        if tier == "team" or (tier == "premium" and rng.random() < 1 / 3):
            team = f"team-{rng.randrange(100):03d}"
        users.append((uuid.UUID(int=rng.getrandbits(128), version=4), tier, team))
    return users


def generate_ledger(
    target_rows: int, prices: PriceTable, write: Callable[[tuple[Any, ...]], None], seed: int = 7
) -> int:
    """About `target_rows` rows over LEDGER_DAYS days (see the module docstring), each
    handed to `write`; returns how many."""
    rng = random.Random(seed)
    ledger = Ledger(prices, rng, write)
    users = make_users(rng, 20_000)
    weights = [rng.paretovariate(1.5) for _ in users]
    day_weights = [
        1.0 if (LEDGER_FIRST_DAY + timedelta(days=d)).weekday() < 5 else 0.6
        for d in range(LEDGER_DAYS)
    ]
    messages = int(target_rows / 3.135)
    senders = rng.choices(users, weights=weights, k=messages)
    days = rng.choices(range(LEDGER_DAYS), weights=day_weights, k=messages)
    for user, day in zip(senders, days, strict=True):
        when = datetime.combine(
            LEDGER_FIRST_DAY + timedelta(days=day), datetime.min.time(), tzinfo=UTC
        ) + timedelta(seconds=rng.randrange(86_400))
        tier = user[1]
        names, shares = CHAT_MODELS[tier]
        model = rng.choices(names, shares)[0]
        message, session = ledger.new_id(), ledger.new_id()
        tokens_in, tokens_out = rng.randint(1300, 2500), rng.randint(80, 450)
        cached = 1024 if tokens_in > 1500 and rng.random() < 0.3 else 0
        ledger.add(when, user, "retrieval", "text-embedding-3-small", rng.randint(8, 40), 0)
        ledger.add(when, user, "moderation", "omni-moderation-latest", rng.randint(8, 40), 0)
        routed = TIER_TOP[tier] if model != TIER_TOP[tier] else None
        if rng.random() < 0.2:
            saved = prices.cost(model, when, tokens_in, tokens_out, cached)
            ledger.add(when, user, "chat", model, 0, 0, cache_hit=True, saved=saved,
                       routed_from=routed, message_id=message, session_id=session)  # fmt: skip
        else:
            if rng.random() < 0.01:
                ledger.add(when, user, "chat", model, tokens_in, 0, status="error",
                           routed_from=routed, message_id=message, session_id=session)  # fmt: skip
                model, routed = "gpt-4o-mini", TIER_TOP[tier] if tier != "free" else None
            ledger.add(when, user, "chat", model, tokens_in, tokens_out, cached=cached,
                       routed_from=routed, message_id=message, session_id=session)  # fmt: skip
        if rng.random() < 1 / 8:
            summary_in, summary_out = rng.randint(1200, 2000), rng.randint(100, 200)
            ledger.add(when + timedelta(minutes=20), user, "session_summary", "gpt-4o-mini",
                       summary_in, summary_out, session_id=session)  # fmt: skip
    for day in range(0, LEDGER_DAYS, 3):
        when = datetime.combine(
            LEDGER_FIRST_DAY + timedelta(days=day), datetime.min.time(), tzinfo=UTC
        ) + timedelta(hours=3)
        for _ in range(50):
            ledger.add(when, None, "kb_ingest", "text-embedding-3-small", 8000, 0)
    return ledger.rows


def load(libpq_url: str, target_rows: int) -> tuple[int, float, float]:
    """Generate and COPY the ledger in one pass, then VACUUM ANALYZE: (rows, seconds of
    both, seconds of the vacuum)."""
    started = time.perf_counter()
    with psycopg.connect(libpq_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY llm_calls ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            rows = generate_ledger(target_rows, load_price_table(), copy.write_row)
    loaded = time.perf_counter()
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE llm_calls")
    return rows, loaded - started, time.perf_counter() - loaded


def plan_outline(node: dict[str, Any], depth: int = 0) -> list[str]:
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    elif "Relation Name" in node:
        label += f" on {node['Relation Name']}"
    if node.get("Workers Launched"):
        label += f" ({node['Workers Launched']} workers)"
    if "Sort Method" in node:
        label += f" ({node['Sort Method']}, {node.get('Sort Space Used', '?')} kB)"
    lines = [f"{'  ' * depth}{label}  {node.get('Actual Total Time', 0):.0f} ms"]
    for child in node.get("Plans", []):
        lines.extend(plan_outline(child, depth + 1))
    return lines


def explain(libpq_url: str, statement: Any) -> list[str]:
    compiled = statement.compile(dialect=psycopg_dialect())
    with psycopg.connect(libpq_url) as conn:
        conn.execute(f"SET work_mem = '{report_queries.REPORT_WORK_MEM}'")  # as grouped_sums
        found = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled), compiled.params
        ).fetchone()
    assert found is not None
    plan = found[0][0]
    return [*plan_outline(plan["Plan"]), f"execution {plan['Execution Time']:.0f} ms"]


def psycopg_dialect() -> Any:
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    return dialect.dialect()


async def time_reports(settings: Settings, urls: ServiceUrls, libpq_url: str) -> None:
    end = LEDGER_FIRST_DAY + timedelta(days=LEDGER_DAYS - 1)
    start = end - timedelta(days=REPORT_DAYS - 1)
    platform = await open_platform(settings, urls)
    pseudonym = report_pseudonym(platform.vault.keyring.current)
    prices = load_price_table()
    try:
        async with platform.unit_of_work() as session:
            in_range = await report_queries.grouped_sums(
                session, start=start, end=end, by="purpose", baseline=[]
            )
        total = next(s for s in in_range if s.total)
        console.print(
            f"\n[bold]cost_report[/bold] {start} .. {end} ({REPORT_DAYS} days):"
            f" {total.calls:,} rows in range, {total.messages:,} messages,"
            f" {total.active_users:,} active users, cost ${total.cost_usd:,.2f}"
        )
        console.print(f"  {'--by':8} {'groups':>7} {'first run':>10} {'median of 3':>12}")
        for by in GROUPINGS:
            times = []
            for _ in range(4):
                async with platform.unit_of_work() as session:
                    began = time.perf_counter()
                    report = await cost_report(
                        session, settings, start=start, end=end, by=by, pseudonym=pseudonym
                    )
                    times.append(time.perf_counter() - began)
            console.print(
                f"  {by:8} {len(report.rows):>7,} {times[0]:>9.2f}s"
                f" {statistics.median(times[1:]):>11.2f}s"
            )
        console.print(
            f"  totals: cost ${report.totals.cost_usd:,.2f}, cache savings"
            f" ${report.totals.cache_savings_usd:,.2f}, routing savings"
            f" ${report.totals.routing_savings_usd:,.2f}"
        )

        top = routing_baseline(settings, prices, end)
        rates = [
            report_queries.Rate(
                r.effective_from,
                r.input_per_million / 1_000_000,
                r.output_per_million / 1_000_000,
                r.cached_per_million / 1_000_000,
            )
            for r in prices.rows()
            if r.model == top
        ]
        parts = {
            "grouped sums + totals": lambda s: report_queries.grouped_sums(
                s, start=start, end=end, by="user", baseline=rates
            ),
            "top 10 users": lambda s: report_queries.top_spenders(
                s, start=start, end=end, limit=10
            ),
            "models used": lambda s: report_queries.models_first_used(s, start=start, end=end),
        }
        console.print(
            "  its statements, --by user (median of 3; the other groupings also run the"
            " top-users statement, --by user takes them from its groups):"
        )
        for name, run in parts.items():
            times = []
            for _ in range(3):
                async with platform.unit_of_work() as session:
                    began = time.perf_counter()
                    await run(session)
                    times.append(time.perf_counter() - began)
            console.print(f"    {name:24} {statistics.median(times):.3f}s")
        console.print("  plan of the grouped statement, --by day (EXPLAIN ANALYZE):")
        statement = report_queries.grouped_statement(start, end, "day", rates)
        for line in explain(libpq_url, statement):
            console.print(f"    {line}")
    finally:
        await platform.close()


# -- 2. a simulated month -------------------------------------------------------------------

SHORT = [
    "any quick tip to relax before a match?",
    "I feel nervous today",
    "thanks, that helped",
    "how do I sleep better before a race?",
    "can you give me a breathing exercise?",
    "I lost again today and I feel bad",
    "qualche consiglio per rilassarmi prima della gara?",
    "oggi mi sento giù",
    "what should I eat before training?",
    "I can't focus at practice",
]
MEDIUM = [
    "My coach benched me for the second game in a row and I keep replaying my mistakes at "
    "night. How do I stop overthinking and get my confidence back before Saturday?",
    "I have exams and three training sessions a week and I feel exhausted all the time. "
    "How can I plan my week so I still recover?",
    "Before penalties my hands shake and my mind goes blank. Why does this happen and how "
    "do I calm down in the few seconds I have?",
    "Il mio allenatore mi urla contro durante le partite e mi blocco. Come posso gestire "
    "la pressione senza perdere la concentrazione?",
    "I came back from an ankle injury but I'm scared to go full speed in sprints. How do "
    "I trust my body again?",
    "My teammates argue a lot and the mood in the locker room is bad. What can I say to "
    "help without making it worse?",
]
LONG = [
    "I'm a 19 year old swimmer and I've plateaued for eight months. My coach wants more "
    "volume, my physio says I need more rest, and I keep comparing myself to teammates who "
    "improve. Why do I feel stuck even though I train harder, how should I compare the two "
    "approaches, and can you help me plan the next six weeks so that I recover but also "
    "keep my motivation? Also, how do I explain this to my coach because I'm afraid he'll "
    "think I'm lazy?",
    "Ho una finale importante tra due settimane e da quando ho perso la semifinale "
    "dell'anno scorso ho attacchi di ansia. Perché mi succede anche se sono preparata, come "
    "posso costruire una strategia per la settimana prima, e qual è la differenza tra "
    "ansia normale e qualcosa per cui dovrei parlare con un professionista? Tuttavia non "
    "voglio che la squadra lo sappia.",
    "Our team lost five games in a row and as captain I feel responsible. How do I keep "
    "morale up, explain to younger players that losses are part of the process, and plan "
    "team talks that actually help? Why do some speeches backfire, and what's the "
    "difference between pressure and motivation?",
]
BANDS = [(SHORT, 0.55), (MEDIUM, 0.33), (LONG, 0.12)]
ACTIVE = {"free": 0.30, "premium": 0.50, "team": 0.70}
MEAN_MESSAGES = {"free": 3, "premium": 5, "team": 6}
FAQ_COUNT = 120
SPORTS = ["football", "tennis", "swimming", "athletics", "basketball", "volleyball",
          "cycling", "rugby"]  # fmt: skip
MILLION = Decimal(1_000_000)


@dataclass
class UserSpend:
    day: date = date.min
    today: Decimal = Decimal(0)
    month: Decimal = Decimal(0)


@dataclass
class Scenario:
    name: str
    routing: bool
    cache: bool
    chat_usd: Decimal = Decimal(0)
    hits: int = 0
    models: Counter[str] = field(default_factory=Counter)
    degraded: int = 0
    offline: int = 0
    cached_until: dict[tuple, date] = field(default_factory=dict)
    spend: dict[uuid.UUID, UserSpend] = field(default_factory=dict)
    platform_today: Decimal = Decimal(0)


def simulate_month(settings: Settings, users_count: int, seed: int = 11) -> None:
    prices = load_price_table()
    first = date(2026, 6, 1)
    days = [first + timedelta(days=d) for d in range(30)]
    top = routing_baseline(settings, prices, days[-1])
    assert top is not None
    rng = random.Random(seed)
    users = [
        (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            "free" if i % 20 < 14 else "premium" if i % 20 < 19 else "team",
            "it" if rng.random() < 0.2 else "en",
            rng.choice(SPORTS),
        )
        for i in range(users_count)
    ]
    faq_weights = [1 / (rank + 1) ** 1.1 for rank in range(FAQ_COUNT)]
    faq_texts = [rng.choice(rng.choices([b[0] for b in BANDS], [b[1] for b in BANDS])[0])
                 for _ in range(FAQ_COUNT)]  # fmt: skip
    scenarios = [
        Scenario(f"always the top model ({top}), no cache", routing=False, cache=False),
        Scenario(f"always the top model ({top}), cache", routing=False, cache=True),
        Scenario("routing, no cache", routing=True, cache=False),
        Scenario("routing + cache (as configured)", routing=True, cache=True),
    ]
    other_usd = Decimal(0)
    messages = 0
    bands: Counter[str] = Counter()
    cacheable = 0
    for day in days:
        when = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
        for scenario in scenarios:
            scenario.platform_today = Decimal(0)
        for user_id, tier, language, sport in users:
            if rng.random() >= ACTIVE[tier]:
                continue
            count = 1
            while rng.random() < 1 - 1 / MEAN_MESSAGES[tier]:
                count += 1
            for turn in range(count):
                faq = None
                if turn == 0 and rng.random() < 0.45:
                    faq = rng.choices(range(FAQ_COUNT), faq_weights)[0]
                    text = faq_texts[faq]
                else:
                    band = rng.choices(BANDS, [b[1] for b in BANDS])[0][0]
                    text = rng.choice(band)
                can_cache = faq is not None and rng.random() < 0.7  # no mood attached
                cacheable += can_cache
                score = complexity(text, turn)
                bands["< 0.35" if score < 0.35 else "0.35-0.7" if score < 0.7 else ">= 0.7"] += 1
                words = len(text.split())
                tokens_in = 450 + 880 + 90 * min(turn, 6) + int(words * 1.3)
                tokens_out = rng.randint(120, 450)
                messages += 1
                other_usd += prices.cost("text-embedding-3-small", when, int(words * 1.3), 0)
                for scenario in scenarios:
                    simulate_turn(
                        scenario, settings, prices, top, when,
                        (user_id, tier, language, sport), text, turn,
                        tokens_in, tokens_out, faq if can_cache else None,
                    )  # fmt: skip
            if count >= 4:
                other_usd += prices.cost("gpt-4o-mini", when, 1500, 150)
    console.print(
        f"\n[bold]simulated month[/bold] {first} .. {days[-1]}: {users_count:,} users"
        f" ({users_count * 7 // 10:,} free, {users_count // 4:,} premium,"
        f" {users_count // 20:,} team), {messages:,} messages"
        f" ({messages / 30:,.0f} a day)"
    )
    shares = (f"{band} {bands[band] / messages:.0%}" for band in ("< 0.35", "0.35-0.7", ">= 0.7"))
    console.print(
        f"  complexity: {', '.join(shares)}; cacheable (a session's first message, a frequent"
        f" question, no mood) {cacheable / messages:.1%}"
    )
    per_message_other = other_usd
    console.print(
        f"  {'scenario':44} {'chat $':>10} {'all calls $':>12} {'$ / 1,000 msgs':>15}"
        f" {'cache hits':>11}"
    )
    baseline = None
    for scenario in scenarios:
        total = scenario.chat_usd + per_message_other
        per_thousand = total / messages * 1000
        baseline = baseline or per_thousand
        console.print(
            f"  {scenario.name:44} {scenario.chat_usd:>10,.2f} {total:>12,.2f}"
            f" {per_thousand:>15,.4f} {scenario.hits / messages:>10.1%}"
            + (f"  ({1 - per_thousand / baseline:.0%} less)" if per_thousand != baseline else "")
        )
    routed = scenarios[-1]
    generated = sum(routed.models.values())
    console.print(
        "  routing + cache, generated replies by model: "
        + ", ".join(f"{m} {n / generated:.1%}" for m, n in routed.models.most_common())
        + f"; degraded by a budget {routed.degraded:,} (offline composer {routed.offline:,})"
    )
    console.print(
        f"  embeddings + summaries (the same in every scenario): ${other_usd:,.2f};"
        f" moderation is free"
    )


def simulate_turn(
    scenario: Scenario,
    settings: Settings,
    prices: PriceTable,
    top: str,
    when: datetime,
    user: tuple[uuid.UUID, str, str, str],
    text: str,
    turn: int,
    tokens_in: int,
    tokens_out: int,
    faq: int | None,
) -> None:
    user_id, tier, language, sport = user
    day = when.date()
    spent = scenario.spend.setdefault(user_id, UserSpend())
    if spent.day != day:  # a new day: today's spend starts again (one month: no reset)
        spent.day, spent.today = day, Decimal(0)
    if scenario.routing:
        chosen = route(
            settings.llm,
            settings.costs,
            tier,
            text,
            turn,
            Spend(
                user_today=spent.today,
                user_month=spent.month,
                platform_today=scenario.platform_today,
            ),
        )
        model = chosen.model
        if chosen.reason.startswith("budget_"):
            scenario.degraded += 1
        if chosen.offline:
            scenario.offline += 1
            return
    else:
        model = top
    key = (faq, language, sport, model) if faq is not None and scenario.cache else None
    if key is not None and scenario.cached_until.get(key, date.min) >= day:
        scenario.hits += 1
        return
    cost = prices.cost(model, when, tokens_in, tokens_out)
    scenario.chat_usd += cost
    scenario.models[model] += 1
    spent.today += cost
    spent.month += cost
    scenario.platform_today += cost
    if key is not None:
        scenario.cached_until[key] = day + timedelta(days=7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, 2,000 users")
    parser.add_argument("--rows", type=int, default=None, help="ledger rows (1,000,000)")
    parser.add_argument("--users", type=int, default=None, help="simulated users (10,000)")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--skip-month", action="store_true")
    args = parser.parse_args(argv)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    users = args.users or (2_000 if args.quick else 10_000)
    settings = Settings(_env_file=None)
    console.print(f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not args.skip_month:
        began = time.perf_counter()
        simulate_month(settings, users)
        console.print(f"  ({time.perf_counter() - began:.0f}s)")
    if args.skip_report:
        return 0
    with embedded_services("wellcoach-costs-bench-") as (base, settings, urls):
        libpq_url = urls.database_url.replace("postgresql+psycopg://", "postgresql://")
        count, copied, vacuumed = load(libpq_url, rows)
        console.print(
            f"\n[bold]ledger[/bold] {count:,} rows over {LEDGER_DAYS} days: generated and"
            f" COPYed in {copied:.0f}s, VACUUM ANALYZE {vacuumed:.0f}s"
        )
        asyncio.run(time_reports(settings, urls, libpq_url))
    console.print(f"\nload average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
