"""Which pages each role sees. Adding a page is one line in `PAGES`.

`st.navigation` registers only the pages of the viewer's role, so a page another role
may see does not exist for this browser session (its URL opens the first page).

The page scripts live in `views/`, not `pages/`: Streamlit still treats a `pages/` folder
beside the entry script as an old-style multipage app until `st.navigation` first runs
(always, under AppTest), running a page file directly — without the entry script's
sign-in check."""

from __future__ import annotations

from dataclasses import dataclass

from wellcoach.models.enums import Role


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to dashboard/app.py
    title: str
    icon: str
    roles: frozenset[Role]


def page(path: str, title: str, icon: str, *roles: Role) -> PageSpec:
    return PageSpec(path, title, icon, frozenset(roles))


# in menu order; a role's first page is where it lands after signing in
PAGES: tuple[PageSpec, ...] = (
    page("views/status.py", "Platform status", ":material/monitor_heart:", Role.admin),
    page("views/finance.py", "Finance", ":material/payments:", Role.finance, Role.admin),
    page("views/queue.py", "Escalation queue", ":material/support_agent:", Role.coach, Role.admin),
    page("views/team.py", "Team overview", ":material/groups:", Role.team_manager, Role.admin),
)

LOGIN = page("views/login.py", "Sign in", ":material/login:")
NO_ACCESS = page("views/no_access.py", "wellcoach", ":material/block:")


def pages_for(role: Role) -> list[PageSpec]:
    """The role's pages; a role with none (athletes) gets the page that says so."""
    return [spec for spec in PAGES if role in spec.roles] or [NO_ACCESS]


ROLE_LABELS: dict[Role, str] = {
    Role.admin: "Administrator",
    Role.finance: "Finance",
    Role.coach: "Coach",
    Role.team_manager: "Team manager",
    Role.athlete: "Athlete",
}
