"""GDPR exports (Art. 20): a user with data in every place the platform keeps it gets all
of it back, decrypted, in a ZIP whose export.json validates against the shipped schema,
and nothing of anyone else; the API flow (ask, the worker, the status with its signed
link, the download, once a week); refused links; the file sealed at rest; the sweep;
the worker's job; the administrator's CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import typer
from fastapi import APIRouter, Depends
from sqlalchemy import delete, select
from typer.testing import CliRunner

from api.gateway import gatekeeper
from api.routes import gdpr as gdpr_routes
from cli.gdpr_export import export_command
from jobs.gdpr_exports import export_job, sweep_exports_job
from tests.support.factories import TEST_CONTEXT, bearer, create_user, login
from tests.support.units import savepoint_units
from wellcoach.access import Subject
from wellcoach.accounts.schemas import ConsentChange
from wellcoach.accounts.service import change_consents
from wellcoach.audit import record
from wellcoach.chat import service as chat
from wellcoach.chat.schemas import MoodIn, SendMessageIn
from wellcoach.crypto.files import SealedReader
from wellcoach.db.base import utcnow
from wellcoach.escalation.service import open_escalation
from wellcoach.escalation.workflow import transition
from wellcoach.gdpr import exports
from wellcoach.gdpr.export import collect, write_zip
from wellcoach.health import repository as health_repository
from wellcoach.health.samples import Sample
from wellcoach.health.service import store_samples
from wellcoach.models import (
    AuditLog,
    ChatSession,
    GdprRequest,
    LlmCall,
    User,
)
from wellcoach.models.enums import (
    EscalationReason,
    EscalationStatus,
    GdprStatus,
    HealthMetricType,
    HealthSource,
    Role,
    Urgency,
)

runner = CliRunner()
CONSENTS = {"data_processing": True, "health_data": True}
SCHEMA = json.loads(
    resources.files("wellcoach.gdpr").joinpath("export.schema.json").read_text("utf-8")
)
validator = jsonschema.Draft202012Validator(SCHEMA)


@pytest.fixture
def app(app):
    """The app with the GDPR export routes (a no-op once api/main.py includes them)."""
    if not any(getattr(route, "path", "") == "/v1/me/export" for route in app.routes):
        v1 = APIRouter(prefix="/v1", dependencies=[Depends(gatekeeper)])
        v1.include_router(gdpr_routes.router)
        app.include_router(v1)
    return app


# -- a user with data everywhere


@dataclass
class Planted:
    """What was written for a user, in the clear, to be found again in the export."""

    user: User
    messages: list[str]
    summary: str
    mood_notes: list[str]
    escalation_message: str
    escalation_note: str
    steps: list[float]
    heart_rates: list[float]
    device: str
    import_id: uuid.UUID
    ledger_ids: list[uuid.UUID]
    secret: str  # a word in every text, to search the raw bytes for


async def plant(db_session, platform, *, tag: str) -> Planted:
    vault = platform.vault
    user = await create_user(
        db_session, platform, consents=CONSENTS, name=f"Athlete {tag}", sport="rowing"
    )
    # consents changed twice: marketing granted, then health data withdrawn
    await change_consents(db_session, user, ConsentChange(marketing=True), TEST_CONTEXT)
    await change_consents(db_session, user, ConsentChange(health_data=False), TEST_CONTEXT)
    await change_consents(db_session, user, ConsentChange(health_data=True), TEST_CONTEXT)

    messages = []
    session_ids = []
    for n in range(2):
        opened = await chat.start_session(db_session, vault, user)
        session_ids.append(opened.id)
        for m in range(2):
            text = f"{tag} message {n}.{m}: I feel nervous before the regatta"
            await chat.accept(db_session, vault, user, opened.id, SendMessageIn(content=text))
            messages.append(text)
    summary = f"{tag} summary: worried about the regatta, sleeping badly"
    first = await db_session.get(ChatSession, session_ids[0])
    first.summary_encrypted = await vault.seal_text(
        db_session, user.id, summary, purpose="session_summary"
    )
    first.ended_at = utcnow()

    mood_notes = [f"{tag} mood note: tired legs", f"{tag} mood note: better today"]
    for mood, note in zip((2, 4), mood_notes, strict=True):
        await chat.log_mood(
            db_session, vault, user, session_ids[0], MoodIn(mood=mood, stress=3, note=note)
        )

    now = utcnow().replace(microsecond=0)
    device = f"{tag}'s Watch"
    steps = [1234.0, 2345.0]
    heart_rates = [61.0, 72.0]
    samples = [
        Sample(
            HealthMetricType.steps,
            HealthSource.apple_health,
            now - timedelta(days=d + 1, hours=1),
            now - timedelta(days=d + 1),
            value,
            "count",
            device=device,
        )
        for d, value in enumerate(steps)
    ] + [
        Sample(
            HealthMetricType.heart_rate,
            HealthSource.google_health,
            now - timedelta(hours=h + 2),
            now - timedelta(hours=h + 2),
            value,
            "count/min",
        )
        for h, value in enumerate(heart_rates)
    ]
    await store_samples(db_session, vault, platform.health_store, user.id, samples)
    health_import = await health_repository.new_import(db_session, user.id, 4096)

    escalation_message = f"{tag} escalation: I need to talk to someone"
    escalation = await open_escalation(
        db_session,
        vault,
        user_id=user.id,
        reason=EscalationReason.needs_human_support,
        urgency=Urgency.medium,
        message=escalation_message,
        context={"topic": f"{tag} context"},
        request=TEST_CONTEXT,
        session_id=session_ids[1],
    )
    escalation_note = f"{tag} triage note"
    await transition(
        db_session,
        vault,
        escalation,
        EscalationStatus.triaged,
        actor=None,
        note=escalation_note,
    )

    ledger_ids = []
    for purpose in ("chat", "session_summary"):
        call = LlmCall(
            id=uuid.uuid4(),
            user_id=user.id,
            tier="free",
            purpose=purpose,
            provider="openai",
            model="gpt-4o-mini",
            tokens_in=100,
            tokens_out=40,
            cost_usd=Decimal("0.00012345"),
            session_id=session_ids[0],
        )
        db_session.add(call)
        ledger_ids.append(call.id)
    await record(
        db_session,
        "profile.update",
        context=TEST_CONTEXT,
        user_id=user.id,
        actor_id=user.id,
        details={"fields": ["sport"]},
    )
    await db_session.flush()
    return Planted(
        user=user,
        messages=messages,
        summary=summary,
        mood_notes=mood_notes,
        escalation_message=escalation_message,
        escalation_note=escalation_note,
        steps=steps,
        heart_rates=heart_rates,
        device=device,
        import_id=health_import.id,
        ledger_ids=ledger_ids,
        secret=tag,
    )


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def check_everything(doc: dict, planted: Planted) -> None:
    """Every planted item is in the document, decrypted."""
    validator.validate(doc)
    assert doc["format_version"] == "1.0" and doc["user_id"] == str(planted.user.id)
    profile = doc["personal_data"]["profile"]
    assert (profile["email"], profile["name"], profile["sport"]) == (
        planted.user.email,
        planted.user.name,
        "rowing",
    )
    consents = doc["personal_data"]["consents"]
    assert consents["current"] == {"data_processing": True, "health_data": True, "marketing": True}
    history = [(r["purpose"], r["granted"]) for r in consents["history"]]
    assert ("marketing", True) in history and ("health_data", False) in history
    assert history.count(("health_data", True)) == 2 and len(history) == 5

    sessions = doc["chat_history"]["sessions"]
    assert len(sessions) == 2
    assert [m["content"] for s in sessions for m in s["messages"]] == planted.messages
    assert {m["type"] for s in sessions for m in s["messages"]} == {"user"}
    assert sessions[0]["summary"] == planted.summary and sessions[1]["summary"] is None
    assert "preferences" in sessions[0]["context"]

    assert [m["note"] for m in doc["mood_entries"]] == planted.mood_notes
    assert [m["mood"] for m in doc["mood_entries"]] == [2, 4]

    samples = doc["health_data"]["samples"]
    by_metric: dict[str, list[float]] = {}
    for s in samples:
        by_metric.setdefault(s["metric"], []).append(s["value"])
    assert sorted(by_metric["steps"]) == sorted(planted.steps)
    assert sorted(by_metric["heart_rate"]) == sorted(planted.heart_rates)
    assert {s["device"] for s in samples if s["metric"] == "steps"} == {planted.device}
    assert [i["id"] for i in doc["health_data"]["imports"]] == [str(planted.import_id)]
    assert doc["health_data"]["imports"][0]["size_bytes"] == 4096

    (escalation,) = doc["escalations"]
    assert escalation["message"] == planted.escalation_message
    assert escalation["context"] == {"topic": f"{planted.secret} context"}
    assert escalation["status"] == "triaged"
    notes = [e["note"] for e in escalation["events"] if e["note"]]
    assert {"kind": "note", "text": planted.escalation_note} in notes
    assert escalation["events"][-1]["to_status"] == "triaged"

    analytics = doc["analytics"]
    assert sorted(c["id"] for c in analytics["ai_calls"]) == sorted(map(str, planted.ledger_ids))
    assert {c["cost_usd"] for c in analytics["ai_calls"]} == {"0.00012345"}
    usage = analytics["usage"]
    assert (usage["chat_sessions"], usage["messages"], usage["mood_entries"]) == (2, 4, 2)
    assert (usage["health_samples"], usage["escalations"], usage["ai_calls"]) == (4, 1, 2)
    assert usage["ai_tokens_in"] == 200 and Decimal(usage["ai_cost_usd"]) == Decimal("0.0002469")

    actions = {entry["action"] for entry in doc["audit_log"]}
    assert {"consent.change", "profile.update", "escalation.open"} <= actions


async def test_the_export_holds_everything_about_the_user_and_nothing_of_anyone_else(
    db_session, platform
):
    planted = await plant(db_session, platform, tag="Ottavia")
    other = await plant(db_session, platform, tag="Bartolomeo")

    doc = await collect(
        db_session, platform.vault, platform.health_store, planted.user.id, now=utcnow()
    )
    check_everything(doc, planted)

    out = io.BytesIO()
    write_zip(doc, out)
    files = unzip(out.getvalue())
    assert sorted(files) == ["README.txt", "chat_history.csv", "export.json", "health_data.csv"]
    assert json.loads(files["export.json"]) == doc
    assert b"export.json" in files["README.txt"] and b"health_data.csv" in files["README.txt"]

    chat_rows = csv_rows(files["chat_history.csv"])
    assert [r["content"] for r in chat_rows] == planted.messages
    assert {r["session_id"] for r in chat_rows} == {
        s["id"] for s in doc["chat_history"]["sessions"]
    }
    health_rows = csv_rows(files["health_data.csv"])
    assert len(health_rows) == 4
    assert sorted(float(r["value"]) for r in health_rows if r["metric"] == "steps") == sorted(
        planted.steps
    )
    assert {r["device"] for r in health_rows if r["metric"] == "steps"} == {planted.device}
    assert all(r["unit"] for r in health_rows) and all(r["start"] for r in health_rows)

    # nothing of the other user: their texts, email, ids
    everything = b"".join(files.values())
    assert other.secret.encode() not in everything
    assert other.user.email.encode() not in everything
    assert str(other.user.id).encode() not in everything
    for ledger_id in other.ledger_ids:
        assert str(ledger_id).encode() not in everything


async def test_a_user_with_nothing_yet_gets_a_valid_export(db_session, platform):
    user = await create_user(db_session, platform)
    doc = await collect(db_session, platform.vault, platform.health_store, user.id, now=utcnow())
    validator.validate(doc)
    assert doc["chat_history"]["sessions"] == [] and doc["health_data"]["samples"] == []
    files = unzip(_zip(doc))
    assert csv_rows(files["chat_history.csv"]) == [] and csv_rows(files["health_data.csv"]) == []


def _zip(doc: dict) -> bytes:
    out = io.BytesIO()
    write_zip(doc, out)
    return out.getvalue()


# -- the API flow, its worker run inside the test's transaction


def directory_of(settings) -> Path:
    return exports.export_directory(settings.data_path)


async def run(app, platform, settings, export_id: str) -> GdprRequest:
    return await exports.run_export(
        app.state.units,
        platform.vault,
        platform.health_store,
        directory_of(settings),
        uuid.UUID(export_id),
        link_hours=settings.gdpr.export_link_hours,
    )


def local_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_ask_build_check_and_download_an_export_once_a_week(
    client, app, db_session, platform, settings
):
    planted = await plant(db_session, platform, tag="Gianmaria")
    headers = bearer(await login(client, planted.user.email))

    asked = await client.post("/v1/me/export", headers=headers)
    assert asked.status_code == 202, asked.text
    pending = asked.json()
    assert (pending["status"], pending["download_url"], pending["expires_at"]) == (
        "pending",
        None,
        None,
    )
    shown = await client.get(f"/v1/me/exports/{pending['id']}", headers=headers)
    assert shown.status_code == 200 and shown.json()["status"] == "pending"

    # a second request within the week is refused by the data_export policy
    again = await client.post("/v1/me/export", headers=headers)
    assert again.status_code == 429, again.text
    assert again.json()["error"]["code"] == "rate_limited"
    assert int(again.headers["Retry-After"]) > 24 * 3600

    before = utcnow()
    done = await run(app, platform, settings, pending["id"])
    assert done.status == GdprStatus.completed and done.error is None
    # the worker again (an RQ retry) leaves a finished export as it is
    assert (await run(app, platform, settings, pending["id"])).completed_at == done.completed_at

    status = (await client.get(f"/v1/me/exports/{pending['id']}", headers=headers)).json()
    assert status["status"] == "completed" and status["download_url"]
    expires = datetime.fromisoformat(status["expires_at"])
    hours = settings.gdpr.export_link_hours
    assert before + timedelta(hours=hours) <= expires <= utcnow() + timedelta(hours=hours)
    assert f"/v1/me/exports/{pending['id']}/download?token=" in status["download_url"]

    # at rest: sealed, private, no plaintext
    sealed = exports.artifact_path(directory_of(settings), uuid.UUID(pending["id"]))
    at_rest = sealed.read_bytes()
    assert sealed.stat().st_mode & 0o077 == 0
    assert planted.user.email.encode() not in at_rest
    assert planted.secret.encode() not in at_rest and b"export.json" not in at_rest
    assert not at_rest[8:].startswith(b"PK")

    # the download needs no bearer token: the signed link is the credential
    downloaded = await client.get(local_url(status["download_url"]))
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"] == "application/zip"
    disposition = downloaded.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and ".zip" in disposition
    assert downloaded.headers["cache-control"] == "no-store"
    open_any = await platform.vault.opener_any(db_session, planted.user.id)
    with open(sealed, "rb") as raw:
        reader = SealedReader(
            raw, lambda i, blob: open_any(blob, f"gdpr_export:{pending['id']}:{i}")
        )
        assert downloaded.content == reader.read()
    doc = json.loads(unzip(downloaded.content)["export.json"])
    check_everything(doc, planted)
    # the export's own request is in its audit log
    assert "gdpr.export_requested" in {entry["action"] for entry in doc["audit_log"]}

    # every step audited, with ids and counts only
    entries = list(
        await db_session.scalars(
            select(AuditLog)
            .where(AuditLog.user_id == planted.user.id, AuditLog.action.like("gdpr.export_%"))
            .order_by(AuditLog.created_at)
        )
    )
    assert [e.action for e in entries] == [
        "gdpr.export_requested",
        "gdpr.export_completed",
        "gdpr.export_downloaded",
    ]
    for entry in entries:
        assert entry.resource_id == pending["id"]
        assert planted.secret not in json.dumps(entry.details)
        assert planted.user.email not in json.dumps(entry.details)


async def test_tampered_foreign_and_expired_links_are_refused(
    client, app, db_session, platform, settings
):
    user = await create_user(db_session, platform, consents=CONSENTS)
    headers = bearer(await login(client, user.email))
    export_id = (await client.post("/v1/me/export", headers=headers)).json()["id"]
    await run(app, platform, settings, export_id)
    url = (await client.get(f"/v1/me/exports/{export_id}", headers=headers)).json()["download_url"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    path = f"/v1/me/exports/{export_id}/download"

    def refused(response, status: int, code: str) -> None:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code

    # altered in its signature, in its claims; of another export; signed with another key
    head, claims, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    refused(
        await client.get(path, params={"token": f"{head}.{claims}.{flipped}"}),
        403,
        "export_link_invalid",
    )
    refused(await client.get(path, params={"token": "not-a-token"}), 403, "export_link_invalid")
    other = f"/v1/me/exports/{uuid.uuid4()}/download"
    refused(await client.get(other, params={"token": token}), 403, "export_link_invalid")
    row = await db_session.get(GdprRequest, uuid.UUID(export_id))
    forged_keyring = type(platform.vault.keyring)(b"\x01" * 32)
    forged = exports.sign_link(forged_keyring, row)
    refused(await client.get(path, params={"token": forged}), 403, "export_link_invalid")
    # Italian, like every error
    italian = await client.get(path, params={"token": "a.b.c"}, headers={"Accept-Language": "it"})
    assert italian.json()["error"]["message"] == "Questo link di download non è valido."

    # still valid: downloads
    assert (await client.get(path, params={"token": token})).status_code == 200

    # expired: the token's own expiry, and an export whose time is over
    row.due_at = utcnow() - timedelta(minutes=1)
    await db_session.flush()
    refused(await client.get(path, params={"token": token}), 410, "export_link_expired")
    expired_token = exports.sign_link(platform.vault.keyring, row)
    refused(await client.get(path, params={"token": expired_token}), 410, "export_link_expired")
    status = (await client.get(f"/v1/me/exports/{export_id}", headers=headers)).json()
    assert (status["status"], status["download_url"]) == ("expired", None)


async def test_someone_elses_export_is_not_found(client, app, db_session, platform, settings):
    owner = await create_user(db_session, platform)
    export_id = (
        await client.post("/v1/me/export", headers=bearer(await login(client, owner.email)))
    ).json()["id"]
    intruder = await create_user(db_session, platform)
    shown = await client.get(
        f"/v1/me/exports/{export_id}", headers=bearer(await login(client, intruder.email))
    )
    assert shown.status_code == 404
    assert (await client.get(f"/v1/me/exports/{export_id}")).status_code == 401


async def test_an_export_fails_with_a_code_when_the_key_is_shredded(db_session, platform, tmp_path):
    user = await create_user(db_session, platform)
    row = await exports.request_export(db_session, user, requested_by=user.id, request=TEST_CONTEXT)
    # asking again while one is pending returns that one
    assert (
        await exports.request_export(db_session, user, requested_by=user.id, request=TEST_CONTEXT)
    ).id == row.id
    await platform.vault.destroy_user_key(db_session, user.id)
    await db_session.flush()
    units = savepoint_units(db_session.bind)
    failed = await exports.run_export(
        units, platform.vault, platform.health_store, tmp_path, row.id
    )
    assert (failed.status, failed.error) == (GdprStatus.failed, "key_shredded")
    assert list(tmp_path.iterdir()) == []
    action = await db_session.scalar(
        select(AuditLog.action).where(
            AuditLog.resource_id == str(row.id), AuditLog.action == "gdpr.export_failed"
        )
    )
    assert action == "gdpr.export_failed"


async def test_the_sweep_deletes_exports_nobody_may_download(db_session, platform, tmp_path):
    user = await create_user(db_session, platform)
    now = utcnow()

    def export(status: GdprStatus, due_at: datetime | None) -> GdprRequest:
        row = GdprRequest(
            id=uuid.uuid4(),
            user_id=user.id,
            kind="export",
            status=status,
            requested_at=now,
            due_at=due_at,
            artifact_path=None,
            details={},
        )
        db_session.add(row)
        exports.artifact_path(tmp_path, row.id).write_bytes(b"sealed")
        row.artifact_path = f"{row.id}.sealed"
        return row

    live = export(GdprStatus.completed, now + timedelta(hours=1))
    expired = export(GdprStatus.completed, now - timedelta(minutes=1))
    failed = export(GdprStatus.failed, None)
    running = export(GdprStatus.running, None)
    await db_session.flush()
    orphan = exports.artifact_path(tmp_path, uuid.uuid4())
    orphan.write_bytes(b"sealed")
    (tmp_path / "notes.txt").write_text("not an export")

    assert await exports.sweep_exports(db_session, tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{live.id}.sealed", f"{running.id}.sealed", "notes.txt"]
    )
    assert expired.artifact_path is None and failed.artifact_path is None


# -- committed, as the worker and an operator run them


async def committed_user(platform) -> User:
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform, consents=CONSENTS)
        opened = await chat.start_session(session, platform.vault, user)
        await chat.accept(
            session, platform.vault, user, opened.id, SendMessageIn(content="committed words")
        )
        return user


async def forget(platform, user_id: uuid.UUID) -> None:
    async with platform.unit_of_work() as session:
        await session.execute(delete(GdprRequest).where(GdprRequest.user_id == user_id))
        await session.execute(delete(AuditLog).where(AuditLog.user_id == user_id))
        await session.execute(delete(User).where(User.id == user_id))


async def test_the_job_builds_the_export_once_and_the_sweep_deletes_it_when_expired(
    cli_env, settings, platform
):
    user = await committed_user(platform)
    try:
        async with platform.unit_of_work() as session:
            row = await exports.request_export(
                session, user, requested_by=user.id, request=TEST_CONTEXT
            )
            export_id = row.id
        result = await asyncio.to_thread(export_job, str(export_id))
        assert result == {"status": "completed", "error": None}
        sealed = exports.artifact_path(directory_of(settings), export_id)
        assert sealed.exists() and b"committed words" not in sealed.read_bytes()
        assert await asyncio.to_thread(export_job, str(export_id)) == result

        async with platform.unit_of_work() as session:
            found = await session.get(GdprRequest, export_id)
            found.due_at = utcnow() - timedelta(seconds=1)
        swept = await asyncio.to_thread(sweep_exports_job)
        assert swept["deleted"] >= 1 and not sealed.exists()
    finally:
        await forget(platform, user.id)


async def test_the_cli_writes_the_zip_and_audits_it(cli_env, platform, tmp_path):
    user = await committed_user(platform)
    command = typer.Typer()
    command.command("export")(export_command)
    out = tmp_path / "export.zip"
    try:
        result = await asyncio.to_thread(
            runner.invoke, command, [user.email, "--out", str(out), "--json"]
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["user_id"] == str(user.id) and data["messages"] == 1
        files = unzip(out.read_bytes())
        doc = json.loads(files["export.json"])
        validator.validate(doc)
        assert doc["personal_data"]["profile"]["email"] == user.email
        assert csv_rows(files["chat_history.csv"])[0]["content"] == "committed words"
        assert out.stat().st_mode & 0o077 == 0
        async with platform.unit_of_work() as session:
            entries = list(
                await session.scalars(
                    select(AuditLog).where(
                        AuditLog.user_id == user.id, AuditLog.action.like("gdpr.export_%")
                    )
                )
            )
            assert sorted(e.action for e in entries) == [
                "gdpr.export_completed",
                "gdpr.export_requested",
            ]
            assert {e.details["source"] for e in entries} == {"cli"}
            request = await session.get(GdprRequest, uuid.UUID(data["request_id"]))
            assert request.status == GdprStatus.completed and request.artifact_path is None

        missing = await asyncio.to_thread(
            runner.invoke, command, ["nobody@example.com", "--out", str(out)]
        )
        assert missing.exit_code == 3
    finally:
        await forget(platform, user.id)


def test_the_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["additionalProperties"] is False


async def test_a_coach_exports_only_their_own_escalations(db_session, platform):
    athlete = await plant(db_session, platform, tag="Athlete")
    coach = await create_user(db_session, platform, role=Role.coach)
    doc = await collect(db_session, platform.vault, platform.health_store, coach.id, now=utcnow())
    assert doc["escalations"] == [] and doc["chat_history"]["sessions"] == []
    assert athlete.secret.encode() not in _zip(doc)
    assert Subject(user_id=coach.id, role=Role.coach).role == Role.coach


class BrokenStore:
    """A health store that cannot answer: the export must be tried again, not lost."""

    name = "broken"

    async def read(self, *args, **kwargs):
        raise RuntimeError("the store is down")


async def test_an_unexpected_failure_leaves_the_export_to_retry_then_gives_up(
    db_session, platform, tmp_path
):
    user = await create_user(db_session, platform)
    row = await exports.request_export(db_session, user, requested_by=user.id, request=TEST_CONTEXT)
    units = savepoint_units(db_session.bind)
    for attempt in range(1, exports.MAX_ATTEMPTS + 1):
        with pytest.raises(RuntimeError):
            await exports.run_export(units, platform.vault, BrokenStore(), tmp_path, row.id)
        await db_session.refresh(row)
        assert row.details["attempts"] == attempt
        expected = GdprStatus.pending if attempt < exports.MAX_ATTEMPTS else GdprStatus.failed
        assert row.status == expected
    assert row.error == "too_many_attempts" and list(tmp_path.iterdir()) == []
