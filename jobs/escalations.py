"""The SLA watcher's job (`wellcoach cron`, every 30 s): triage, assign, warn, breach.
After the commit, each athlete whose case moved hears of it over Socket.IO."""

from __future__ import annotations

from wellcoach.escalation.watcher import watch
from wellcoach.platform import Platform, run_with_platform


def watch_escalations_job() -> dict[str, int]:
    async def work(platform: Platform) -> dict[str, int]:
        async with platform.unit_of_work() as session:
            report = await watch(session, platform.vault, platform.settings)
        for user_id, escalation_id, status in report.changes:  # committed now
            await platform.devices.push(
                user_id, "escalation_status", {"id": str(escalation_id), "status": status}
            )
        return report.as_dict()

    return run_with_platform(work)
