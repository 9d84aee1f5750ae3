"""The health store the settings choose: InfluxDB 2.x when `WELLCOACH_INFLUX_URL` is
set, else PostgreSQL."""

from __future__ import annotations

from wellcoach.config import Settings
from wellcoach.health.repository import PostgresHealthStore
from wellcoach.health.store import HealthStore


def make_store(settings: Settings) -> HealthStore:
    if settings.influx_url:
        from wellcoach.health.influx import InfluxHealthStore

        token = settings.health.influx_token
        return InfluxHealthStore(
            settings.influx_url,
            token.get_secret_value() if token else "",
            settings.health.influx_org,
            settings.health.influx_bucket,
        )
    return PostgresHealthStore()
