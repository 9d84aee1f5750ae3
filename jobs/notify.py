"""Email delivery job: sends what the outbox holds when SMTP is configured."""

from __future__ import annotations

from wellcoach.notify.email import deliver_pending, forget_secrets
from wellcoach.platform import Platform, run_with_platform


def deliver_outbox_job() -> dict[str, int]:
    async def work(platform: Platform) -> dict[str, int]:
        if platform.settings.smtp_url is None:
            return {"sent": 0, "failed": 0}
        async with platform.unit_of_work() as session:
            return await deliver_pending(session, platform.settings.smtp_url.get_secret_value())

    return run_with_platform(work)


def forget_outbox_secrets_job() -> int:
    """Drop one-time links from the outbox once they have expired."""

    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            return await forget_secrets(session)

    return run_with_platform(work)
