"""Coaches (and administrators): the escalation queue, soonest SLA deadline first, and
the case chosen from it, with claim/assign, respond and close.

A coach reads the cases assigned to them (the core's `escalations_readable_by`); new
cases reach a coach by automatic assignment or an administrator's. Opening a case reads
the athlete's texts, which the core audits (`escalation.viewed`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import auth, core
from dashboard.escalations import (
    OPEN,
    STATUS_FILTERS,
    URGENCY_BADGES,
    URGENCY_ORDER,
    assign,
    case_label,
    claim,
    close,
    excerpt,
    filtered,
    health_alerts,
    load_queue,
    mood_frame,
    queue_frame,
    read_case,
    respond,
    status_label,
    statuses_of,
    styled_queue,
    subject_of,
    time_left,
)
from wellcoach.errors import WellcoachError
from wellcoach.models.enums import Role
from wellcoach.platform import Platform

NOTICE_KEY = "queue_notice"
ERROR_KEY = "queue_error"
CASE_KEY = "queue_case"
EMPTY = (
    "No open escalations. New ones appear here as athletes ask for help or a crisis is"
    " detected; they are assigned automatically to an available coach."
)
ANSWERABLE = {"assigned", "in_progress", "responded"}
ASSIGNABLE = {"submitted", "triaged", "assigned"}
CLAIMABLE = {"submitted", "triaged"}

viewer = auth.require_viewer(Role.coach, Role.admin)
subject = subject_of(viewer.user_id, viewer.role)


def act(work: Callable[[Platform], Awaitable[object]], done: str) -> None:
    """Run one action through the core; its outcome is shown on the next rerun."""
    try:
        outcome = core.run(work)
    except WellcoachError as exc:
        st.session_state[ERROR_KEY] = exc.message
        return
    st.session_state[NOTICE_KEY] = done.format(outcome=outcome)


def on_assign(escalation_id: str) -> None:
    act(
        partial(
            assign,
            actor=subject,
            escalation_id=escalation_id,
            coach_id=str(st.session_state["case_coach"]),
            request=core.request_context(),
        ),
        "Assigned to {outcome}.",
    )


def on_claim(escalation_id: str) -> None:
    act(
        partial(claim, coach=subject, escalation_id=escalation_id, request=core.request_context()),
        "The case is yours ({outcome}).",
    )


def on_respond(escalation_id: str) -> None:
    text = str(st.session_state.get("case_reply", ""))
    try:
        outcome = core.run(
            partial(
                respond,
                coach=subject,
                escalation_id=escalation_id,
                text=text,
                request=core.request_context(),
            )
        )
    except WellcoachError as exc:
        st.session_state[ERROR_KEY] = exc.message
        return
    st.session_state[NOTICE_KEY] = (
        "Reply sent: it is in the athlete's chat."
        if outcome.announced
        else "Reply saved in the athlete's chat; their devices will see it when they next"
        " open the app (the live push is unavailable right now)."
    )
    st.session_state["case_reply"] = ""


def on_close(escalation_id: str) -> None:
    note = str(st.session_state.get("case_close_note", "")).strip() or None
    act(
        partial(
            close,
            actor=subject,
            escalation_id=escalation_id,
            note=note,
            request=core.request_context(),
        ),
        "Case closed.",
    )
    st.session_state["case_close_note"] = ""


def mood_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_line(point=True, color="#1f6f8b")
        .encode(
            x=alt.X("entry:O", title="Check-in (oldest first)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("mood:Q", title="Mood (1-10)", scale=alt.Scale(domain=[1, 10])),
            tooltip=["entry:O", "mood:Q"],
        )
        .properties(height=220)
    )


def show_case(escalation_id: str, now: datetime, coaches: list[tuple[str, str]]) -> None:
    try:
        case = core.run(
            partial(
                read_case,
                reader=subject,
                escalation_id=escalation_id,
                request=core.request_context(),
            )
        )
    except WellcoachError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    status = case["status"]
    st.markdown(
        f"{URGENCY_BADGES[case['urgency']]} · **{status.replace('_', ' ')}**"
        f" · SLA {case['response_time_sla']},"
        f" {time_left(case['sla_due_at'], now, closed=status == 'closed')}"
        f" · opened {case['created_at']:%Y-%m-%d %H:%M} UTC"
    )
    st.caption("Opening a case is recorded in the audit log.")
    left, right = st.columns(2)
    with left:
        st.subheader("What the athlete shared")
        st.info(case["message"], icon=":material/chat:")
        lines = excerpt(case["context"])
        if lines:
            st.markdown("**Chat excerpt**")
            for line in lines:
                st.markdown(line)
        reasons = case["triage"].get("reasons") or []
        st.markdown("**Triage** (priority " + str(case["priority"]) + ")")
        st.markdown("\n".join(f"- {reason}" for reason in reasons) or "Not triaged yet.")
    with right:
        st.subheader("Mood trend")
        moods = mood_frame(case["context"])
        if len(moods):
            st.altair_chart(mood_chart(moods), width="stretch")
        else:
            st.caption("No mood scores were shared with this escalation.")
        st.markdown("**Health alerts**")
        alerts = health_alerts(case["context"])
        for alert in alerts:
            st.warning(alert, icon=":material/monitor_heart:")
        if not alerts:
            st.caption(
                "None: the athlete shares no health data, or nothing in it stood out when"
                " the escalation was opened."
            )
    st.subheader("Status history")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "When": f"{event['at']:%Y-%m-%d %H:%M} UTC",
                    "From": event["from"] or "",
                    "To": event["to"],
                    "Note": event["note"].get("text", "") if event["note"] else "",
                }
                for event in case["events"]
            ],
            columns=["When", "From", "To", "Note"],
        ),
        hide_index=True,
        width="stretch",
    )
    actions(escalation_id, status, coaches)


def actions(escalation_id: str, status: str, coaches: list[tuple[str, str]]) -> None:
    if status == "closed":
        st.caption("This case is closed.")
        return
    st.subheader("Act")
    if viewer.role == Role.admin and status in ASSIGNABLE and coaches:
        names = dict(coaches)
        st.selectbox("Coach", list(names), format_func=names.__getitem__, key="case_coach")
        st.button(
            "Assign" if status != "assigned" else "Reassign",
            key="case_assign",
            icon=":material/person_add:",
            on_click=on_assign,
            args=(escalation_id,),
        )
    elif viewer.role == Role.admin and status in ASSIGNABLE:
        st.caption("No coach is registered yet (`wellcoach coaches add`).")
    if viewer.role == Role.coach and status in CLAIMABLE:
        st.button(
            "Claim this case",
            key="case_claim",
            type="primary",
            icon=":material/front_hand:",
            on_click=on_claim,
            args=(escalation_id,),
        )
    if status in ANSWERABLE:
        st.text_area(
            "Reply to the athlete",
            key="case_reply",
            max_chars=4000,
            help="Sent into the athlete's chat as your message.",
        )
        st.button(
            "Send reply",
            key="case_respond",
            type="primary",
            icon=":material/send:",
            on_click=on_respond,
            args=(escalation_id,),
        )
    elif viewer.role == Role.coach:
        st.caption("Reply once the case is assigned to you.")
    st.text_input("Closing note (optional)", key="case_close_note")
    st.button(
        "Close case",
        key="case_close",
        icon=":material/task_alt:",
        on_click=on_close,
        args=(escalation_id,),
    )


st.title("Escalation queue")
if notice := st.session_state.pop(NOTICE_KEY, None):
    st.success(notice, icon=":material/check_circle:")
if error := st.session_state.pop(ERROR_KEY, None):
    st.error(error, icon=":material/error:")

queue = core.run(partial(load_queue, reader=subject))
now = datetime.now(UTC)
if viewer.role == Role.coach:
    st.caption(
        "Your cases and the ones nobody holds yet, soonest SLA deadline first. New cases"
        " are assigned automatically to an available coach; open an unassigned one to"
        " claim it."
    )
else:
    st.caption("Every escalation, soonest SLA deadline first.")

is_coach = viewer.role == Role.coach and queue.my_coach_id is not None
# a coach's own cases come first; the ones nobody holds are one switch away
own = [row for row in queue.rows if not is_coach or row["assigned_coach"] == queue.my_coach_id]
if not any(row["status"] in OPEN for row in own):
    st.info(EMPTY, icon=":material/inbox:")
    if not queue.rows:
        st.stop()
if is_coach and (waiting := sum(1 for row in queue.rows if row["assigned_coach"] is None)):
    st.caption(
        f"{waiting} case{'s' if waiting != 1 else ''} wait{'' if waiting != 1 else 's'} for a"
        " coach: switch off *Assigned to me* to see them and claim one."
    )

status_column, urgency_column, mine_column = st.columns([2, 4, 2], vertical_alignment="bottom")
status_choice = status_column.selectbox(
    "Status", STATUS_FILTERS, format_func=status_label, key="queue_status"
)
urgencies = urgency_column.multiselect(
    "Urgency",
    [urgency.value for urgency in URGENCY_ORDER],
    default=[urgency.value for urgency in URGENCY_ORDER],
    key="queue_urgency",
)
assigned_to_me = mine_column.toggle(
    "Assigned to me",
    value=is_coach,
    key="queue_mine",
    disabled=queue.my_coach_id is None,
    help=None if queue.my_coach_id else "Only for accounts registered as coaches.",
)
rows = filtered(
    queue, statuses=statuses_of(status_choice), urgencies=urgencies, assigned_to_me=assigned_to_me
)
if not rows:
    if queue.rows:
        st.caption("No case matches these filters.")
    st.stop()

st.dataframe(styled_queue(queue_frame(rows, now)), hide_index=True, width="stretch")
st.caption(f"{len(rows)} case{'s' if len(rows) != 1 else ''}; breached deadlines come first.")

labels = {row["id"]: case_label(row, now) for row in rows}
chosen = st.selectbox(
    "Open a case",
    list(labels),
    index=None,
    format_func=labels.__getitem__,
    key=CASE_KEY,
    placeholder="Choose a case from the queue",
)
if chosen is not None:
    show_case(chosen, now, queue.coaches)
