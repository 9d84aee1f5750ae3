"""Which PostgreSQL and Redis the platform uses, starting embedded ones when unset.

Every process resolves its services through `resolve_services`; `wellcoach up`
resolves once and hands the URLs to its children through the environment, so
they attach instead of starting their own. Administrative commands (`wellcoach mail`,
`users`, `db`, ...) run inside `attach_only()`: they use the embedded servers of the
data dir when those run and never start one (docs/adr/0011).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from wellcoach.config import Settings
from wellcoach.errors import ServiceUnavailable
from wellcoach.runtime import postgres, valkey


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str
    embedded_postgres: bool
    embedded_redis: bool


NOT_RUNNING_HINT = "start the platform with: wellcoach up"

# whether `resolve_services` may start embedded servers when not told (`start=None`).
# A context variable, not a parameter, because the commands reach it through
# `run_with_platform` -> `open_platform`; it follows into `asyncio.run` and `to_thread`
_may_start: ContextVar[bool] = ContextVar("wellcoach_may_start_embedded", default=True)


@contextmanager
def attach_only() -> Iterator[None]:
    """Inside this block, resolving services attaches to the embedded servers that run
    and starts none: a command that finds none says so (`ServiceUnavailable`) instead
    of starting a second platform behind the admin's back."""
    token = _may_start.set(False)
    try:
        yield
    finally:
        _may_start.reset(token)


def pgdata_dir(settings: Settings) -> Path:
    # `data_dir`, not `data_path`: looking for a server must not create directories
    return settings.data_dir / "postgres"


def valkey_dir(settings: Settings) -> Path:
    return settings.data_dir / "valkey"


def start_embedded_postgres(settings: Settings) -> postgres.PostgresHandle:
    """Start (or attach to) the embedded PostgreSQL, then close the data dir again
    (starting it as root opens every parent of pgdata to others; see `secure_data_dir`)."""
    handle = postgres.start_postgres(
        pgdata_dir(settings), server_settings=settings.db.embedded_server
    )
    secure_data_dir(settings.data_path)
    return handle


def start_embedded_valkey(settings: Settings, *, port: int | None = None) -> valkey.ValkeyHandle:
    """Start (or attach to) the embedded Valkey, with its password; `port` pins the port
    (a restart: the URL every process holds must stay valid)."""
    return valkey.start_valkey(valkey_dir(settings), password=True, port=port)


def secure_data_dir(path: Path) -> None:
    """Make the data dir private: it holds the generated master key, the Valkey
    password, the logs, and PostgreSQL's socket (trust authentication: whoever reaches
    the socket is the superuser).

    0700, with one exception. As root, embedded-postgres runs the server (and `pg_ctl`,
    which stops it) as the system user `embedded_postgres`, which owns pgdata
    (`postgres/`) and must traverse this directory to reach it; the server also opens
    its configuration files by absolute path on every reload. The library switches
    only the user id (subprocess's `user=`), so the server keeps our group id. Instead
    of leaving the directory open to everyone (what the library does with `chmod
    o+rx`, on every start), we grant our own group traverse only: 0710, no listing,
    nothing for other users. (Granting the group `embedded_postgres` would not do: the
    server does not run with it.) Whether the server runs as another user is read from
    pgdata's owner, so every process, including `up`'s children that see the embedded
    server only as a URL, agrees on the mode. Should a later embedded-postgres switch
    the group too, the server could no longer reach pgdata and would fail loudly
    (tests/platform/test_up_e2e.py restarts and stops it through this mode).

    A directory we do not own, the home directory, `/` or a shared sticky directory
    (`/tmp`) is left alone: the data dir is meant to be a directory of its own.
    """
    path = path.resolve()
    info = path.stat()
    if (
        not hasattr(os, "geteuid")
        or info.st_uid != os.geteuid()
        or info.st_mode & stat.S_ISVTX
        or path == path.parent
        or path == Path.home().resolve()
    ):
        return
    try:
        pgdata_owner: int | None = (path / "postgres").stat().st_uid
    except OSError:
        pgdata_owner = None
    if pgdata_owner is not None and pgdata_owner != info.st_uid:
        if info.st_gid != os.getegid():
            os.chown(path, -1, os.getegid())
        path.chmod(0o710)
    else:
        path.chmod(0o700)


