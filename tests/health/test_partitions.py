"""Monthly partitions of health_metrics made on demand: history lands in its month's
partition (rows the default partition caught are moved there), and writers racing into
a month that has no partition yet all succeed."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, text

from tests.support.factories import create_user
from wellcoach.health import service
from wellcoach.health.repository import ensure_months
from wellcoach.health.samples import Sample
from wellcoach.models import User
from wellcoach.models.enums import HealthMetricType, HealthSource


def readings(month: datetime, count: int) -> list[Sample]:
    return [
        Sample(
            HealthMetricType.heart_rate,
            HealthSource.apple_health,
            month + timedelta(minutes=n),
            month + timedelta(minutes=n),
            60.0 + n % 30,
            "count/min",
            "Apple Watch",
        )
        for n in range(count)
    ]


async def test_writers_racing_into_a_new_month_all_succeed(platform):
    # a month no other test uses (the database lives for the whole run)
    month = datetime(2001, random.randrange(1, 13), 1, tzinfo=UTC)
    name = f"health_metrics_p{month:%Y_%m}"
    async with platform.unit_of_work() as session:
        users = [await create_user(session, platform) for _ in range(4)]
    ids = [user.id for user in users]

    async def write(user_id):
        async with platform.unit_of_work() as session:
            return await service.store_samples(
                session, platform.vault, platform.health_store, user_id, readings(month, 500)
            )

    try:
        stored = await asyncio.gather(*(write(user_id) for user_id in ids))
        assert stored == [500, 500, 500, 500]
        async with platform.unit_of_work() as session:
            in_partition = await session.scalar(
                text(f"SELECT count(*) FROM {name} WHERE user_id = ANY(:ids)"), {"ids": ids}
            )
            in_default = await session.scalar(
                text("SELECT count(*) FROM health_metrics_default WHERE user_id = ANY(:ids)"),
                {"ids": ids},
            )
        assert (in_partition, in_default) == (2000, 0)
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(User).where(User.id.in_(ids)))


async def test_rows_the_default_partition_caught_move_to_their_month(db_session, platform):
    user = await create_user(db_session, platform)
    month = datetime(2002, random.randrange(1, 13), 1, tzinfo=UTC)
    name = f"health_metrics_p{month:%Y_%m}"
    # a row of that month written before its partition existed (an older version)
    await db_session.execute(
        text(
            "INSERT INTO health_metrics_default (user_id, metric_type, start_at, end_at,"
            " source, device_tag, unit, payload_encrypted)"
            " VALUES (:u, 'steps', :t, :t, 'manual', '', 'count', 'x')"
        ),
        {"u": user.id, "t": month + timedelta(days=3)},
    )
    assert await ensure_months(db_session, [month + timedelta(days=9)]) == 1
    assert await ensure_months(db_session, [month]) == 0  # made once
    moved = await db_session.scalar(
        text(f"SELECT count(*) FROM {name} WHERE user_id = :u"), {"u": user.id}
    )
    assert moved == 1
