"""Apple Health exports imported the ways a user meets them: `wellcoach health import-apple`
then `wellcoach health summary` (committed, as an operator runs them), and the upload API
with its worker (inside the test's transaction): an iPhone and an Apple Watch counting the
same walks once, a night of sleep stages scored by the documented formula, HRV with its
beat lists, resting HR, a workout with statistics; hostile and oversized uploads; and the
sweep that finds imports whose job was lost."""

from __future__ import annotations

import asyncio
import io
import json
import os
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli
from jobs.health import import_upload_job, requeue_imports_job
from tests.support.apple_export import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    IPHONE,
    WATCH,
    AppleExportBuilder,
)
from tests.support.clients import make_client
from tests.support.factories import TEST_CONTEXT, bearer, create_user, login
from wellcoach.config import HealthSettings
from wellcoach.db.base import utcnow
from wellcoach.health import repository
from wellcoach.health.imports import (
    receive_upload,
    run_upload,
    stale_imports,
    sweep_uploads,
    upload_path,
)
from wellcoach.models import HealthImport, User
from wellcoach.models.enums import HealthImportStatus

runner = CliRunner()
ROME = ZoneInfo("Europe/Rome")
HEALTH = {"data_processing": True, "health_data": True}
STEP_TYPE = b"HKQuantityTypeIdentifierStepCount"


# -- the export: two days before today, in Rome


def days_ago(n: int) -> date:
    return datetime.now(ROME).date() - timedelta(days=n)


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ROME)


# the watch's stages of the night from D2 to D1: (minutes after going to bed at 22:30 on
# D2, minutes long, stage); times are added in UTC, so a change of clocks that night
# changes nothing
NIGHT = [
    (15, 45, "AsleepCore"),
    (60, 60, "AsleepDeep"),
    (120, 10, "Awake"),  # an awakening
    (130, 80, "AsleepCore"),
    (210, 40, "AsleepREM"),
    (250, 5, "Awake"),  # an awakening
    (255, 105, "AsleepCore"),
    (360, 45, "AsleepREM"),
    (405, 75, "AsleepCore"),
    (480, 15, "Awake"),  # after the last sleep: getting up, not a disruption
]
IN_BED_MINUTES = 510  # the iPhone's time in bed, 22:30 to 07:00


