"""Signed webhooks against an independent receiver: an HTTP server in a thread that checks
the signature with its own HMAC code (not `verify`), retries, the dead-letter list, the
CLI, and that nothing leaves for a rolled-back change."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from cli.main import app as cli
from jobs.queues import DEFAULT, connect, queue
from jobs.webhooks import DeliveryFailed, RqWebhookQueue, deliver_webhook_job
from tests.support.workers import run_worker_until_idle
from wellcoach.config import Settings, WebhookEndpointSettings, WebhookSettings
from wellcoach.db.base import utcnow
from wellcoach.models import WebhookDelivery
from wellcoach.models.webhooks import WebhookStatus
from wellcoach.notify.webhooks import (
    SWEEP_GRACE,
    InvalidSignature,
    WebhookDataRefused,
    deliver,
    emit,
    encode_body,
    lost_deliveries,
    make_payload,
    retry_intervals,
    signed_headers,
    verify,
)
from wellcoach.platform import Platform

SECRET = "whsec_test_0123456789"
runner = CliRunner()


class Receiver:
    """Answers the next status of `statuses` (the last one forever) and keeps, for each
    request, whether its signature checked out, the parsed header and the body."""

    def __init__(self, statuses: list[int], secret: str = SECRET) -> None:
        self.statuses = list(statuses)
        self.secret = secret
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(receiver.check(dict(self.headers), body))
                status = (
                    receiver.statuses.pop(0)
                    if len(receiver.statuses) > 1
                    else (receiver.statuses[0])
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def check(self, headers: dict[str, str], body: bytes) -> dict:
        """The receiver's own verification, as a third party would write it."""
        parts = dict(p.split("=", 1) for p in headers["Wellcoach-Signature"].split(","))
        expected = hmac.new(
            self.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return {
            "valid": hmac.compare_digest(expected, parts["v1"]),
            "fresh": abs(time.time() - int(parts["t"])) <= 300,
            "headers": headers,
            "body": json.loads(body),
        }

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver([200]) as server:
        yield server


def configured(settings: Settings, *urls: str, max_attempts: int = 6, **extra: object) -> Settings:
    webhooks = WebhookSettings(
        endpoints=[
            WebhookEndpointSettings(url=url, secret=SECRET, events=["escalation.*"]) for url in urls
        ],
        max_attempts=max_attempts,
    )
    return settings.model_copy(update={"webhooks": webhooks, **extra})


def escalation_data() -> dict[str, object]:
    return {
        "escalation_id": uuid.uuid4(),
        "coach_id": uuid.uuid4(),
        "urgency": "critical",
        "sla_due_at": utcnow(),
    }


async def test_the_receiver_verifies_signature_timestamp_and_body(
    db_session: AsyncSession, settings: Settings, receiver: Receiver
) -> None:
    webhooks = configured(settings, receiver.url)
    data = escalation_data()
    [delivery_id] = await emit(db_session, "escalation.assigned", data, settings=webhooks)
    assert await deliver(db_session, delivery_id, webhooks) == "delivered"

    [request] = receiver.requests
    assert request["valid"] and request["fresh"]
    body = request["body"]
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "escalation.assigned"
    assert body["data"]["escalation_id"] == str(data["escalation_id"])
    assert body["data"]["urgency"] == "critical"
    assert request["headers"]["Wellcoach-Event-Id"] == body["id"]
    assert request["headers"]["Content-Type"] == "application/json"
    row = await db_session.get(WebhookDelivery, delivery_id)
    assert row is not None
    assert (row.status, row.attempts, row.last_status_code) == (WebhookStatus.delivered, 1, 200)


async def test_only_subscribed_endpoints_get_a_delivery(
    db_session: AsyncSession, settings: Settings
) -> None:
    webhooks = configured(settings, "http://127.0.0.1:1/a")
    webhooks.webhooks.endpoints.append(
        WebhookEndpointSettings(url="http://127.0.0.1:1/b", secret=SECRET, events=["coach.*"])
    )
    ids = await emit(db_session, "escalation.opened", escalation_data(), settings=webhooks)
    rows = await db_session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    assert [row.endpoint_url for row in rows] == ["http://127.0.0.1:1/a"]


def test_verify_refuses_tampering_replays_and_garbage() -> None:
    payload = make_payload("escalation.responded", {"escalation_id": uuid.uuid4()})
    body = encode_body(payload)
    now = time.time()
    header = signed_headers(SECRET, body, payload["id"], now=now)["Wellcoach-Signature"]

    assert verify(SECRET, body, header, now=now) == int(now)
    assert verify(SECRET, body.decode(), header, now=now + 299) == int(now)
    tampered = body.replace(b"escalation.responded", b"escalation.closed")
    for refused in (
        lambda: verify(SECRET, tampered, header, now=now),
        lambda: verify("another secret", body, header, now=now),
        lambda: verify(SECRET, body, header, now=now + 301),  # replayed later
        lambda: verify(SECRET, body, header, now=now - 301),  # from the future
        lambda: verify(SECRET, body, None),
        lambda: verify(SECRET, body, "v1=abc"),
        lambda: verify(SECRET, body, "t=soon,v1=abc"),
    ):
        with pytest.raises(InvalidSignature):
            refused()


async def test_a_flaky_receiver_gets_the_event_on_the_third_attempt(
    db_session: AsyncSession, settings: Settings
) -> None:
    webhooks = configured(settings, "")
    with Receiver([500, 500, 200]) as flaky:
        webhooks.webhooks.endpoints[0].url = flaky.url
        [delivery_id] = await emit(
            db_session, "escalation.sla_near", escalation_data(), settings=webhooks
        )
        row = await db_session.get(WebhookDelivery, delivery_id)
        assert row is not None
        outcomes = []
        for _ in range(3):
            outcomes.append(await deliver(db_session, delivery_id, webhooks))
            if outcomes[-1] == "retry":
                assert row.next_attempt_at > utcnow()
                # a duplicate job before the backoff has passed does nothing
                assert await deliver(db_session, delivery_id, webhooks) == "skipped"
                row.next_attempt_at = utcnow()  # the backoff, elapsed
                await db_session.flush()
    assert outcomes == ["retry", "retry", "delivered"]
    assert (row.status, row.attempts) == (WebhookStatus.delivered, 3)
    assert all(request["valid"] for request in flaky.requests)
    assert len({request["body"]["id"] for request in flaky.requests}) == 1  # same event id
    assert await deliver(db_session, delivery_id, webhooks) == "skipped"  # never twice


def test_the_backoff_is_exponential() -> None:
    assert retry_intervals(WebhookSettings()) == [15, 60, 240, 960, 3840]
    assert retry_intervals(WebhookSettings(max_attempts=1)) == []


async def test_a_dead_receiver_ends_in_the_dead_letter_list(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, platform: Platform, settings: Settings
) -> None:
    """The real job function and the CLI, on committed rows (their own connections)."""
    with Receiver([500]) as down:
        monkeypatch.setenv(
            "WELLCOACH_WEBHOOKS",
            json.dumps(
                {
                    "endpoints": [{"url": down.url, "secret": SECRET, "events": ["escalation.*"]}],
                    "max_attempts": 3,
                }
            ),
        )
        webhooks = configured(settings, down.url, max_attempts=3)
        async with platform.unit_of_work() as session:
            [delivery_id] = await emit(
                session, "escalation.sla_breached", escalation_data(), settings=webhooks
            )
        try:
            for attempt in (1, 2):
                with pytest.raises(DeliveryFailed):  # RQ retries it
                    await asyncio.to_thread(deliver_webhook_job, str(delivery_id))
                async with platform.unit_of_work() as session:
                    row = await session.get(WebhookDelivery, delivery_id)
                    assert row is not None and row.attempts == attempt
                    row.next_attempt_at = utcnow()
            assert await asyncio.to_thread(deliver_webhook_job, str(delivery_id)) == "dead"
            assert len(down.requests) == 3 and all(r["valid"] for r in down.requests)

            listed = await asyncio.to_thread(runner.invoke, cli, ["webhooks", "dead", "--json"])
            assert listed.exit_code == 0, listed.output
            [mine] = [r for r in json.loads(listed.stdout) if r["id"] == str(delivery_id)]
            assert (mine["attempts"], mine["last_status_code"]) == (3, 500)
            assert mine["last_error"] == "http_500"

            retried = await asyncio.to_thread(
                runner.invoke, cli, ["webhooks", "retry", str(delivery_id)]
            )
            assert retried.exit_code == 0, retried.output
            async with platform.unit_of_work() as session:
                row = await session.get(WebhookDelivery, delivery_id)
                assert row is not None
                assert (row.status, row.attempts) == (WebhookStatus.pending, 0)
            jobs = queue(DEFAULT, connect(platform.urls.redis_url)).get_jobs()
            assert [list(job.args) for job in jobs] == [[str(delivery_id)]]
            again = await asyncio.to_thread(
                runner.invoke, cli, ["webhooks", "retry", str(delivery_id)]
            )
            assert again.exit_code == 4, again.output  # not dead: a conflict
        finally:
            async with platform.unit_of_work() as session:
                await session.execute(
                    delete(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                )


async def test_nothing_is_queued_or_kept_for_a_rolled_back_change(
    platform: Platform, settings: Settings
) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.queued: list[list[uuid.UUID]] = []

        def enqueue(self, delivery_ids: list[uuid.UUID]) -> None:
            self.queued.append(list(delivery_ids))

    webhooks = configured(settings, "http://127.0.0.1:1/hook")
    recorder = Recorder()
    ids: list[uuid.UUID] = []
    with pytest.raises(RuntimeError):
        async with platform.unit_of_work() as session:
            ids = await emit(
                session, "escalation.opened", escalation_data(), settings=webhooks, queue=recorder
            )
            raise RuntimeError("the escalation failed")
    assert ids and recorder.queued == []
    async with platform.unit_of_work() as session:
        assert await session.get(WebhookDelivery, ids[0]) is None

    try:
        async with platform.unit_of_work() as session:
            ids = await emit(
                session, "escalation.opened", escalation_data(), settings=webhooks, queue=recorder
            )
            assert recorder.queued == []  # not before the commit
        assert recorder.queued == [ids]
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))


