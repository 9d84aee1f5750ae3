"""The `wellcoach` console script."""

from __future__ import annotations

import typer

from cli import (
    audit,
    config_cmd,
    costs,
    db,
    gdpr,
    health,
    kb,
    keys,
    limits,
    mail,
    safety,
    services,
    users,
)
from cli.coaches import app as coaches_app
from cli.escalations import app as escalations_app
from cli.webhooks import app as webhooks_app
from wellcoach.runtime.services import attach_only

app = typer.Typer(
    name="wellcoach",
    help="Run and administer the wellcoach AI wellbeing coach platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# the commands that run the platform and may start its embedded servers; every other
# command attaches to the running ones, or says the platform is not running
STARTS_SERVICES = frozenset({"up", "api", "worker", "cron", "dashboard"})


@app.callback()
def _policy(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand not in STARTS_SERVICES:
        ctx.with_resource(attach_only())


app.add_typer(audit.app, name="audit")
app.add_typer(coaches_app, name="coaches")
app.add_typer(config_cmd.app, name="config")
app.add_typer(costs.app, name="costs")
app.add_typer(db.app, name="db")
app.add_typer(escalations_app, name="escalations")
app.add_typer(gdpr.app, name="gdpr")
app.add_typer(health.app, name="health")
app.add_typer(kb.app, name="kb")
app.add_typer(keys.app, name="keys")
app.add_typer(limits.app, name="limits")
app.add_typer(mail.app, name="mail")
app.add_typer(safety.app, name="safety")
app.add_typer(users.app, name="users")
app.add_typer(webhooks_app, name="webhooks")
for command in (
    services.up,
    services.api,
    services.worker,
    services.cron,
    services.dashboard,
    services.status,
    services.stop,
):
    app.command()(command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
