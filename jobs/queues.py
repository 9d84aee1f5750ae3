"""Queue names and the Redis connection RQ uses (sync redis-py, as RQ requires)."""

from __future__ import annotations

import redis
from rq import Queue

HIGH = "high"
DEFAULT = "default"
LOW = "low"
ALL_QUEUES = (HIGH, DEFAULT, LOW)


def connect(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def queue(name: str, connection: redis.Redis) -> Queue:
    return Queue(name, connection=connection)
