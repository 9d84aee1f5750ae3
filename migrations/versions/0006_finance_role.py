"""users.role: the finance role, for the people who read the LLM cost reports

Finance reads the cost reports in the dashboard and nothing else. The role column is
not a native PostgreSQL enum type: `enum_column` stores it as a VARCHAR(32) checked by
the constraint `ck_users_user_role` (0001), so adding a value replaces that constraint;
no `ALTER TYPE ... ADD VALUE` (which cannot run in a transaction block) is involved.

The downgrade restores the old constraint, and refuses while finance accounts exist:
turning them into some other role would hand their holders rights they never had.
Re-role or delete them first (`wellcoach users set-role EMAIL ROLE`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_users_user_role"
ROLES_BEFORE = ("athlete", "coach", "team_manager", "admin")
ROLES = (*ROLES_BEFORE, "finance")


def _role_in(roles: Sequence[str]) -> str:
    return "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"


def upgrade() -> None:
    op.drop_constraint(op.f(CONSTRAINT), "users", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "users", _role_in(ROLES))


def downgrade() -> None:
    finance = op.get_bind().scalar(sa.text("SELECT count(*) FROM users WHERE role = 'finance'"))
    if finance:
        raise RuntimeError(
            f"{finance} account(s) have the finance role: give them another role or delete"
            " them before downgrading below 0006."
        )
    op.drop_constraint(op.f(CONSTRAINT), "users", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "users", _role_in(ROLES_BEFORE))