def build_export() -> tuple[AppleExportBuilder, dict]:
    """The export, and what the summary must show for it (worked out by hand)."""
    d2, d1 = days_ago(2), days_ago(1)
    b = AppleExportBuilder(tz="Europe/Rome", owner="Mario")
    # D2: two walks counted by both devices (the phone's samples inside the watch's),
    # and a walk with the phone alone (the watch on its charger)
    b.steps(local(d2, 10, 0), local(d2, 10, 10), 1000, device=WATCH)
    b.steps(local(d2, 10, 0, 30), local(d2, 10, 9, 30), 950, device=IPHONE)
    b.steps(local(d2, 13, 0), local(d2, 13, 30), 600, device=IPHONE)
    b.steps(local(d2, 17, 0), local(d2, 17, 20), 2000, device=WATCH)
    b.steps(local(d2, 17, 1), local(d2, 17, 19), 1900, device=IPHONE)
    b.heart_rate(local(d2, 10, 5), 110)
    b.heart_rate(local(d2, 17, 10), 120)
    b.heart_rate(local(d2, 17, 15), 300)  # impossible: rejected
    b.workout(local(d2, 18, 0), local(d2, 18, 45), energy_kcal=450, distance_km=7.5)
    b.activity_summary(d2)
    # the night from D2 to D1
    bedtime = local(d2, 22, 30).astimezone(UTC)
    b.record(
        "HKCategoryTypeIdentifierSleepAnalysis",
        bedtime,
        bedtime + timedelta(minutes=IN_BED_MINUTES),
        "HKCategoryValueSleepAnalysisInBed",
        None,
        device=IPHONE,
    )
    for offset, length, stage in NIGHT:
        start = bedtime + timedelta(minutes=offset)
        b.sleep(start, start + timedelta(minutes=length), stage)
    # D1
    b.resting_heart_rate(local(d1, 0, 0), 52)
    b.hrv(local(d1, 3, 10), 48)
    b.hrv(local(d1, 9, 0), 56)
    b.steps(local(d1, 9, 0), local(d1, 9, 15), 1200, device=WATCH)
    b.steps(local(d1, 19, 0), local(d1, 19, 10), 300, device=IPHONE)
    b.record(
        "HKQuantityTypeIdentifierBodyMass", local(d1, 8), local(d1, 8), 72.5, "kg", device=IPHONE
    )
    b.mindful(local(d1, 12, 0), local(d1, 12, 10))
    b.activity_summary(d1)

    # the sleep score, from the formula in wellcoach/health/sleep.py's docstring
    asleep = sum(length for _, length, stage in NIGHT if stage != "Awake")
    assert asleep == 450
    in_bed = IN_BED_MINUTES  # the night's first sample to its last
    awakenings = 2
    efficiency = asleep / in_bed
    score = round(
        50 * min(asleep, 480) / 480
        + 30 * min(1.0, max(0.0, (efficiency - 0.65) / 0.30))
        + 20 * min(1.0, max(0.0, 1 - awakenings / 5))
    )
    assert score == 82  # 46.9 + 23.2 + 12
    records = 5 + 3 + 1 + 1 + len(NIGHT) + 1 + 2 + 2 + 1 + 1  # Records and the Workout
    expected = {
        "d2": d2.isoformat(),
        "d1": d1.isoformat(),
        "d2_steps": 1000 + 2000 + 600,  # the watch's walks, and the phone-only one
        "d1_steps": 1200 + 300,
        "d2_heart_rate": 115.0,
        "d2_workout_minutes": 45.0,
        "d1_sleep_minutes": float(asleep),
        "d1_sleep_score": score,
        "d1_disruptions": awakenings,
        "d1_hrv": 52.0,
        "d1_resting_hr": 52.0,
        "d1_mindfulness": 10.0,
        "records": records,
        "skipped": 1,  # BodyMass
        "rejected": 1,  # the 300 bpm heart rate
        "stored": records - 2,
    }
    return b, expected


def write_export(builder: AppleExportBuilder, directory: Path, kind: str) -> Path:
    path = directory / f"export.{kind}"
    return builder.write_zip(path) if kind == "zip" else builder.write_xml(path)


def zip_bytes(builder: AppleExportBuilder) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apple_health_export/export.xml", builder.xml_bytes())
    return out.getvalue()


def by_date(summary: dict) -> dict[str, dict]:
    return {day["date"]: day for day in summary["days"]}


def check_days(summary: dict, expected: dict) -> None:
    days = by_date(summary)
    d2, d1 = days[expected["d2"]], days[expected["d1"]]
    assert d2["daily_steps"] == expected["d2_steps"]
    assert d1["daily_steps"] == expected["d1_steps"]
    assert d2["avg_heart_rate"] == expected["d2_heart_rate"]
    assert d2["workout_minutes"] == expected["d2_workout_minutes"]
    assert d1["sleep_minutes"] == expected["d1_sleep_minutes"]
    assert d1["sleep_score"] == expected["d1_sleep_score"]
    assert d2["sleep_score"] is None  # the night belongs to the day it ends on
    assert d1["stress_indicators"] == {
        "hrv": expected["d1_hrv"],
        "resting_hr": expected["d1_resting_hr"],
        "sleep_disruptions": expected["d1_disruptions"],
    }
    assert d1["mindfulness_minutes"] == expected["d1_mindfulness"]
    assert d1["workout_minutes"] is None and d2["stress_indicators"]["hrv"] is None


# -- the CLI, committed as an operator runs it


async def committed_athlete(platform, **fields) -> tuple[uuid.UUID, str]:
    async with platform.unit_of_work() as session:
        user = await create_user(
            session, platform, consents=fields.pop("consents", HEALTH), **fields
        )
        return user.id, user.email


