"""The finance page's data and charts: one read of the core's cost report per rerun
(`wellcoach.costs.reports`), audited, and its shapes for Streamlit and Altair.

Money stays `Decimal` up to the screen: charts and tables get floats, the CSV download
gets the report's own exact text (`report_as_csv`, the same as `wellcoach costs report
--format csv`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import altair as alt
import pandas as pd

from wellcoach.audit import RequestContext, record
from wellcoach.costs.reports import (
    CostReport,
    ReportRow,
    cost_report,
    daily_series,
    report_pseudonym,
)
from wellcoach.platform import Platform

PAGE = "finance"
TOP_USERS = 10
GROUPING_LABELS = {
    "day": "Day",
    "week": "Week (ISO)",
    "month": "Month",
    "model": "Model",
    "tier": "Tier",
    "user": "User (pseudonym)",
    "purpose": "Purpose",
    "team": "Team",
}
BREAKDOWN_COLUMNS = {
    "calls": "Calls",
    "messages": "Messages",
    "active_users": "Active users",
    "tokens_in": "Tokens in",
    "tokens_out": "Tokens out",
    "tokens_cached": "Tokens cached",
    "cost_usd": "Cost",
    "cache_savings_usd": "Cache savings",
    "routing_savings_usd": "Routing savings",
    "avg_cost_per_message_usd": "Cost / message",
    "avg_cost_per_active_user_usd": "Cost / active user",
}
MONEY_COLUMNS = [name for name in BREAKDOWN_COLUMNS if name.endswith("_usd")]
Series = list[tuple[date, str, Decimal]]


@dataclass(frozen=True)
class FinanceView:
    report: CostReport
    by_model: Series
    by_tier: Series

    @property
    def empty(self) -> bool:
        return self.report.totals.calls == 0


async def load(
    platform: Platform,
    *,
    viewer: uuid.UUID,
    start: date,
    end: date,
    by: str,
    context: RequestContext,
) -> FinanceView:
    """The report of [start, end] grouped `by`, the daily series of its charts, and the
    audit entry of this view (users appear by pseudonym only)."""
    async with platform.unit_of_work() as session:
        report = await cost_report(
            session,
            platform.settings,
            start=start,
            end=end,
            by=by,
            pseudonym=report_pseudonym(platform.vault.keyring.current),
            top=TOP_USERS,
        )
        by_model = await daily_series(session, start=start, end=end, dimension="model")
        by_tier = await daily_series(session, start=start, end=end, dimension="tier")
        await record(
            session,
            "dashboard.view",
            context=context,
            actor_id=viewer,
            resource_type="dashboard_page",
            resource_id=PAGE,
            details={"page": PAGE, "start": start.isoformat(), "end": end.isoformat(), "by": by},
        )
    return FinanceView(report, by_model, by_tier)


def usd(value: Decimal | float) -> str:
    """Dollars with as many decimals as a small amount needs to be seen."""
    amount = Decimal(str(value))
    if amount == 0:
        return "$0.00"
    places = 2 if abs(amount) >= 1 else 4 if abs(amount) >= Decimal("0.01") else 6
    return f"${amount:,.{places}f}"


def month_to_date(today: date) -> tuple[date, date]:
    return today.replace(day=1), today


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def series_frame(series: Series, dimension: str) -> pd.DataFrame:
    """(day, name, cost) rows as a frame; days are ISO strings, which Vega-Lite reads as
    UTC midnight, so a bar stays on its UTC day in any browser's time zone."""
    return pd.DataFrame(
        [(day.isoformat(), name, float(cost)) for day, name, cost in series],
        columns=["day", dimension, "cost"],
    )


def daily_totals(series: Series, start: date, end: date) -> pd.DataFrame:
    """Spend per UTC day of the period, days without calls at zero."""
    spend: dict[date, Decimal] = dict.fromkeys(days(start, end), Decimal(0))
    for day, _, cost in series:
        spend[day] = spend.get(day, Decimal(0)) + cost
    return pd.DataFrame(
        [(day.isoformat(), float(cost)) for day, cost in spend.items()], columns=["day", "spend"]
    )


# calm, distinct colours; red is kept for the budget line
PALETTE = ["#1f6f8b", "#7fb8d1", "#e39a3b", "#6a9f58", "#9b7bb8", "#c9b458", "#8c6d5a"]
BUDGET_RED = "#c0392b"
# below this share of the budget, a chart scaled to the budget would draw spend as a flat
# line at zero: the chart keeps the spend's scale and says where the budget is instead
BUDGET_IN_VIEW = 0.1