def resolve_services(settings: Settings, *, start: bool | None = None) -> ServiceUrls:
    """Return the URLs to use, starting the embedded servers when `start` is set
    (default: unless inside `attach_only()`).

    Raises:
        ServiceUnavailable: a configured external service does not answer, or an
            embedded one is not running (or not answering) and may not be started.
    """
    if start is None:
        start = _may_start.get()
    if settings.database_url is not None:
        database_url = to_async_url(settings.database_url.get_secret_value())
        check_postgres(database_url)
        embedded_pg = False
    else:
        handle = start_embedded_postgres(settings) if start else running_embedded_postgres(settings)
        if handle is None:
            raise ServiceUnavailable(_not_running("PostgreSQL", settings))
        database_url = handle.url()
        embedded_pg = True

    if settings.redis_url is not None:
        redis_url = settings.redis_url.get_secret_value()
        check_redis(redis_url)
        embedded_redis = False
    else:
        vhandle = (
            start_embedded_valkey(settings)
            if start
            else valkey.running_valkey(valkey_dir(settings))
        )
        if vhandle is None:
            raise ServiceUnavailable(_not_running("Valkey", settings))
        redis_url = vhandle.url
        embedded_redis = True
    if start:
        secure_data_dir(settings.data_path)
    return ServiceUrls(database_url, redis_url, embedded_pg, embedded_redis)


def _not_running(server: str, settings: Settings) -> str:
    return (
        f"the platform is not running (no embedded {server} answers in {settings.data_dir}); "
        + NOT_RUNNING_HINT
    )


def running_embedded_postgres(settings: Settings) -> postgres.PostgresHandle | None:
    """The embedded PostgreSQL of the data dir when it runs and answers, without starting
    it. Its pid file outlives a killed server, and the pid in it may belong to another
    process by now: only a connection tells."""
    handle = postgres.running_postgres(pgdata_dir(settings))
    if handle is None or not _answers(handle.libpq_url("postgres")):
        return None
    return handle


def _answers(libpq_url: str, timeout: int = 2) -> bool:
    try:
        with psycopg.connect(libpq_url, connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def stop_embedded(settings: Settings) -> list[str]:
    """Stop the embedded servers of this data dir; returns the names of those stopped."""
    stopped = []
    if settings.database_url is None and postgres.stop_postgres(pgdata_dir(settings)):
        stopped.append("postgres")
    if settings.redis_url is None and valkey.stop_valkey(valkey_dir(settings)):
        stopped.append("valkey")
    return stopped


def to_async_url(url: str) -> str:
    """Accept the usual `postgresql://` spellings and use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ServiceUnavailable(f"WELLCOACH_DATABASE_URL is not a PostgreSQL URL: {redact(url)}")


def to_libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def check_postgres(url: str, timeout: float = 3.0) -> None:
    try:
        with psycopg.connect(to_libpq_url(url), connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise ServiceUnavailable(
            f"PostgreSQL at {redact(url)} is not reachable ({type(exc).__name__}). "
            "Check WELLCOACH_DATABASE_URL, that the server runs and accepts this user, "
            "or unset it to use the embedded server."
        ) from exc


def check_redis(url: str, timeout: float = 3.0) -> None:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ServiceUnavailable(
            f"Redis at {redact(url)} is not reachable ({type(exc).__name__}). "
            "Check WELLCOACH_REDIS_URL and that the server runs, "
            "or unset it to use the embedded Valkey."
        ) from exc
    finally:
        client.close()


def redact(url: str) -> str:
    """Hide the password of a URL before it is shown or logged."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL (redis://...)
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            return f"{scheme}://{user}:***@{host}" if ":" in creds else url
        return url