async def cli_json(*args: str) -> dict:
    result = await asyncio.to_thread(runner.invoke, cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["zip", "xml"])
async def test_cli_import_counts_each_walk_once_and_scores_the_night(
    cli_env, platform, tmp_path, kind
):
    user_id, email = await committed_athlete(platform, timezone="Europe/Rome")
    builder, expected = build_export()
    path = write_export(builder, tmp_path, kind)

    first = await cli_json("health", "import-apple", str(path), "--user", email)
    assert first["user_id"] == str(user_id)
    assert (first["records"], first["stored"], first["duplicates"]) == (
        expected["records"],
        expected["stored"],
        0,
    )
    assert (first["skipped"], first["rejected"]) == (expected["skipped"], expected["rejected"])
    # ActivitySummary is not a record: it is neither read as one nor skipped
    assert first["skipped_types"] == {"HKQuantityTypeIdentifierBodyMass": 1, "ActivitySummary": 2}

    summary = await cli_json("health", "summary", email, "--days", "7")
    assert summary["user_id"] == str(user_id) and summary["timezone"] == "Europe/Rome"
    assert len(summary["days"]) == 7
    check_days(summary, expected)
    window = summary["window"]
    assert window["total_steps"] == expected["d2_steps"] + expected["d1_steps"]
    assert window["workout_minutes"] == expected["d2_workout_minutes"]
    assert window["sleep_score"] == expected["d1_sleep_score"]

    again = await cli_json("health", "import-apple", str(path), "--user", str(user_id))
    assert (again["records"], again["stored"], again["duplicates"]) == (
        expected["records"],
        0,
        first["stored"],
    )
    # the same export in the other format is the same samples
    other = write_export(builder, tmp_path, "xml" if kind == "zip" else "zip")
    crossed = await cli_json("health", "import-apple", str(other), "--user", email)
    assert (crossed["stored"], crossed["duplicates"]) == (0, first["stored"])
    check_days(await cli_json("health", "summary", email, "--days", "7"), expected)


async def test_cli_import_without_health_consent_exits_and_stores_nothing(
    cli_env, platform, tmp_path
):
    _, email = await committed_athlete(platform, consents={"data_processing": True})
    builder, _ = build_export()
    path = write_export(builder, tmp_path, "zip")
    result = await asyncio.to_thread(
        runner.invoke, cli, ["health", "import-apple", str(path), "--user", email, "--json"]
    )
    assert result.exit_code == 5, result.output
    assert "consent_required" in result.output


async def test_cli_import_of_phone_and_watch_steps_over_the_same_minutes(
    cli_env, platform, tmp_path
):
    _, email = await committed_athlete(platform, timezone="Europe/Rome")
    d2 = days_ago(2)
    builder = AppleExportBuilder(tz="Europe/Rome")
    builder.steps(local(d2, 10, 0), local(d2, 10, 10), 950, device=IPHONE)
    builder.steps(local(d2, 10, 0), local(d2, 10, 10), 1000, device=WATCH)
    path = write_export(builder, tmp_path, "xml")

    counts = await cli_json("health", "import-apple", str(path), "--user", email)
    summary = await cli_json("health", "summary", email, "--days", "7")
    assert by_date(summary)[d2.isoformat()]["daily_steps"] == 1000  # the watch's
    assert (counts["stored"], counts["duplicates"]) == (2, 0)


# -- the worker's RQ job, on a committed upload


