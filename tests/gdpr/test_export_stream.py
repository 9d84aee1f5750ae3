"""The export written as a stream (`write_export`: samples month by month into the ZIP,
straight into a sealed file) is the same ZIP as the document built in memory, and valid
against the shipped schema."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from importlib import resources

import jsonschema

from tests.support.factories import create_user
from wellcoach.crypto.files import SealedReader, SealedWriter
from wellcoach.db.base import utcnow
from wellcoach.gdpr.export import collect, write_export, write_zip
from wellcoach.health import service
from wellcoach.health.samples import Sample
from wellcoach.models.enums import HealthMetricType, HealthSource

SCHEMA = json.loads(
    resources.files("wellcoach.gdpr").joinpath("export.schema.json").read_text("utf-8")
)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_the_streamed_export_equals_the_built_one(db_session, platform):
    user = await create_user(
        db_session, platform, consents={"data_processing": True, "health_data": True}
    )
    now = utcnow()
    start = (now - timedelta(days=75)).replace(microsecond=0)
    samples = [
        Sample(
            HealthMetricType.heart_rate if n % 4 else HealthMetricType.steps,
            HealthSource.apple_health,
            start + timedelta(minutes=30 * n),
            start + timedelta(minutes=30 * n + (0 if n % 4 else 10)),
            float(60 + n % 50),
            "count/min" if n % 4 else "count",
            "Apple Watch",
        )
        for n in range(3000)  # across three months
    ]
    await service.store_samples(db_session, platform.vault, platform.health_store, user.id, samples)

    built = io.BytesIO()
    document = await collect(db_session, platform.vault, platform.health_store, user.id, now=now)
    write_zip(document, built)
    streamed = io.BytesIO()
    returned = await write_export(
        db_session, platform.vault, platform.health_store, user.id, now=now, out=streamed
    )

    expected, got = members(built.getvalue()), members(streamed.getvalue())
    assert set(got) == set(expected)
    assert json.loads(got["export.json"]) == json.loads(expected["export.json"])
    assert got["health_data.csv"] == expected["health_data.csv"]
    assert got["chat_history.csv"] == expected["chat_history.csv"]
    parsed = json.loads(got["export.json"])
    jsonschema.Draft202012Validator(SCHEMA).validate(parsed)
    assert len(parsed["health_data"]["samples"]) == 3000
    assert returned["analytics"]["usage"]["health_samples"] == 3000
    rows = list(csv.reader(io.StringIO(got["health_data.csv"].decode())))
    assert len(rows) == 3001

    # straight into a sealed file, and back
    sealed = io.BytesIO()
    seal = await platform.vault.sealer_any(db_session, user.id)
    writer = SealedWriter(sealed, lambda index, data: seal(data, f"test:{index}"))
    await write_export(
        db_session, platform.vault, platform.health_store, user.id, now=now, out=writer
    )
    size = writer.finish()
    assert b"Apple Watch" not in sealed.getvalue()
    open_any = await platform.vault.opener_any(db_session, user.id)
    sealed.seek(0)
    reader = SealedReader(sealed, lambda index, blob: open_any(blob, f"test:{index}"))
    plain = reader.read()
    assert len(plain) == size
    assert json.loads(members(plain)["export.json"]) == json.loads(expected["export.json"])


async def test_an_export_without_health_data_is_valid(db_session, platform):
    user = await create_user(db_session, platform)
    out = io.BytesIO()
    now = datetime.now(UTC)
    await write_export(db_session, platform.vault, platform.health_store, user.id, now=now, out=out)
    parsed = json.loads(members(out.getvalue())["export.json"])
    assert parsed["health_data"]["samples"] == []
    jsonschema.Draft202012Validator(SCHEMA).validate(parsed)
