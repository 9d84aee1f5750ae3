"""Team managers (and administrators): how the team's escalations are going, in counts
only. No names, ids or texts; a count under 3 reads "fewer than 3", so no athlete can
be picked out (`wellcoach.escalation.aggregates`)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import auth, core
from dashboard.escalations import URGENCY_ORDER, count_label, duration, team_of
from wellcoach.errors import WellcoachError
from wellcoach.escalation.aggregates import SMALLEST_SHOWN
from wellcoach.escalation.workflow import OPEN_STATUSES
from wellcoach.models.enums import EscalationStatus, Role

viewer = auth.require_viewer(Role.team_manager, Role.admin)
st.title("Team overview")
try:
    counts = core.run(partial(team_of, viewer=viewer.user_id, now=datetime.now(UTC)))
except WellcoachError as exc:
    st.info(exc.message, icon=":material/groups:")
    st.stop()

st.caption(
    (f"Team {counts.team}" if counts.team else "All athletes")
    + f": counts only, never who. Counts under {SMALLEST_SHOWN} show as"
    f' "fewer than {SMALLEST_SHOWN}" so that no athlete can be recognised.'
)
columns = st.columns(3)
columns[0].metric("Open escalations", count_label(counts.open_total), border=True)
columns[1].metric(
    "Median time to first response",
    duration(counts.median_first_response)
    if counts.median_first_response is not None
    else "not enough responses",
    help=f"Over the first responses of the last 30 days ({count_label(counts.responses_counted)}).",
    border=True,
)
columns[2].metric(
    "SLA breaches this week",
    count_label(counts.breaches_this_week),
    help="Since Monday 00:00 UTC.",
    border=True,
)

left, right = st.columns(2)
with left:
    st.subheader("Open, by urgency")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Urgency": urgency.value,
                    "Open": count_label(counts.by_urgency.get(urgency.value, 0)),
                }
                for urgency in URGENCY_ORDER
            ]
        ),
        hide_index=True,
        width="stretch",
    )
with right:
    st.subheader("Open, by status")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Status": status.value.replace("_", " "),
                    "Open": count_label(counts.by_status.get(status.value, 0)),
                }
                for status in EscalationStatus
                if status in OPEN_STATUSES
            ]
        ),
        hide_index=True,
        width="stretch",
    )
