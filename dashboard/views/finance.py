"""Finance (and administrators): what the LLM calls of a period cost, where the money
went, and what caching and routing saved. Users appear by pseudonym only; every view is
audited (`dashboard.view`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial

import streamlit as st

from dashboard import auth, core
from dashboard.finance import (
    BREAKDOWN_COLUMNS,
    GROUPING_LABELS,
    MONEY_COLUMNS,
    breakdown_frame,
    budget_chart,
    daily_totals,
    load,
    month_to_date,
    over_budget,
    share,
    stacked_cost_chart,
    top_users_frame,
    usd,
)
from wellcoach.config import get_settings
from wellcoach.costs.reports import GROUPINGS, report_as_csv
from wellcoach.models.enums import Role

BY_KEY = "finance_by"
EARLIEST = date(2000, 1, 1)  # Streamlit's default would stop ten years back

viewer = auth.require_viewer(Role.finance, Role.admin)
st.title("Finance")
st.caption("LLM spend from the cost ledger, by UTC day. Users appear by pseudonym only.")

today = datetime.now(UTC).date()
period = st.date_input(
    "Period",
    value=month_to_date(today),
    key="finance_period",
    min_value=EARLIEST,
    max_value=today,
    format="YYYY-MM-DD",
    help="Whole UTC days, both ends included. Defaults to this month so far.",
)
if not isinstance(period, tuple) or len(period) != 2:
    st.info("Pick the last day of the period too.", icon=":material/date_range:")
    st.stop()
start, end = period
# the breakdown's selector sits above its table, further down; its value is read first
by = st.session_state.get(BY_KEY, "day")

view = core.run(
    partial(
        load, viewer=viewer.user_id, start=start, end=end, by=by, context=core.request_context()
    )
)
report = view.report
totals = report.totals

if view.empty:
    st.info(
        f"No LLM calls were recorded from {start:%d %b %Y} to {end:%d %b %Y}. Costs appear"
        " after chat turns: every LLM, embedding and moderation call writes a ledger row."
        " Try a wider range.",
        icon=":material/receipt_long:",
    )
    st.stop()

if report.unpriced_models:
    st.warning(
        "No price for " + ", ".join(report.unpriced_models) + ": their calls count as $0."
        " Add them to the price table (`wellcoach costs prices`).",
        icon=":material/warning:",
    )

first, second = st.columns(4), st.columns(4)
first[0].metric("Spend", usd(totals.cost_usd), border=True)
first[1].metric("Messages answered", f"{totals.messages:,}", border=True)
first[2].metric("Cost per message", usd(totals.avg_cost_per_message_usd), border=True)
first[3].metric("Cost per active user", usd(totals.avg_cost_per_active_user_usd), border=True)
second[0].metric("Active users", f"{totals.active_users:,}", border=True)
infrastructure_set = get_settings().costs.monthly_infrastructure_usd > 0
second[1].metric(
    "Infrastructure per active user",
    usd(report.infrastructure_per_active_user_usd) if infrastructure_set else "not set",
    help="The monthly infrastructure cost (costs.monthly_infrastructure_usd), prorated"
    " over the period, divided by its active users."
    + ("" if infrastructure_set else " Set it to see this figure."),
    border=True,
)
second[2].metric(
    "Cache savings",
    usd(totals.cache_savings_usd),
    help="What the answers served from the response cache would have cost.",
    border=True,
)
second[3].metric(
    "Routing savings",
    usd(totals.routing_savings_usd),
    help="What the routed chat calls would have cost on the top model, minus their cost.",
    border=True,
)

left, right = st.columns(2)
with left:
    st.subheader("Cost per day by model")
    st.altair_chart(stacked_cost_chart(view.by_model, "model", start, end), width="stretch")
with right:
    st.subheader("Cost per day by tier")
    st.altair_chart(stacked_cost_chart(view.by_tier, "tier", start, end), width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("Spend against the daily budget")
    spend = daily_totals(view.by_model, start, end)
    st.altair_chart(budget_chart(spend, report.daily_budget_usd, start, end), width="stretch")
    if report.daily_budget_usd > 0:
        peak = max(spend["spend"], default=0.0)
        days_over = over_budget(spend, report.daily_budget_usd)
        st.caption(
            f"Highest day {usd(peak)}, {share(peak, float(report.daily_budget_usd))} of the"
            f" {usd(report.daily_budget_usd)} daily budget;"
            f" {days_over} day{'s' if days_over != 1 else ''} over it."
        )
    else:
        st.caption("No daily budget is set (costs.daily_platform_budget_usd).")
with right:
    st.subheader("Top users")
    st.dataframe(
        top_users_frame(report),
        hide_index=True,
        width="stretch",
        column_config={
            "Cost": st.column_config.NumberColumn(format="$%.6f"),
            "Share of spend": st.column_config.ProgressColumn(
                format="%.1f%%", min_value=0.0, max_value=100.0
            ),
        },
    )
    st.caption("Pseudonyms are stable across reports until the master key rotates.")

st.subheader("Breakdown")
st.selectbox("Group by", GROUPINGS, key=BY_KEY, format_func=GROUPING_LABELS.__getitem__)
st.dataframe(
    breakdown_frame(report.rows, report.by),
    hide_index=True,
    width="stretch",
    column_config={
        BREAKDOWN_COLUMNS[name]: st.column_config.NumberColumn(format="$%.6f")
        for name in MONEY_COLUMNS
    },
)
st.download_button(
    "Download CSV",
    data=report_as_csv(report),
    file_name=f"wellcoach-costs-by-{report.by}-{start.isoformat()}-{end.isoformat()}.csv",
    mime="text/csv",
    icon=":material/download:",
)
