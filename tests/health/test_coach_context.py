"""Health data into the coach: with the health_data consent, a chat turn carries the
user's recent summary and alerts (the model's prompt, the offline composer's reply),
such a reply is never shared through the response cache, and alerts ride along with
escalations and raise their triage priority. Without the consent, none of it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.support.factories import bearer, create_user, login
from wellcoach.escalation.cases import triage_escalation
from wellcoach.health import service
from wellcoach.health.samples import Sample
from wellcoach.models import Escalation
from wellcoach.models.enums import HealthMetricType as M
from wellcoach.models.enums import HealthSource as S

ROME = ZoneInfo("Europe/Rome")
QUESTION = "How can I stay motivated for training this week?"
SHORT_SLEEP = "slept under 6 hours for 4 nights running"


async def athlete(client, db_session, platform, *, health=True, **fields):
    consents = {"data_processing": True, "health_data": health}
    user = await create_user(
        db_session, platform, consents=consents, timezone="Europe/Rome", **fields
    )
    return user, bearer(await login(client, user.email))


async def short_nights(db_session, platform, user, nights=4):
    """A month of 7.5 h nights, the last `nights` of them 5 h 30."""
    today = datetime.now(ROME).date()
    samples = []
    for n in range(31):
        day = today - timedelta(days=30 - n)
        bed = datetime.combine(day - timedelta(days=1), time(23), ROME).astimezone(UTC)
        hours = 5.5 if n >= 31 - nights else 7.5
        samples.append(
            Sample(
                M.sleep,
                S.apple_health,
                bed,
                bed + timedelta(hours=hours),
                hours * 60,
                "min",
                "Apple Watch",
                stage="asleep",
            )  # fmt: skip
        )
        samples.append(
            Sample(
                M.resting_heart_rate,
                S.apple_health,
                bed + timedelta(hours=8),
                bed + timedelta(hours=8),
                50.0,
                "count/min",
            )  # fmt: skip
        )
    await service.store_samples(db_session, platform.vault, platform.health_store, user.id, samples)


async def turn(client, headers, text=QUESTION) -> dict:
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    response = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json={"content": text}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_offline_coach_mentions_short_sleep(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform)
    await short_nights(db_session, platform, user)
    reply = (await turn(client, headers))["reply"]["content"]
    assert SHORT_SLEEP in reply
    assert "Recovery is part of training" in reply


async def test_the_offline_coach_says_it_in_italian(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform, language="it")
    await short_nights(db_session, platform, user, nights=3)
    reply = (await turn(client, headers, "Come resto motivato per gli allenamenti?"))["reply"]
    assert "dormi meno di 6 ore da 3 notti di fila" in reply["content"]


async def test_without_consent_the_coach_knows_nothing_of_it(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform)
    await short_nights(db_session, platform, user)
    withdrawn = await client.put("/v1/me/consents", json={"health_data": False}, headers=headers)
    assert withdrawn.status_code == 200
    reply = (await turn(client, headers))["reply"]["content"]
    assert SHORT_SLEEP not in reply and "6 ore" not in reply


async def test_the_models_prompt_carries_the_summary_and_the_alert(
    openai_client, db_session, platform, fake_openai
):
    user, headers = await athlete(openai_client, db_session, platform)
    await short_nights(db_session, platform, user)
    first = await turn(openai_client, headers)
    system = fake_openai.requests_for("chat/completions")[-1].messages[0]["content"]
    assert "Health data from the athlete's devices, last 7 days:" in system
    assert "- resting heart rate 50 bpm" in system
    assert "- ALERT: Under 6 h of sleep for 4 nights running (last night 5 h 30 min)." in system
    # personal context: the reply is never stored for, or served from, the shared cache
    again = await turn(openai_client, headers)
    assert first["reply"]["metadata"]["cache_hit"] is False
    assert again["reply"]["metadata"]["cache_hit"] is False


async def test_a_user_without_health_data_gets_no_health_lines(
    openai_client, db_session, platform, fake_openai
):
    _, headers = await athlete(openai_client, db_session, platform)
    await turn(openai_client, headers)
    system = fake_openai.requests_for("chat/completions")[-1].messages[0]["content"]
    assert "Health data" not in system


async def test_an_escalation_records_the_alerts_and_they_raise_its_priority(
    client, db_session, platform
):
    plain, plain_headers = await athlete(client, db_session, platform)
    tired, tired_headers = await athlete(client, db_session, platform)
    await short_nights(db_session, platform, tired)
    body = {"reason": "needs_human_support", "urgency": "medium", "message": "I am struggling."}
    for headers in (plain_headers, tired_headers):
        response = await client.post("/v1/escalations", json=body, headers=headers)
        assert response.status_code == 201, response.text
    rows = {
        e.user_id: e
        for e in await db_session.scalars(
            select(Escalation).where(Escalation.user_id.in_([plain.id, tired.id]))
        )
    }
    assert rows[tired.id].priority == rows[plain.id].priority + 5
    assert "1 health alert(s) +5" in rows[tired.id].triage["reasons"]
    context = await platform.vault.open_json(
        db_session, tired.id, rows[tired.id].context_encrypted, purpose="escalation_context"
    )
    assert context["health_alerts"] == [
        "Under 6 h of sleep for 4 nights running (last night 5 h 30 min)."
    ]


async def test_a_crisis_escalation_carries_the_alerts_into_triage(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform)
    await short_nights(db_session, platform, user)
    result = await turn(client, headers, "I want to kill myself, I can't go on")
    assert result["crisis"] is True
    escalation = await db_session.scalar(select(Escalation).where(Escalation.user_id == user.id))
    assert escalation is not None
    context = await platform.vault.open_json(
        db_session, user.id, escalation.context_encrypted, purpose="escalation_context"
    )
    assert len(context["health_alerts"]) == 1
    # the SLA watcher triages it later, from what the context recorded
    await triage_escalation(db_session, platform.vault, escalation)
    assert "1 health alert(s) +5" in escalation.triage["reasons"]