async def chunks(data: bytes, size: int = 64 * 1024):
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def test_the_import_job_imports_a_committed_upload_and_deletes_it(
    cli_env, settings, platform
):
    user_id, _ = await committed_athlete(platform, timezone="Europe/Rome")
    builder, expected = build_export()
    async with platform.unit_of_work() as session:
        user = await session.get(User, user_id)
        assert user is not None
        job = await receive_upload(
            session,
            platform.vault,
            settings.health_upload_path,
            user,
            chunks(zip_bytes(builder)),
            max_bytes=1 << 30,
            request=TEST_CONTEXT,
        )
        import_id = job.id
    sealed = upload_path(settings.health_upload_path, import_id)
    assert sealed.exists()

    result = await asyncio.to_thread(import_upload_job, str(import_id))
    assert result == {"status": "completed", "samples_stored": expected["stored"]}
    assert not sealed.exists()
    async with platform.unit_of_work() as session:
        row = await session.get(HealthImport, import_id, populate_existing=True)
        assert row is not None and row.status == HealthImportStatus.completed
        assert (row.records_seen, row.skipped, row.rejected, row.attempts) == (
            expected["records"],
            1,
            1,
            1,
        )
    # a job run again (an RQ retry) leaves a finished import as it is
    assert await asyncio.to_thread(import_upload_job, str(import_id)) == result


# -- the upload API, its worker run inside the test's transaction


async def athlete(client, db_session, platform, *, consents=HEALTH):
    user = await create_user(db_session, platform, consents=consents, timezone="Europe/Rome")
    return user, bearer(await login(client, user.email))


def work(app, platform, settings, import_id: str):
    """The worker's import, on the app's units (the test's transaction)."""
    return run_upload(
        app.state.units,
        platform.vault,
        platform.health_store,
        platform.redis,
        settings.health_upload_path,
        uuid.UUID(import_id),
    )


async def upload(client, headers, body: bytes, kind: str):
    return await client.post(
        "/v1/health/imports", content=body, headers={**headers, "Content-Type": kind}
    )


@pytest.mark.parametrize("kind", ["application/zip", "application/xml"])
async def test_an_upload_is_sealed_imported_by_the_worker_and_deleted(
    client, app, db_session, platform, settings, kind
):
    _, headers = await athlete(client, db_session, platform)
    builder, expected = build_export()
    body = zip_bytes(builder) if kind == "application/zip" else builder.xml_bytes()

    response = await upload(client, headers, body, kind)
    assert response.status_code == 202, response.text
    pending = response.json()
    assert (pending["status"], pending["progress"], pending["size_bytes"]) == (
        "pending",
        0.0,
        len(body),
    )
    assert pending["records_seen"] == 0 and pending["error_code"] is None

    sealed = upload_path(settings.health_upload_path, uuid.UUID(pending["id"]))
    at_rest = sealed.read_bytes()
    assert STEP_TYPE not in at_rest and b"apple_health_export" not in at_rest
    assert body[:64] not in at_rest and not at_rest[8:].startswith(b"PK")
    assert sealed.stat().st_mode & 0o077 == 0

    shown = await client.get(f"/v1/health/imports/{pending['id']}", headers=headers)
    assert shown.status_code == 200 and shown.json()["status"] == "pending"

    await work(app, platform, settings, pending["id"])
    assert not sealed.exists()
    done = (await client.get(f"/v1/health/imports/{pending['id']}", headers=headers)).json()
    assert (done["status"], done["progress"], done["error_code"]) == ("completed", 1.0, None)
    assert (done["records_seen"], done["samples_stored"], done["duplicates"]) == (
        expected["records"],
        expected["stored"],
        0,
    )
    assert (done["skipped"], done["rejected"]) == (1, 1)
    assert done["started_at"] is not None and done["finished_at"] is not None

    summary = await client.get("/v1/health/summary", params={"days": 7}, headers=headers)
    assert summary.status_code == 200, summary.text
    check_days(summary.json(), expected)

    # the same export uploaded again stores nothing twice
    second = (await upload(client, headers, body, kind)).json()
    await work(app, platform, settings, second["id"])
    again = (await client.get(f"/v1/health/imports/{second['id']}", headers=headers)).json()
    assert again["status"] == "completed"
    assert (again["samples_stored"], again["duplicates"]) == (0, expected["stored"])


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion_laughs", "external_entity"]
)
async def test_a_hostile_upload_fails_the_import_and_is_deleted(
    client, app, db_session, platform, settings, body
):
    _, headers = await athlete(client, db_session, platform)
    response = await upload(client, headers, body, "application/xml")
    assert response.status_code == 202, response.text
    import_id = response.json()["id"]
    sealed = upload_path(settings.health_upload_path, uuid.UUID(import_id))
    assert sealed.exists()

    await work(app, platform, settings, import_id)
    assert not sealed.exists()
    shown = (await client.get(f"/v1/health/imports/{import_id}", headers=headers)).json()
    assert (shown["status"], shown["error_code"]) == ("failed", "invalid_health_export")
    assert shown["samples_stored"] == 0 and shown["finished_at"] is not None


