"""`wellcoach up|api|worker|cron|dashboard|status|stop`: running the platform."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import typer
from rich.table import Table

from cli.common import console, err_console, handle_errors, print_json
from cli.supervisor import dashboard_argv, prepare
from wellcoach.config import Settings, get_settings
from wellcoach.errors import ServiceUnavailable
from wellcoach.runtime import valkey
from wellcoach.runtime.keys import require_master_key
from wellcoach.runtime.services import (
    NOT_RUNNING_HINT,
    check_postgres,
    check_redis,
    redact,
    resolve_services,
    running_embedded_postgres,
    stop_embedded,
    to_async_url,
    to_libpq_url,
    valkey_dir,
)


def _export_urls(settings: Settings, *, needs_key: bool = True) -> Settings:
    """Resolve services once and pin their URLs, so later code attaches instead of starting.

    The master key is checked first: a process that cannot open personal data stops
    with one line before it starts any embedded server (`wellcoach up` generates it)."""
    if needs_key:
        require_master_key(settings)
    urls = resolve_services(settings, start=True)
    os.environ["WELLCOACH_DATABASE_URL"] = urls.database_url
    os.environ["WELLCOACH_REDIS_URL"] = urls.redis_url
    get_settings.cache_clear()
    return get_settings()


@handle_errors
def up(
    keep_services: bool = typer.Option(
        False, help="Leave the embedded PostgreSQL and Valkey running after exit."
    ),
) -> None:
    """Start everything: embedded services, migrations, API, worker, scheduler, dashboard."""
    started = time.monotonic()
    settings = get_settings()
    console.print("[bold]wellcoach[/bold] starting…")
    supervisor = prepare(settings, on_event=lambda message: console.print(message))

    def _stop(signum: int, frame: Any) -> None:
        supervisor.stopping = True

    def _warn(message: str) -> None:
        err_console.print(f"[yellow]{message}[/yellow]")

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    supervisor.start_children()
    healthy = supervisor.wait_healthy(on_event=_warn)
    if supervisor.stopping:
        pass
    elif not healthy:
        err_console.print(
            f"[red]the platform did not become healthy; logs in {settings.data_path / 'logs'}[/red]"
        )
        supervisor.shutdown(keep_services)
        raise typer.Exit(1)
    else:
        table = Table("service", "where", title=f"ready in {time.monotonic() - started:.1f}s")
        table.add_row("API", supervisor.api_url + "  (docs: /docs, health: /health)")
        table.add_row("dashboard", supervisor.dashboard_url)
        table.add_row("database", redact(supervisor.urls.database_url))
        table.add_row("redis", redact(supervisor.urls.redis_url))
        table.add_row("logs", str(settings.data_path / "logs"))
        console.print(table)
        console.print("press Ctrl-C to stop")
        supervisor.supervise(_warn)
    stopped = supervisor.shutdown(keep_services)
    console.print("stopped" + (f" (and embedded {', '.join(stopped)})" if stopped else ""))


@handle_errors
def api(
    host: str | None = typer.Option(None, help="Bind address (default from settings)."),
    port: int | None = typer.Option(None, help="Port (default from settings)."),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes."),
) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    settings = _export_urls(get_settings())
    uvicorn.run(
        "api.main:create_asgi_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # X-Forwarded-For names the client only when the peer is one of these proxies;
        # from anyone else it is ignored (a client could otherwise pick its own IP, and
        # with it a fresh per-IP rate-limit budget)
        proxy_headers=True,
        forwarded_allow_ips=settings.api.trusted_proxies,
    )


@handle_errors
def worker(burst: bool = typer.Option(False, help="Exit when the queues are empty.")) -> None:
    """Run an RQ worker (with the scheduler for delayed retries) on all queues."""
    from jobs.chat import preload
    from jobs.queues import connect
    from jobs.queues import worker as make_worker

    settings = _export_urls(get_settings())
    connection = connect(settings.redis_url.get_secret_value())  # type: ignore[union-attr]
    preload(settings)
    make_worker(connection).work(with_scheduler=True, burst=burst)


@handle_errors
def cron() -> None:
    """Run the periodic job scheduler (partition upkeep, the sweep of lost turns, the
    outbox): enqueues each job of jobs.maintenance.SCHEDULE when it is due."""
    from jobs import schedule
    from jobs.maintenance import SCHEDULE
    from jobs.queues import connect

    # it only enqueues: the worker that runs the jobs needs the key
    settings = _export_urls(get_settings(), needs_key=False)
    connection = connect(settings.redis_url.get_secret_value())  # type: ignore[union-attr]
    schedule.run(connection, SCHEDULE)


@handle_errors
def dashboard() -> None:
    """Run the Streamlit dashboard for coaches, managers and finance."""
    settings = _export_urls(get_settings())
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    raise typer.Exit(subprocess.call(dashboard_argv(settings), env=env))


def _probe(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=2.0)
        return {"ok": response.status_code == 200, "status_code": response.status_code}
    except httpx.HTTPError as exc:
        return {"ok": False, "error": type(exc).__name__}


def collect_status(settings: Settings) -> dict[str, Any]:
    """Each service, where it is, and whether it answers: the embedded servers of this
    data dir (never started here), or the configured ones."""
    status: dict[str, Any] = {"data_dir": str(settings.data_dir)}
    if settings.database_url is None:
        handle = running_embedded_postgres(settings)
        status["database_url"] = handle.libpq_url() if handle else None
        status["postgres"] = {
            "embedded": True,
            "ok": handle is not None,
            "pid": handle.pid if handle else None,
        }
    else:
        url = to_libpq_url(settings.database_url.get_secret_value())
        status["database_url"] = redact(url)
        status["postgres"] = {
            "embedded": False,
            "ok": _reachable(lambda: check_postgres(to_async_url(url), timeout=2.0)),
        }
    if settings.redis_url is None:
        vhandle = valkey.running_valkey(valkey_dir(settings))
        status["redis_url"] = vhandle.url if vhandle else None
        status["redis"] = {
            "embedded": True,
            "ok": vhandle is not None,
            "pid": vhandle.pid if vhandle else None,
        }
    else:
        redis_url = settings.redis_url.get_secret_value()
        status["redis_url"] = redact(redis_url)
        status["redis"] = {
            "embedded": False,
            "ok": _reachable(lambda: check_redis(redis_url, timeout=2.0)),
        }
    api_url = f"http://{settings.api.host}:{settings.api.port}"
    dash_url = f"http://{settings.dashboard.host}:{settings.dashboard.port}"
    health = _probe(api_url + "/health")
    if health.get("ok"):
        health["status"] = httpx.get(api_url + "/health", timeout=5.0).json()["status"]
    status["api"] = {"url": api_url, **health}
    status["dashboard"] = {"url": dash_url, **_probe(dash_url + "/_stcore/health")}
    return status


def _reachable(check: Callable[[], None]) -> bool:
    try:
        check()
    except ServiceUnavailable:
        return False
    return True


def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show each service, its URL or socket, and its health."""
    report = collect_status(get_settings())
    if as_json:
        print_json(report)
        return
    table = Table("service", "ok", "where")
    mark = {True: "[green]yes[/green]", False: "[red]no[/red]"}
    # --json carries the URLs as they are (for psql, redis-cli); a table is for eyes
    table.add_row("postgres", mark[report["postgres"]["ok"]], _shown(report["database_url"]))
    table.add_row("redis", mark[report["redis"]["ok"]], _shown(report["redis_url"]))
    api_state = report["api"].get("status", "")
    table.add_row("api", mark[report["api"]["ok"]], f"{report['api']['url']} {api_state}")
    table.add_row("dashboard", mark[report["dashboard"]["ok"]], report["dashboard"]["url"])
    console.print(table)
    console.print(f"data dir: {report['data_dir']}", soft_wrap=True)
    if not (report["postgres"]["ok"] and report["redis"]["ok"]):
        err_console.print(f"the platform is not running; {NOT_RUNNING_HINT}", soft_wrap=True)


def _shown(url: str | None) -> str:
    return "-" if url is None else redact(url)


def stop() -> None:
    """Stop the embedded PostgreSQL and Valkey of this data dir (after `--keep-services`)."""
    stopped = stop_embedded(get_settings())
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