async def test_payloads_carry_ids_never_personal_text(
    db_session: AsyncSession, settings: Settings
) -> None:
    webhooks = configured(settings, "http://127.0.0.1:1/hook")
    for personal in ("I can't sleep and I feel hopeless", "mario.rossi@example.com " * 5):
        with pytest.raises(WebhookDataRefused):
            await emit(db_session, "escalation.opened", {"reason": personal}, settings=webhooks)
    with pytest.raises(WebhookDataRefused):
        await emit(db_session, "escalation.opened", {"context": {"a": 1}}, settings=webhooks)
    [delivery_id] = await emit(
        db_session, "escalation.opened", escalation_data(), settings=webhooks
    )
    row = await db_session.get(WebhookDelivery, delivery_id)
    assert row is not None
    for value in row.payload["data"].values():
        assert isinstance(value, str) and " " not in value


async def test_production_refuses_plain_http_to_other_hosts(
    db_session: AsyncSession, settings: Settings
) -> None:
    webhooks = configured(
        settings, "http://hooks.example.com/x", "http://127.0.0.1:1/local", env="production"
    )
    ids = await emit(db_session, "escalation.opened", escalation_data(), settings=webhooks)
    rows = {
        row.endpoint_url: row
        for row in await db_session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
        )
    }
    remote = rows["http://hooks.example.com/x"]
    assert (remote.status, remote.last_error) == (WebhookStatus.dead, "insecure_url")
    assert rows["http://127.0.0.1:1/local"].status is WebhookStatus.pending


