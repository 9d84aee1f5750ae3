"""Where health series live, behind one interface: PostgreSQL (the default, monthly
partitions) or InfluxDB 2.x when `WELLCOACH_INFLUX_URL` is set. A store keeps sealed
samples only; sealing and opening them is the health service's job."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.health.samples import SealedSample
from wellcoach.models.enums import HealthMetricType


class HealthStore(Protocol):
    name: str

    async def write(
        self, session: AsyncSession, user_id: uuid.UUID, samples: Sequence[SealedSample]
    ) -> int | None:
        """Store `samples`; one already stored under the same (user, metric, start, end,
        source) is left as it is. Returns how many were new, or None when the store
        cannot tell (InfluxDB overwrites a point written twice)."""
        ...

    async def read(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        metrics: Collection[HealthMetricType],
        start: datetime,
        end: datetime,
    ) -> list[SealedSample]:
        """The user's samples of `metrics` that start in [start, end), oldest first."""
        ...

    async def delete_user(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Every series of the user, gone."""
        ...

    async def ping(self) -> bool:
        """Whether the store answers (the database check covers PostgreSQL)."""
        ...

    async def close(self) -> None: ...
