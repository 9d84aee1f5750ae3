"""Registration over HTTP: throttled per IP and per address (429 with Retry-After), the
same work whether the address is taken or not, and rate-limit keys without addresses."""

from __future__ import annotations

import re
from collections import Counter

import bcrypt
import httpx
import pytest
from sqlalchemy import event, func, select

from api.main import create_app
from tests.support.clients import make_client
from tests.support.factories import PASSWORD, create_user, unique_email
from wellcoach.auth.service import DECOY_DOMAIN
from wellcoach.models import AuditLog, EmailOutbox, User
from wellcoach.platform import open_platform
from wellcoach.ratelimit import pseudonym, pseudonym_key
from wellcoach.runtime.services import ServiceUrls

DEAD_REDIS = "redis://127.0.0.1:1/0"


def body(address: str) -> dict:
    return {
        "email": address,
        "password": PASSWORD,
        "name": "Giulia",
        "role": "athlete",
        "sport": "tennis",
        "language": "en",
        "consents": {"data_processing": True, "health_data": False, "marketing": True},
    }


async def users_named(session, address: str) -> int:
    return await session.scalar(select(func.count()).where(User.email == address)) or 0


async def test_registration_is_throttled_per_ip(app, db_session):
    async with make_client(app, "10.20.0.1") as http:
        for _ in range(10):
            assert (
                await http.post("/v1/auth/register", json=body(unique_email()))
            ).status_code == 202
        refused_address = unique_email()
        refused = await http.post("/v1/auth/register", json=body(refused_address))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert await users_named(db_session, refused_address) == 0  # refused before any work
    async with make_client(app, "10.20.0.2") as other:
        assert (await other.post("/v1/auth/register", json=body(unique_email()))).status_code == 202


async def test_registration_is_throttled_per_address(app, db_session):
    address = unique_email()
    answers = []
    for n in range(4):  # from four IPs: the address is what is counted
        async with make_client(app, f"10.21.0.{n + 1}") as http:
            answers.append(await http.post("/v1/auth/register", json=body(address.upper())))
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    emails = await db_session.scalars(
        select(EmailOutbox.template).where(EmailOutbox.to_address == address)
    )
    assert sorted(emails) == ["already_registered", "already_registered", "verify_email"]


async def test_registration_fails_closed_without_redis(settings, services):
    broken = await open_platform(
        settings, ServiceUrls(services.database_url, DEAD_REDIS, False, False)
    )
    try:
        transport = httpx.ASGITransport(app=create_app(settings, broken))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post("/v1/auth/register", json=body(unique_email()))
    finally:
        await broken.close()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


class Work:
    """What one request does: bcrypt calls, rate-limiter calls, SQL statements by kind."""

    def __init__(self) -> None:
        self.bcrypt: Counter[str] = Counter()
        self.limiter = 0
        self.statements: Counter[str] = Counter()

    def statement(self, conn, cursor, sql: str, *args) -> None:
        words = sql.split()
        verb = words[0].upper()
        if verb == "INSERT":
            kind = f"INSERT {words[2]}"
        elif verb in {"UPDATE", "DELETE"}:
            kind = f"{verb} {words[1 if verb == 'UPDATE' else 2]}"
        elif verb in {"RELEASE", "ROLLBACK"}:
            kind = "END SAVEPOINT"  # a new account's is released, the decoy's rolled back
        else:
            kind = verb
        self.statements[kind] += 1


async def measure(app, platform, monkeypatch, ip: str, address: str) -> Work:
    work = Work()
    hashpw, checkpw, hit = bcrypt.hashpw, bcrypt.checkpw, platform.limiter.hit

    def counted(name, real):
        def call(*args, **kwargs):
            work.bcrypt[name] += 1
            return real(*args, **kwargs)

        return call

    async def counted_hit(*args, **kwargs):
        work.limiter += 1
        return await hit(*args, **kwargs)

    monkeypatch.setattr(bcrypt, "hashpw", counted("hashpw", hashpw))
    monkeypatch.setattr(bcrypt, "checkpw", counted("checkpw", checkpw))
    monkeypatch.setattr(platform.limiter, "hit", counted_hit)
    engine = platform.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", work.statement)
    try:
        async with make_client(app, ip) as http:
            response = await http.post("/v1/auth/register", json=body(address))
    finally:
        event.remove(engine, "before_cursor_execute", work.statement)
        monkeypatch.undo()
    assert response.status_code == 202
    return work


async def test_a_taken_address_costs_the_same_work_as_a_new_one(
    app, db_session, platform, monkeypatch
):
    """The timing leak (a new address took longer) is closed by doing the same work on
    both paths, shown here by counting it; durations are measured outside the suite."""
    taken = await create_user(db_session, platform)
    # the signer (re)loads its keys at most once a minute: load them now, not mid-count
    await platform.signer.sign({"sub": "warm-up"}, audience="warm-up", ttl_seconds=1)
    audits_before = await db_session.scalar(select(func.count()).select_from(AuditLog))

    new = await measure(app, platform, monkeypatch, "10.22.0.1", unique_email())
    existing = await measure(app, platform, monkeypatch, "10.22.0.2", taken.email)

    assert new.bcrypt == existing.bcrypt == Counter({"hashpw": 1})
    assert new.limiter == existing.limiter == 3
    assert new.statements == existing.statements
    assert new.statements["INSERT users"] == 1 and new.statements["INSERT email_outbox"] == 1
    # the decoy's rows were rolled back: only the new account's audit entries remain
    assert (
        await db_session.scalar(select(func.count()).where(User.email.like(f"%@{DECOY_DOMAIN}")))
        == 0
    )
    audits_after = await db_session.scalar(select(func.count()).select_from(AuditLog))
    assert audits_after - audits_before == 2  # user.register and consent.change, once
    notice = await db_session.scalar(
        select(EmailOutbox).where(EmailOutbox.to_address == taken.email)
    )
    assert notice is not None and notice.template == "already_registered"


async def test_rate_limit_keys_carry_no_email_or_ip_address(client, db_session, platform):
    known = await create_user(db_session, platform)
    ghost = unique_email("ghost")
    for address in (ghost, known.email):
        await client.post("/v1/auth/register", json=body(address))
        await client.post("/v1/auth/login", json={"email": address, "password": "wrong password!"})
    keys = [key.decode() async for key in platform.redis.scan_iter("*")]
    limiter_keys = [key for key in keys if ":rl:" in key]
    assert limiter_keys
    for address in (ghost, known.email):
        local = address.split("@")[0]
        assert not [key for key in keys if local in key or address in key]
    assert not [key for key in keys if re.search(r"\d+\.\d+\.\d+\.\d+", key)]
    key = pseudonym_key(platform.vault.keyring.current)
    assert any(pseudonym(key, ghost) in k for k in limiter_keys)  # counted by its keyed hash


@pytest.mark.parametrize("address", ["someone@example.com", "Someone@Example.com "])
def test_pseudonyms_are_keyed_and_hide_the_address(address):
    key = pseudonym_key(b"k" * 32)
    normalized = address.strip().lower()
    assert pseudonym(key, normalized) == pseudonym(key, "someone@example.com")
    assert pseudonym(pseudonym_key(b"j" * 32), normalized) != pseudonym(key, normalized)
    assert "someone" not in pseudonym(key, normalized)
