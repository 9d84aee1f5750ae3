"""The coach's pages over escalations the test commits: the queue in SLA order with its
urgency colours and filters, a case assigned, answered and closed (the athlete gets the
reply in their chat), a crisis over the API at the top of the queue, the team overview's
counts with small ones withheld, who sees which page, and the audit of each case read."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import delete, select

from api.main import create_app
from tests.dashboard.conftest import Account, Committed, Dashboard
from tests.support.clients import make_client
from tests.support.factories import TEST_CONTEXT, bearer, create_user, login, unique_email
from wellcoach.access import ADMIN_CLI
from wellcoach.config import get_settings
from wellcoach.db.base import utcnow
from wellcoach.escalation import cases, coaches, service
from wellcoach.escalation import repository as escalations
from wellcoach.models import AuditLog, Escalation, LlmCall, Message
from wellcoach.models.enums import EscalationReason, EscalationStatus, MessageType, Role, Urgency
from wellcoach.platform import Platform, run_with_platform

T = TypeVar("T")
QUEUE, TEAM = "views/queue.py", "views/team.py"
CRISIS = "I can't do this anymore, I want to kill myself"
WORRY = "I keep losing sleep before every match and I'm scared of letting the team down"


def run(work: Callable[[Platform], Awaitable[T]]) -> T:
    return run_with_platform(work, get_settings())


class Desk:
    """Coaches, athletes and their escalations, committed for the app to see."""

    def __init__(self, committed: Committed) -> None:
        self.committed = committed

    def coach(self, name: str = "Coach Carla") -> tuple[Account, uuid.UUID]:
        account = self.committed.account(Role.coach, name=name)

        async def work(platform: Platform) -> uuid.UUID:
            async with platform.unit_of_work() as session:
                return (await coaches.add_coach(session, str(account.id))).id

        return account, run(work)

    def athlete(self, team: str | None = None) -> uuid.UUID:
        async def work(platform: Platform) -> uuid.UUID:
            async with platform.unit_of_work() as session:
                user = await create_user(session, platform, email=unique_email(), team=team)
                return user.id

        user_id = run(work)
        self.committed.users.append(user_id)
        return user_id

    def case(
        self,
        athlete: uuid.UUID,
        urgency: Urgency,
        *,
        opened_ago: timedelta = timedelta(0),
        coach: uuid.UUID | None = None,
        moods: tuple[int, ...] = (),
        message: str = WORRY,
        health_alerts: tuple[str, ...] = (),
    ) -> str:
        """A triaged escalation opened `opened_ago` (its deadline moves with it), assigned
        to `coach` when given."""

        async def work(platform: Platform) -> str:
            async with platform.unit_of_work() as session:
                escalation = await service.open_escalation(
                    session,
                    platform.vault,
                    user_id=athlete,
                    reason=EscalationReason.needs_human_support,
                    urgency=urgency,
                    message=message,
                    context={"recent_mood_scores": list(moods)}
                    | ({"health_alerts": list(health_alerts)} if health_alerts else {}),
                    request=TEST_CONTEXT,
                    now=utcnow() - opened_ago,
                )
                await cases.triage_escalation(session, platform.vault, escalation)
                if coach is not None:
                    await assign(session, platform, escalation, coach)
                return str(escalation.id)

        return run(work)

    def assign(self, escalation_id: str, coach: uuid.UUID) -> None:
        async def work(platform: Platform) -> None:
            async with platform.unit_of_work() as session:
                escalation = await cases.readable(session, ADMIN_CLI, escalation_id)
                await assign(session, platform, escalation, coach)

        run(work)


async def assign(session, platform: Platform, escalation: Escalation, coach: uuid.UUID) -> None:
    found = await escalations.coach_by_id(session, coach)
    assert found is not None
    await cases.assign_case(session, platform.vault, escalation, found, actor=ADMIN_CLI)


@pytest.fixture
def desk(committed: Committed) -> Iterator[Desk]:
    yield Desk(committed)

    async def work(platform: Platform) -> None:  # the ledger rows of the API's chat turns
        async with platform.unit_of_work() as session:
            await session.execute(delete(LlmCall).where(LlmCall.user_id.in_(committed.users)))

    run(work)


def escalation(escalation_id: str) -> Escalation:
    async def work(platform: Platform) -> Escalation:
        async with platform.unit_of_work() as session:
            found = await session.get(Escalation, uuid.UUID(escalation_id))
            assert found is not None
            return found

    return run(work)


def coach_messages(athlete: uuid.UUID) -> list[str]:
    """The athlete's `coach` messages, opened through the core's vault."""

    async def work(platform: Platform) -> list[str]:
        async with platform.unit_of_work() as session:
            rows = await session.scalars(
                select(Message).where(Message.user_id == athlete, Message.type == MessageType.coach)
            )
            return [
                await platform.vault.open_text(
                    session, athlete, row.content_encrypted, purpose="message"
                )
                for row in rows
            ]

    return run(work)


def audited(action: str, resource: str) -> list[AuditLog]:
    async def work(platform: Platform) -> list[AuditLog]:
        async with platform.unit_of_work() as session:
            return list(
                await session.scalars(
                    select(AuditLog).where(
                        AuditLog.action == action, AuditLog.resource_id == resource
                    )
                )
            )

    return run(work)


def queue_rows(dashboard: Dashboard) -> list[dict]:
    frame = dashboard.at.dataframe[0].value
    return frame.to_dict("records")


def open_case(dashboard: Dashboard, escalation_id: str) -> None:
    dashboard.at.selectbox(key="queue_case").set_value(escalation_id).run()


def test_the_queue_is_in_sla_order_with_urgency_colours(dashboard: Dashboard, desk: Desk) -> None:
    account, coach = desk.coach()
    athlete = desk.athlete()
    high = desk.case(athlete, Urgency.high, coach=coach)  # due in 4 h
    critical = desk.case(athlete, Urgency.critical, opened_ago=timedelta(minutes=18), coach=coach)
    low = desk.case(athlete, Urgency.low, opened_ago=timedelta(hours=72, minutes=5), coach=coach)

    dashboard.sign_in(account)

    assert dashboard.title() == "Escalation queue"
    rows = queue_rows(dashboard)
    assert [row["Case"] for row in rows] == [low[:8], critical[:8], high[:8]]
    assert [row["Urgency"] for row in rows] == ["low", "critical", "high"]
    assert rows[0]["Time left"].startswith("breached ") and rows[0]["Time left"].endswith(" ago")
    assert rows[1]["Time left"] in {"in 41 min", "in 42 min"}
    assert rows[2]["Time left"].startswith("in 3 h 5") or rows[2]["Time left"] == "in 4 h"
    styles = str(dashboard.at.dataframe[0].proto.arrow_data)  # the Styler's CSS
    assert "#c0392b" in styles and "#e67e22" in styles and "#bdc3c7" in styles

    dashboard.at.multiselect(key="queue_urgency").set_value(["critical", "high"]).run()
    assert [row["Case"] for row in queue_rows(dashboard)] == [critical[:8], high[:8]]
    dashboard.at.selectbox(key="queue_status").set_value("closed").run()
    assert not dashboard.at.dataframe
    assert "No case matches these filters." in dashboard.text()


def test_an_empty_queue_says_what_fills_it(dashboard: Dashboard, desk: Desk) -> None:
    account, _ = desk.coach()

    dashboard.sign_in(account)

    assert "No open escalations. New ones appear here as athletes ask for help" in (
        dashboard.text()
    )
    assert "assigned automatically to an available coach" in dashboard.text()
    assert not dashboard.at.dataframe


def test_an_admin_assigns_and_the_coach_answers_and_closes(
    dashboard: Dashboard, desk: Desk, committed: Committed
) -> None:
    account, coach = desk.coach("Coach Carla")
    athlete = desk.athlete()
    case = desk.case(athlete, Urgency.high, moods=(6, 4, 3))
    assert escalation(case).status == EscalationStatus.triaged

    dashboard.sign_in(committed.account(Role.admin)).go_to(QUEUE)
    open_case(dashboard, case)
    dashboard.at.selectbox(key="case_coach").set_value(str(coach))
    dashboard.at.button(key="case_assign").click().run()
    assert "Assigned to Coach Carla." in [s.value for s in dashboard.at.success]
    assert escalation(case).status == EscalationStatus.assigned

    dashboard.at.session_state["wellcoach_session"] = None  # the coach's own browser
    dashboard.sign_in(account)
    open_case(dashboard, case)
    assert WORRY in dashboard.text()
    assert len(dashboard.at.get("vega_lite_chart")) == 1  # the mood trend
    history = dashboard.at.dataframe[1].value
    assert list(history["To"]) == ["triaged", "assigned"]
    viewed = audited("escalation.viewed", case)
    assert viewed and viewed[-1].actor_id == account.id
    assert viewed[-1].details["source"] == "dashboard"
    assert WORRY not in json.dumps(viewed[-1].details)

    dashboard.at.text_area(key="case_reply").input("I'm here. Can we talk at 6 tonight?")
    dashboard.at.button(key="case_respond").click().run()
    assert not dashboard.at.error
    assert any("Reply sent" in s.value for s in dashboard.at.success)
    assert coach_messages(athlete) == ["I'm here. Can we talk at 6 tonight?"]
    answered = escalation(case)
    assert answered.status == EscalationStatus.responded
    assert answered.first_response_at is not None

    dashboard.at.text_input(key="case_close_note").input("Spoke on the phone")
    dashboard.at.button(key="case_close").click().run()
    assert "Case closed." in [s.value for s in dashboard.at.success]
    assert escalation(case).status == EscalationStatus.closed


SHORT_SLEEP = "Under 6 h of sleep for 3 nights running (last night 5 h 10 min)."


def test_the_case_shows_the_athletes_health_alerts(
    dashboard: Dashboard, desk: Desk, committed: Committed
) -> None:
    athlete = desk.athlete()
    tired = desk.case(athlete, Urgency.medium, health_alerts=(SHORT_SLEEP,))
    plain = desk.case(desk.athlete(), Urgency.medium)
    assert escalation(tired).priority == escalation(plain).priority + 5

    dashboard.sign_in(committed.account(Role.admin)).go_to(QUEUE)
    open_case(dashboard, tired)
    assert [w.value for w in dashboard.at.warning] == [SHORT_SLEEP]
    assert "1 health alert(s) +5" in dashboard.text()
    open_case(dashboard, plain)
    assert not dashboard.at.warning
    assert "the athlete shares no health data" in dashboard.text()


def test_a_coach_claims_a_case_nobody_holds_and_answers_it(
    dashboard: Dashboard, desk: Desk
) -> None:
    account, coach = desk.coach("Coach Bea")
    athlete = desk.athlete()
    case = desk.case(athlete, Urgency.high)
    assert escalation(case).assigned_coach_id is None

    dashboard.sign_in(account)
    assert "wait for a coach" in dashboard.text() or "waits for a coach" in dashboard.text()
    dashboard.at.toggle(key="queue_mine").set_value(False).run()
    open_case(dashboard, case)
    assert not any(button.key == "case_respond" for button in dashboard.at.button)
    dashboard.at.button(key="case_claim").click().run()
    assert not dashboard.at.error
    assert "The case is yours (Coach Bea)." in [s.value for s in dashboard.at.success]
    claimed = escalation(case)
    assert claimed.status == EscalationStatus.assigned and claimed.assigned_coach_id == coach
    assert audited("escalation.assigned", case)

    open_case(dashboard, case)
    dashboard.at.text_area(key="case_reply").input("Hi, I'm Bea. Shall we talk tomorrow?")
    dashboard.at.button(key="case_respond").click().run()
    assert coach_messages(athlete) == ["Hi, I'm Bea. Shall we talk tomorrow?"]
    assert escalation(case).status == EscalationStatus.responded


def test_a_coach_cannot_answer_before_assignment_and_errors_are_messages(
    dashboard: Dashboard, desk: Desk, committed: Committed
) -> None:
    athlete = desk.athlete()
    case = desk.case(athlete, Urgency.medium)

    dashboard.sign_in(committed.account(Role.admin)).go_to(QUEUE)
    open_case(dashboard, case)
    assert not any(button.key == "case_respond" for button in dashboard.at.button)
    dashboard.at.button(key="case_close").click().run()  # an admin may close it
    assert escalation(case).status == EscalationStatus.closed
    assert not dashboard.at.exception


def test_a_crisis_over_the_api_tops_the_coachs_queue(dashboard: Dashboard, desk: Desk) -> None:
    account, coach = desk.coach()
    other = desk.athlete()
    desk.case(other, Urgency.medium, coach=coach)
    desk.case(other, Urgency.low, coach=coach)

    async def crisis(platform: Platform) -> uuid.UUID:
        async with platform.unit_of_work() as session:
            user = await create_user(session, platform)
            user_id, email = user.id, user.email
        async with make_client(create_app(get_settings(), platform)) as client:
            headers = bearer(await login(client, email))
            session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
            response = await client.post(
                f"/v1/chat/sessions/{session_id}/messages",
                json={"content": CRISIS, "client_message_id": "dash-1"},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            assert response.json()["crisis"] is True
        return user_id

    athlete = run(crisis)
    desk.committed.users.append(athlete)

    async def opened(platform: Platform) -> str:
        async with platform.unit_of_work() as session:
            (found,) = await escalations.of_user(session, athlete)
            return str(found[0].id)

    case = run(opened)
    desk.assign(case, coach)

    dashboard.sign_in(account)
    rows = queue_rows(dashboard)
    assert rows[0]["Case"] == case[:8] and rows[0]["Urgency"] == "critical"
    assert rows[0]["Reason"] == "emergency support"
    open_case(dashboard, case)
    assert CRISIS in dashboard.text()


def test_the_team_overview_counts_and_withholds_small_numbers(
    dashboard: Dashboard, desk: Desk, committed: Committed
) -> None:
    team = f"Rovers-{uuid.uuid4().hex[:6]}"
    athletes = [desk.athlete(team) for _ in range(4)]
    for athlete in athletes[:3]:
        desk.case(athlete, Urgency.high)
    desk.case(athletes[3], Urgency.low)
    desk.case(desk.athlete("another team"), Urgency.critical)

    async def manager(platform: Platform) -> Account:
        async with platform.unit_of_work() as session:
            user = await create_user(
                session, platform, email=unique_email("manager"), role=Role.team_manager, team=team
            )
            return Account(user.id, user.email, Role.team_manager)

    account = run(manager)
    committed.users.append(account.id)

    dashboard.sign_in(account)

    assert dashboard.title() == "Team overview"
    metrics = {metric.label: metric.value for metric in dashboard.at.metric}
    assert metrics["Open escalations"] == "4"
    assert metrics["Median time to first response"] == "not enough responses"
    by_urgency = dict(dashboard.at.dataframe[0].value.values.tolist())
    assert by_urgency == {
        "critical": "0",
        "high": "3",
        "medium": "0",
        "low": "fewer than 3",
    }
    by_status = dict(dashboard.at.dataframe[1].value.values.tolist())
    assert by_status["triaged"] == "4"
    everything = dashboard.text() + dashboard.at.dataframe[0].value.to_string()
    assert all(str(athlete) not in everything for athlete in athletes)
    assert WORRY not in everything


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        (Role.athlete, (QUEUE, TEAM)),
        (Role.finance, (QUEUE, TEAM)),
        (Role.team_manager, (QUEUE,)),
        (Role.coach, (TEAM, "views/finance.py")),
    ],
)
def test_who_does_not_see_the_coach_pages(
    dashboard: Dashboard, committed: Committed, role: Role, pages: tuple[str, ...]
) -> None:
    dashboard.sign_in(committed.account(role))

    for page in pages:
        with pytest.raises(ValueError):
            dashboard.go_to(page)
