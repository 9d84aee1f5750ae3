"""`wellcoach webhooks`: test an endpoint, list the configured ones, the dead-letter list."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import typer
from rich.table import Table

from cli.common import console, fail, handle_errors, print_json
from jobs.webhooks import RqWebhookQueue
from wellcoach.config import get_settings
from wellcoach.notify.webhooks import dead_letters, endpoint_for, revive, send_test
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Signed webhooks (WELLCOACH_WEBHOOKS).", no_args_is_help=True)


@app.command()
@handle_errors
def test(
    url: str = typer.Argument(..., help="The receiver's URL."),
    secret: str | None = typer.Option(
        None, help="Signing secret; default: the configured endpoint's with this URL."
    ),
) -> None:
    """Send a signed `webhook.test` event now; print the status code and latency."""
    settings = get_settings()
    if secret is None:
        endpoint = endpoint_for(settings, url)
        if endpoint is None:
            fail("invalid_input", "no endpoint with this URL is configured: give --secret", 2)
        secret = endpoint.secret.get_secret_value()
    payload, result = asyncio.run(send_test(url, secret, timeout=settings.webhooks.timeout_seconds))
    line = f"{url} in {result.latency_ms:.0f} ms (event {payload['id']})"
    if result.ok:
        console.print(f"{result.status_code} {line}", soft_wrap=True, highlight=False)
        return
    fail("webhook_failed", f"{result.status_code or result.error} {line}", 1)


@app.command("list")
@handle_errors
def list_endpoints(as_json: bool = typer.Option(False, "--json")) -> None:
    """The configured endpoints (secrets masked)."""
    rows: list[dict[str, Any]] = [
        {"url": e.url, "events": e.events, "secret": "********"}
        for e in get_settings().webhooks.endpoints
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no webhook endpoints are configured (WELLCOACH_WEBHOOKS)")
        return
    table = Table("url", "events", "secret")
    for row in rows:
        table.add_row(row["url"], ", ".join(row["events"]), row["secret"])
    console.print(table)


@app.command()
@handle_errors
def dead(
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The dead-letter list: deliveries that failed every attempt, newest first."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            return [
                {
                    "id": str(r.id),
                    "event_id": str(r.event_id),
                    "type": r.event_type,
                    "endpoint_url": r.endpoint_url,
                    "attempts": r.attempts,
                    "last_status_code": r.last_status_code,
                    "last_error": r.last_error,
                    "created_at": r.created_at.isoformat(),
                }
                for r in await dead_letters(session, limit=limit)
            ]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no dead deliveries")
        return
    table = Table("id", "type", "endpoint", "attempts", "last error", "created")
    for row in rows:
        table.add_row(
            row["id"],
            row["type"],
            row["endpoint_url"],
            str(row["attempts"]),
            str(row["last_status_code"] or row["last_error"]),
            row["created_at"],
        )
    console.print(table)


@app.command()
@handle_errors
def retry(delivery_id: uuid.UUID = typer.Argument(..., help="A dead delivery's id.")) -> None:
    """Give a dead delivery a fresh set of attempts and queue it now."""

    async def work(platform: Platform) -> None:
        async with platform.unit_of_work() as session:
            await revive(session, delivery_id)
        webhook_queue = RqWebhookQueue(platform.urls.redis_url, platform.settings.webhooks)
        await asyncio.to_thread(webhook_queue.enqueue, [delivery_id])

    run_with_platform(work)
    console.print(f"queued {delivery_id} again")