async def test_a_zip_without_export_xml_fails_the_import(
    client, app, db_session, platform, settings
):
    _, headers = await athlete(client, db_session, platform)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
    import_id = (await upload(client, headers, out.getvalue(), "application/zip")).json()["id"]
    await work(app, platform, settings, import_id)
    shown = (await client.get(f"/v1/health/imports/{import_id}", headers=headers)).json()
    assert (shown["status"], shown["error_code"]) == ("failed", "invalid_health_export")
    assert not upload_path(settings.health_upload_path, uuid.UUID(import_id)).exists()


async def test_other_media_types_are_refused(client, db_session, platform, settings):
    user, headers = await athlete(client, db_session, platform)
    before = set(settings.health_upload_path.iterdir())
    response = await upload(client, headers, b"steps: 1000", "text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert set(settings.health_upload_path.iterdir()) == before
    count = select(func.count()).select_from(HealthImport).where(HealthImport.user_id == user.id)
    assert await db_session.scalar(count) == 0


async def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(
    app, db_session, platform, settings
):
    small = settings.model_copy(update={"health": HealthSettings(max_upload_mb=1)})
    limited_app = create_app(small, platform.with_settings(small), units=app.state.units)
    body = b"<" + b"x" * (1 << 20)  # one byte over 1 MiB
    async with make_client(limited_app) as client:
        user, headers = await athlete(client, db_session, platform)
        before = set(settings.health_upload_path.iterdir())

        declared = await upload(client, headers, body, "application/zip")
        assert declared.status_code == 413, declared.text
        error = declared.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"max_bytes": 1 << 20}

        # no Content-Length (chunked): refused while it streams, the partial file deleted
        streamed = await client.post(
            "/v1/health/imports",
            content=chunks(body),
            headers={**headers, "Content-Type": "application/zip"},
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["code"] == "payload_too_large"

        # exactly at the limit is accepted
        at_limit = await upload(client, headers, body[:-1], "application/xml")
        assert at_limit.status_code == 202, at_limit.text
    kept = set(settings.health_upload_path.iterdir()) - before
    assert kept == {upload_path(settings.health_upload_path, uuid.UUID(at_limit.json()["id"]))}
    count = select(func.count()).select_from(HealthImport).where(HealthImport.user_id == user.id)
    assert await db_session.scalar(count) == 1
    for path in kept:
        path.unlink()


async def test_an_empty_streamed_upload_is_an_invalid_export(client, db_session, platform):
    _, headers = await athlete(client, db_session, platform)

    async def nothing():
        return
        yield b""

    response = await client.post(
        "/v1/health/imports",
        content=nothing(),
        headers={**headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_health_export"


async def test_an_empty_upload_with_a_length_is_an_invalid_export(client, db_session, platform):
    _, headers = await athlete(client, db_session, platform)
    response = await upload(client, headers, b"", "application/zip")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_health_export"


async def test_uploads_need_the_health_consent(client, db_session, platform, settings):
    user, headers = await athlete(client, db_session, platform, consents={"data_processing": True})
    before = set(settings.health_upload_path.iterdir())
    builder, _ = build_export()
    response = await upload(client, headers, zip_bytes(builder), "application/zip")
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "consent_required" and error["details"] == {"consent": "health_data"}
    assert set(settings.health_upload_path.iterdir()) == before


async def test_another_users_import_is_not_found(client, app, db_session, platform, settings):
    _, owner = await athlete(client, db_session, platform)
    _, other = await athlete(client, db_session, platform)
    builder, _ = build_export()
    import_id = (await upload(client, owner, zip_bytes(builder), "application/zip")).json()["id"]

    assert (await client.get(f"/v1/health/imports/{import_id}", headers=owner)).status_code == 200
    hidden = await client.get(f"/v1/health/imports/{import_id}", headers=other)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    missing = await client.get(f"/v1/health/imports/{uuid.uuid4()}", headers=owner)
    assert missing.status_code == 404
    assert (await client.get(f"/v1/health/imports/{import_id}")).status_code == 401
    await work(app, platform, settings, import_id)  # the upload is not left on disk


# -- the sweep of lost imports


async def test_stale_imports_finds_lost_jobs_and_gives_up_after_five_attempts(db_session, platform):
    user = await create_user(db_session, platform, consents=HEALTH)
    now = utcnow()

    async def an_import(age: timedelta, **fields) -> HealthImport:
        job = await repository.new_import(db_session, user.id, 100)
        job.created_at = now - age
        for name, value in fields.items():
            setattr(job, name, value)
        await db_session.flush()
        return job

    lost = await an_import(timedelta(minutes=6), attempts=2)
    fresh = await an_import(timedelta(minutes=1))
    worn_out = await an_import(timedelta(minutes=30), attempts=5)
    busy = await an_import(
        timedelta(minutes=30), status=HealthImportStatus.running, started_at=now, attempts=1
    )
    dead = await an_import(
        timedelta(hours=5),
        status=HealthImportStatus.running,
        started_at=now - timedelta(hours=3),
        attempts=1,
    )
    done = await an_import(timedelta(hours=1), status=HealthImportStatus.completed, finished_at=now)

    found = dict(await stale_imports(db_session))
    mine = {job.id for job in (lost, fresh, worn_out, busy, dead, done)}
    assert {key: value for key, value in found.items() if key in mine} == {
        lost.id: 2,
        dead.id: 1,
    }
    await db_session.flush()
    await db_session.refresh(worn_out)
    assert (worn_out.status, worn_out.error_code) == (
        HealthImportStatus.failed,
        "too_many_attempts",
    )
    assert worn_out.finished_at is not None
    for job in (lost, fresh, busy, dead, done):
        await db_session.refresh(job)
    assert lost.status == HealthImportStatus.pending and fresh.status == HealthImportStatus.pending
    assert busy.status == dead.status == HealthImportStatus.running
    assert done.status == HealthImportStatus.completed


async def test_the_sweep_job_queues_a_lost_import_again(cli_env, platform):
    user_id, _ = await committed_athlete(platform)
    async with platform.unit_of_work() as session:
        job = await repository.new_import(session, user_id, 100)
        job.created_at = utcnow() - timedelta(minutes=10)
        import_id = job.id
    try:
        assert await asyncio.to_thread(requeue_imports_job) >= 1
        # queued again under an id of its own (the first job's id may still be in RQ)
        assert await platform.redis.exists(f"rq:job:health-import-{import_id}-1")
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(HealthImport).where(HealthImport.id == import_id))


async def test_the_sweep_deletes_uploads_no_import_will_read(db_session, platform, tmp_path):
    user = await create_user(db_session, platform, consents=HEALTH)
    pending = await repository.new_import(db_session, user.id, 10)
    failed = await repository.new_import(db_session, user.id, 10)
    failed.status = HealthImportStatus.failed
    await db_session.flush()
    fresh_orphan, old_orphan = uuid.uuid4(), uuid.uuid4()
    for import_id in (pending.id, failed.id, fresh_orphan, old_orphan):
        upload_path(tmp_path, import_id).write_bytes(b"sealed")
    (tmp_path / "notes.txt").write_text("not an upload")
    two_days_ago = (utcnow() - timedelta(days=2)).timestamp()
    os.utime(upload_path(tmp_path, old_orphan), (two_days_ago, two_days_ago))

    assert await sweep_uploads(db_session, tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{pending.id}.sealed", f"{fresh_orphan}.sealed", "notes.txt"]
    )