async def test_the_cli_test_command_sends_a_signed_event(cli_env: None, receiver: Receiver) -> None:
    sent = await asyncio.to_thread(
        runner.invoke, cli, ["webhooks", "test", receiver.url, "--secret", SECRET]
    )
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith(f"200 {receiver.url} in ")
    [request] = receiver.requests
    assert request["valid"] and request["body"]["type"] == "webhook.test"

    receiver.statuses = [503]
    failed = await asyncio.to_thread(
        runner.invoke, cli, ["webhooks", "test", receiver.url, "--secret", SECRET]
    )
    assert failed.exit_code == 1
    unreachable = await asyncio.to_thread(
        runner.invoke, cli, ["webhooks", "test", "http://127.0.0.1:1/", "--secret", SECRET]
    )
    assert unreachable.exit_code == 1
    listed = await asyncio.to_thread(runner.invoke, cli, ["webhooks", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


async def test_a_real_worker_delivers_what_a_commit_queued(
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    platform: Platform,
    settings: Settings,
    receiver: Receiver,
) -> None:
    """`emit` with the RQ queue: the job is queued after the commit and `wellcoach worker
    --burst` (JSON serializer, its own platform) sends it."""
    endpoint = {"url": receiver.url, "secret": SECRET, "events": ["escalation.*"]}
    monkeypatch.setenv("WELLCOACH_WEBHOOKS", json.dumps({"endpoints": [endpoint]}))
    webhooks = configured(settings, receiver.url)
    rq_queue = RqWebhookQueue(platform.urls.redis_url, webhooks.webhooks)
    ids: list[uuid.UUID] = []
    try:
        async with platform.unit_of_work() as session:
            ids = await emit(
                session,
                "escalation.responded",
                escalation_data(),
                settings=webhooks,
                queue=rq_queue,
            )
        await run_worker_until_idle()
        [request] = receiver.requests
        assert request["valid"] and request["fresh"]
        async with platform.unit_of_work() as session:
            row = await session.get(WebhookDelivery, ids[0])
            assert row is not None and row.status is WebhookStatus.delivered
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))


async def test_the_sweep_finds_pending_deliveries_whose_job_was_lost(
    db_session: AsyncSession, settings: Settings
) -> None:
    webhooks = configured(settings, "http://127.0.0.1:1/hook")
    [lost, fresh] = [
        (await emit(db_session, "escalation.opened", escalation_data(), settings=webhooks))[0]
        for _ in range(2)
    ]
    row = await db_session.get(WebhookDelivery, lost)
    assert row is not None
    row.next_attempt_at = utcnow() - SWEEP_GRACE * 2
    await db_session.flush()
    found = await lost_deliveries(db_session, limit=100_000)
    assert lost in found and fresh not in found
