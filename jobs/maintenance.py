"""Periodic upkeep jobs. Each opens its own platform: RQ forks per job."""

from __future__ import annotations

from jobs.chat import requeue_unanswered_job
from jobs.escalations import watch_escalations_job
from jobs.gdpr import erase_due_job
from jobs.gdpr_exports import sweep_exports_job
from jobs.health import requeue_imports_job
from jobs.notify import deliver_outbox_job, forget_outbox_secrets_job
from jobs.retention import apply_retention_job
from jobs.webhooks import sweep_webhooks_job
from wellcoach.chat.budget_alerts import check_platform_budget
from wellcoach.ops.partitions import ensure_partitions
from wellcoach.platform import Platform, run_with_platform


def ensure_partitions_job() -> dict[str, int]:
    """Keep the monthly partitions of messages and health metrics ready ahead of time."""

    async def work(platform: Platform) -> dict[str, int]:
        async with platform.unit_of_work() as session:
            return await ensure_partitions(session, platform.settings.db.partitions_ahead_months)

    return run_with_platform(work)


def check_budgets_job() -> int:
    """The platform's daily LLM budget, checked between chat turns too: alerts raised."""

    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            return len(await check_platform_budget(session, platform.settings.costs))

    return run_with_platform(work)


# (function, interval in seconds) run by `wellcoach cron`
SCHEDULE = (
    (ensure_partitions_job, 6 * 3600),
    (deliver_outbox_job, 30),
    (requeue_unanswered_job, 60),
    (sweep_webhooks_job, 30),
    (forget_outbox_secrets_job, 3600),
    (check_budgets_job, 300),
    (watch_escalations_job, 30),
    (requeue_imports_job, 300),
    (erase_due_job, 600),
    (sweep_exports_job, 3600),
    (apply_retention_job, 24 * 3600),
)
