"""The coach's pages' data: the queue, one case, its actions and the team's counts, each
one call into the core (`wellcoach.escalation`, `wellcoach.chat.coach_replies`), and
their shapes for Streamlit.

What a reader sees is what the core lets them read (`escalations_readable_by`): a coach
their own cases, an administrator all of them. Reading a case opens its texts and is
audited by the core (`escalation.viewed`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import redis

from wellcoach.access import Subject
from wellcoach.accounts import repository as users
from wellcoach.audit import RequestContext
from wellcoach.chat import coach_replies
from wellcoach.errors import InvalidInput, NotFound
from wellcoach.escalation import cases
from wellcoach.escalation import repository as escalations
from wellcoach.escalation.aggregates import SMALLEST_SHOWN, TeamAggregates, team_aggregates
from wellcoach.escalation.workflow import OPEN_STATUSES
from wellcoach.models.enums import EscalationStatus, Role, Urgency
from wellcoach.platform import Platform

URGENCY_ORDER = (Urgency.critical, Urgency.high, Urgency.medium, Urgency.low)
# background and text colour per urgency: red, orange, yellow, grey
URGENCY_COLOURS = {
    "critical": ("#c0392b", "#ffffff"),
    "high": ("#e67e22", "#ffffff"),
    "medium": ("#f1c40f", "#1a1a1a"),
    "low": ("#bdc3c7", "#1a1a1a"),
}
# Streamlit markdown badges, for the case's header
URGENCY_BADGES = {
    "critical": ":red-badge[critical]",
    "high": ":orange-badge[high]",
    "medium": ":yellow-badge[medium]",
    "low": ":gray-badge[low]",
}
STATUS_ORDER = tuple(EscalationStatus)
OPEN = [status.value for status in STATUS_ORDER if status in OPEN_STATUSES]
# the status filter: every open status, everything, or one status
STATUS_FILTERS = ["open", "all", *(status.value for status in STATUS_ORDER)]
QUEUE_COLUMNS = ["Urgency", "Time left", "Status", "Reason", "Priority", "Opened", "Case"]


def subject_of(user_id: uuid.UUID, role: Role) -> Subject:
    """The signed-in viewer as the core's access queries know them."""
    return Subject(user_id=user_id, role=role)


def short_id(escalation_id: str) -> str:
    return escalation_id[:8]


def duration(delta: timedelta) -> str:
    """`42 min`, `3 h 5 min`, `2 d 4 h`: as long as a glance needs."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def time_left(due: datetime, now: datetime, *, closed: bool = False) -> str:
    """`in 42 min` before the SLA deadline, `breached 5 min ago` after it."""
    if closed:
        return "closed"
    left = due - now
    return f"in {duration(left)}" if left > timedelta(0) else f"breached {duration(left)} ago"


@dataclass(frozen=True)
class Queue:
    rows: list[dict[str, Any]]  # `cases.summary` of each case, in SLA order
    my_coach_id: str | None  # the viewer's coach row, if they are a coach
    coaches: list[tuple[str, str]]  # (id, name) of every coach, for an admin's assign


def sla_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Soonest deadline first (so breached cases, whose deadline has passed, lead);
    then the higher priority, then the older case."""
    return sorted(rows, key=lambda row: (row["sla_due_at"], -row["priority"], row["created_at"]))


async def load_queue(platform: Platform, *, reader: Subject) -> Queue:
    async with platform.unit_of_work() as session:
        found = await cases.queue(session, reader, limit=500)
        mine = await escalations.coach_by_user(session, reader.user_id) if reader.user_id else None
        coaches = []
        if reader.is_admin:
            coaches = [
                (str(coach.id), coach.display_name)
                for coach, _ in await escalations.coaches_with_load(session)
            ]
    return Queue(
        sla_order([cases.summary(escalation) for escalation in found]),
        str(mine.id) if mine else None,
        coaches,
    )


def status_label(choice: str) -> str:
    return {"open": "Open (not closed)", "all": "All"}.get(choice, choice.replace("_", " "))


def statuses_of(choice: str) -> list[str]:
    if choice == "open":
        return OPEN
    return [status.value for status in STATUS_ORDER] if choice == "all" else [choice]


def filtered(
    queue: Queue,
    *,
    statuses: list[str],
    urgencies: list[str],
    assigned_to_me: bool,
) -> list[dict[str, Any]]:
    return [
        row
        for row in queue.rows
        if row["status"] in statuses
        and row["urgency"] in urgencies
        and (not assigned_to_me or row["assigned_coach"] == queue.my_coach_id)
    ]


def queue_frame(rows: list[dict[str, Any]], now: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Urgency": row["urgency"],
                "Time left": time_left(
                    row["sla_due_at"], now, closed=row["status"] == EscalationStatus.closed
                ),
                "Status": row["status"].replace("_", " "),
                "Reason": row["reason"].replace("_", " "),
                "Priority": row["priority"],
                "Opened": f"{row['created_at']:%Y-%m-%d %H:%M} UTC",
                "Case": short_id(row["id"]),
            }
            for row in rows
        ],
        columns=QUEUE_COLUMNS,
    )


def urgency_style(urgency: str) -> str:
    background, text = URGENCY_COLOURS.get(urgency, ("", ""))
    return f"background-color: {background}; color: {text}" if background else ""


