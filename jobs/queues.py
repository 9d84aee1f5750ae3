"""Queue names, the Redis connection RQ uses (sync redis-py, as RQ requires), and the
one serializer every queue and worker shares.

Jobs are stored as JSON, not pickle: with pickle, whoever can write to Redis can make a
worker run any code. Job functions therefore take and return plain JSON values (ids as
strings, counts, outcomes)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis
from rq import Queue, Retry, Worker
from rq.serializers import JSONSerializer

HIGH = "high"
DEFAULT = "default"
LOW = "low"
ALL_QUEUES = (HIGH, DEFAULT, LOW)

_shared: dict[str, redis.Redis] = {}
_shared_lock = threading.Lock()


def connect(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def shared_connection(redis_url: str) -> redis.Redis:
    """One client (and connection pool) per URL and process, for enqueuing from the API:
    a turn queued under load must not pay for a new connection."""
    with _shared_lock:
        client = _shared.get(redis_url)
        if client is None:
            client = _shared[redis_url] = redis.Redis.from_url(
                redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
        return client


def queue(name: str, connection: redis.Redis) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def worker(connection: redis.Redis) -> Worker:
    """A worker on every queue, highest first."""
    return Worker(
        [queue(name, connection) for name in ALL_QUEUES],
        connection=connection,
        serializer=JSONSerializer,
    )


def enqueue(
    redis_url: str,
    queue_name: str,
    func: Callable[..., object],
    *args: str,
    job_id: str,
    retries: list[int],
    timeout: int | None = None,
) -> None:
    """Enqueue with the process's shared Redis client (a turn queued under load must not
    pay for a new connection); the job id makes a job's repeats one job, `retries` are
    the waits before each retry, `timeout` the job's limit in seconds (RQ's default when
    None)."""
    queue(queue_name, shared_connection(redis_url)).enqueue(
        func,
        *args,
        job_id=job_id,
        retry=Retry(max=len(retries), interval=retries),
        job_timeout=timeout,
    )
