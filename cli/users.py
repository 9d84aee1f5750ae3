"""`wellcoach users`: account administration. Every command accepts an email or an id."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.common import console, handle_errors, print_json
from wellcoach.access import ADMIN_CLI
from wellcoach.accounts.schemas import checked_account_fields, checked_email
from wellcoach.accounts.service import list_accounts, profile_of, read_profile
from wellcoach.audit import RequestContext
from wellcoach.auth import admin
from wellcoach.auth import service as auth
from wellcoach.models.enums import ConsentPurpose, Role, Tier
from wellcoach.platform import Platform, run_with_platform

# optional: asked for (hidden, twice) when omitted, so --help does not call it required
PASSWORD_OPTION = typer.Option(
    None, help="The password; asked for, hidden and twice, when omitted.", show_default=False
)


def ask_password() -> str:
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
CLI = RequestContext(source="cli")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _profile_dict(profile: Any) -> dict[str, Any]:
    return profile.model_dump(mode="json")


def _print_profile(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False)
    for key in (
        "id",
        "email",
        "name",
        "role",
        "tier",
        "sport",
        "team",
        "country",
        "email_verified",
        "two_factor_enabled",
        "consent",
        "created_at",
        "last_active",
    ):
        table.add_row(key, str(data.get(key)))
    console.print(table)


@app.command()
@handle_errors
def create(
    email: str,
    password: str | None = PASSWORD_OPTION,
    name: str | None = typer.Option(None),
    role: Role = typer.Option(Role.athlete),
    tier: Tier = typer.Option(Tier.free),
    sport: str | None = typer.Option(None),
    team: str | None = typer.Option(None),
    language: str = typer.Option("en", help="en or it"),
    country: str | None = typer.Option(
        None, help="ISO 3166-1 alpha-2 code (IT, GB, US...): picks the crisis resources."
    ),
    verified: bool = typer.Option(False, "--verified", help="Mark the email as verified."),
    consent: list[ConsentPurpose] = typer.Option([], help="Grant a consent (repeatable)."),
    as_json: bool = JSON,
) -> None:
    """Create an account (no verification email is sent; use --verified to skip it)."""
    # checked on input, by the API's rules, before anything is asked or written
    address = checked_email(email)
    fields = checked_account_fields(
        name=name, sport=sport, team=team, language=language, country=country
    )
    password = password or ask_password()

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            user = await auth.create_user(
                session,
                platform,
                email=address,
                password=password,
                name=fields.name,
                role=role,
                tier=tier,
                sport=fields.sport,
                team=fields.team,
                language=fields.language,
                country=fields.country,
                verified=verified,
                consents={purpose.value: True for purpose in consent},
                consent_source="cli",
                context=CLI,
            )
            return _profile_dict(await profile_of(session, user))

    _print_profile(run_with_platform(work), as_json)


@app.command("create-admin")
@handle_errors
def create_admin(
    email: str,
    password: str | None = PASSWORD_OPTION,
    name: str | None = typer.Option(None),
    as_json: bool = JSON,
) -> None:
    """Create a verified administrator account."""
    create(
        email=email,
        password=password,
        name=name,
        role=Role.admin,
        tier=Tier.team,
        sport=None,
        team=None,
        language="en",
        country=None,
        verified=True,
        consent=[ConsentPurpose.data_processing],
        as_json=as_json,
    )


@app.command("list")
@handle_errors
def list_(
    role: Role | None = typer.Option(None, help="Only this role."),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = JSON,
) -> None:
    """List accounts, oldest first."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            rows = await list_accounts(session, ADMIN_CLI, role=role, limit=limit, context=CLI)
            return [
                {
                    "id": str(u.id),
                    "email": u.email,
                    "name": u.name,
                    "role": u.role.value,
                    "tier": u.tier.value,
                    "verified": u.email_verified_at is not None,
                    "disabled": u.disabled_at is not None,
                    "created_at": u.created_at.isoformat(),
                }
                for u in rows
            ]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "email", "role", "tier", "verified", "disabled")
    for row in rows:
        table.add_row(
            row["id"],
            row["email"],
            row["role"],
            row["tier"],
            str(row["verified"]),
            str(row["disabled"]),
        )
    console.print(table)
    console.print(f"{len(rows)} account(s)")


@app.command()
@handle_errors
def show(user: str = typer.Argument(..., help="Email or id."), as_json: bool = JSON) -> None:
    """Show one account's profile (audited: `profile.read`)."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await admin.find_user(session, user)
            return _profile_dict(await read_profile(session, ADMIN_CLI, found.id, CLI))

    _print_profile(run_with_platform(work), as_json)


def _change(user: str, change: Any, message: str, as_json: bool) -> None:
    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            found = await admin.find_user(session, user)
            await change(session, found)
            return _profile_dict(await profile_of(session, found))

    data = run_with_platform(work)
    if as_json:
        print_json(data)
    else:
        console.print(message.format(email=data["email"]))


@app.command("set-role")
@handle_errors
def set_role(user: str, role: Role, as_json: bool = JSON) -> None:
    """Change an account's role."""
    _change(
        user,
        lambda s, u: admin.set_role(s, u, role, CLI),
        f"{{email}} is now {role.value}",
        as_json,
    )


@app.command("set-tier")
@handle_errors
def set_tier(user: str, tier: Tier, as_json: bool = JSON) -> None:
    """Change an account's subscription tier (rate limits and model routing follow it)."""
    _change(
        user,
        lambda s, u: admin.set_tier(s, u, tier, CLI),
        f"{{email}} is now on the {tier.value} tier",
        as_json,
    )


@app.command()
@handle_errors
def disable(
    user: str,
    enable: bool = typer.Option(False, "--enable", help="Re-enable instead."),
    as_json: bool = JSON,
) -> None:
    """Disable an account (signs it out everywhere), or re-enable it with --enable."""
    _change(
        user,
        lambda s, u: admin.set_disabled(s, u, not enable, CLI),
        "{email} is " + ("enabled" if enable else "disabled"),
        as_json,
    )