def breach_style(label: str) -> str:
    return "color: #c0392b; font-weight: bold" if label.startswith("breached") else ""


def styled_queue(frame: pd.DataFrame) -> Any:
    """The queue with its urgency cells coloured and breached deadlines in red."""
    return frame.style.map(urgency_style, subset=["Urgency"]).map(
        breach_style, subset=["Time left"]
    )


def case_label(row: dict[str, Any], now: datetime) -> str:
    return (
        f"{row['urgency'].upper()} · "
        f"{time_left(row['sla_due_at'], now, closed=row['status'] == 'closed')} · "
        f"{row['reason'].replace('_', ' ')} · {short_id(row['id'])}"
    )


async def read_case(
    platform: Platform, *, reader: Subject, escalation_id: str, request: RequestContext
) -> dict[str, Any]:
    """The case with its texts (audited by the core as `escalation.viewed`)."""
    async with platform.unit_of_work() as session:
        case = await cases.read_case(
            session, platform.vault, reader, escalation_id, request=request
        )
        return case.as_json()


async def assign(
    platform: Platform,
    *,
    actor: Subject,
    escalation_id: str,
    coach_id: str,
    request: RequestContext,
) -> str:
    """Give a case to a coach (an administrator's choice); the coach's name."""
    async with platform.unit_of_work() as session:
        escalation = await cases.readable(session, actor, escalation_id)
        coach = await escalations.coach_by_id(session, uuid.UUID(coach_id))
        if coach is None:
            raise NotFound("No such coach: register one with `wellcoach coaches add`.")
        await cases.assign_case(
            session, platform.vault, escalation, coach, actor=actor, request=request
        )
        return coach.display_name


async def claim(
    platform: Platform, *, coach: Subject, escalation_id: str, request: RequestContext
) -> str:
    """A coach takes a case nobody holds yet (within their capacity); their name."""
    async with platform.unit_of_work() as session:
        escalation = await cases.readable(session, coach, escalation_id)
        mine = await escalations.coach_by_user(session, coach.user_id) if coach.user_id else None
        if mine is None:
            raise NotFound("You are not registered as a coach yet (`wellcoach coaches add`).")
        await cases.assign_case(
            session, platform.vault, escalation, mine, actor=coach, request=request
        )
        return mine.display_name


@dataclass(frozen=True)
class Responded:
    status: str
    announced: bool  # False: stored, but the devices could not be told right now


async def respond(
    platform: Platform,
    *,
    coach: Subject,
    escalation_id: str,
    text: str,
    request: RequestContext,
) -> Responded:
    """Store the reply in the athlete's chat, then, once committed, push it to their
    devices."""
    async with platform.unit_of_work() as session:
        reply = await coach_replies.reply_as_coach(
            session,
            platform.vault,
            coach=coach,
            escalation_id=escalation_id,
            text=text,
            request=request,
        )
    try:
        await coach_replies.announce(platform.devices, reply)
    except (redis.RedisError, OSError):
        return Responded(reply.status.value, False)
    return Responded(reply.status.value, True)


async def close(
    platform: Platform,
    *,
    actor: Subject,
    escalation_id: str,
    note: str | None,
    request: RequestContext,
) -> None:
    async with platform.unit_of_work() as session:
        escalation = await cases.readable(session, actor, escalation_id)
        await cases.close_case(
            session, platform.vault, escalation, actor=actor, note=note, request=request
        )


def mood_frame(context: dict[str, Any]) -> pd.DataFrame:
    """The mood scores the athlete shared (oldest first), as (entry, mood) rows."""
    scores = context.get("recent_mood_scores")
    if not isinstance(scores, list):
        single = context.get("recent_mood")
        scores = [single] if single is not None else []
    values = [float(score) for score in scores if isinstance(score, int | float)]
    return pd.DataFrame({"entry": range(1, len(values) + 1), "mood": values})


def health_alerts(context: dict[str, Any]) -> list[str]:
    """The health alerts recorded when the escalation was opened (the athlete's consented
    health data against their own baseline)."""
    found = context.get("health_alerts") or []
    return [str(alert) for alert in found] if isinstance(found, list) else []


def excerpt(context: dict[str, Any]) -> list[str]:
    """The chat excerpt the escalation carries, as lines to show."""
    sample = context.get("chat_history_sample") or []
    lines = []
    for item in sample if isinstance(sample, list) else []:
        if isinstance(item, list | tuple) and len(item) == 2:
            lines.append(f"**{item[0]}**: {item[1]}")
        else:
            lines.append(str(item))
    return lines


async def team_of(platform: Platform, *, viewer: uuid.UUID, now: datetime) -> TeamAggregates:
    """The counts of the viewer's team: a team manager's own, everyone's for an admin."""
    async with platform.unit_of_work() as session:
        user = await users.get_by_id(session, viewer)
        if user is None:
            raise NotFound("Your account is gone.")
        if user.role == Role.team_manager and not user.team:
            raise InvalidInput("Your account has no team yet: ask an administrator to set it.")
        team = user.team if user.role == Role.team_manager else None
        return await team_aggregates(session, team, now=now)


def count_label(count: int | None) -> str:
    return f"fewer than {SMALLEST_SHOWN}" if count is None else f"{count:,}"