def day_axis(start: date, end: date) -> alt.X:
    """One band per UTC day of the period, days without calls included; labels thinned
    when they would overlap (ISO strings parse as UTC midnight, so `utcFormat`)."""
    return alt.X(
        "day:O",
        title=None,
        scale=alt.Scale(domain=[day.isoformat() for day in days(start, end)]),
        axis=alt.Axis(
            labelExpr="utcFormat(toDate(datum.value), '%b %d')",
            labelAngle=0,
            labelOverlap="greedy",
        ),
    )


def stacked_cost_chart(series: Series, dimension: str, start: date, end: date) -> alt.Chart:
    """Cost per day, one stacked colour per model or tier."""
    title = dimension.capitalize()
    return (
        alt.Chart(series_frame(series, dimension))
        .mark_bar()
        .encode(
            x=day_axis(start, end),
            y=alt.Y("sum(cost):Q", title="Cost (USD)", axis=alt.Axis(format="$,.4~f")),
            color=alt.Color(f"{dimension}:N", title=title, scale=alt.Scale(range=PALETTE)),
            tooltip=[
                alt.Tooltip("day:O", title="Day"),
                alt.Tooltip(f"{dimension}:N", title=title),
                alt.Tooltip("sum(cost):Q", title="Cost", format="$,.6f"),
            ],
        )
        .properties(height=280)
    )


def budget_chart(
    totals: pd.DataFrame, budget: Decimal, start: date, end: date
) -> alt.LayerChart | alt.Chart:
    """Daily spend as a line, the daily platform budget as a dashed red rule; when the
    spend stays far below the budget, a note at the top says where the budget is."""
    spend = (
        alt.Chart(totals)
        .mark_line(point=True, color=PALETTE[0])
        .encode(
            x=day_axis(start, end),
            y=alt.Y("spend:Q", title="Spend (USD)", axis=alt.Axis(format="$,.4~f")),
            tooltip=[
                alt.Tooltip("day:O", title="Day"),
                alt.Tooltip("spend:Q", title="Spend", format="$,.6f"),
            ],
        )
        .properties(height=280)
    )
    if budget <= 0:
        return spend
    peak = float(totals["spend"].max()) if len(totals) else 0.0
    in_view = peak >= float(budget) * BUDGET_IN_VIEW
    text = f"daily budget {usd(budget)}" + ("" if in_view else " (far above this scale)")
    limit = pd.DataFrame({"budget": [float(budget)], "label": [text]})
    label = alt.Chart(limit).mark_text(align="left", dx=4, dy=-6, color=BUDGET_RED)
    if not in_view:
        return spend + label.encode(text="label:N", x=alt.value(0), y=alt.value(6))
    rule = alt.Chart(limit).mark_rule(color=BUDGET_RED, strokeDash=[6, 4]).encode(y="budget:Q")
    return spend + rule + label.encode(text="label:N", x=alt.value(0), y="budget:Q")


def share(part: float, whole: float) -> str:
    """A share as people read it: `12.3%`, never a rounded-away `0.0%`."""
    ratio = part / whole if whole else 0.0
    return "under 0.1%" if 0 < ratio < 0.001 else f"{ratio:.1%}"


def over_budget(totals: pd.DataFrame, budget: Decimal) -> int:
    return int((totals["spend"] > float(budget)).sum()) if budget > 0 else 0


def breakdown_frame(rows: list[ReportRow], by: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                GROUPING_LABELS[by]: row.key,
                **{
                    label: float(value) if name in MONEY_COLUMNS else value
                    for name, label in BREAKDOWN_COLUMNS.items()
                    for value in [getattr(row, name)]
                },
            }
            for row in rows
        ],
        columns=[GROUPING_LABELS[by], *BREAKDOWN_COLUMNS.values()],
    )


def top_users_frame(report: CostReport) -> pd.DataFrame:
    total = report.totals.cost_usd
    return pd.DataFrame(
        [
            {
                "User (pseudonym)": top.user,
                "Cost": float(top.cost_usd),
                "Share of spend": float(100 * top.cost_usd / total) if total else 0.0,
                "Calls": top.calls,
            }
            for top in report.top_users
        ],
        columns=["User (pseudonym)", "Cost", "Share of spend", "Calls"],
    )
