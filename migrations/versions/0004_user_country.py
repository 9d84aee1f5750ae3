"""users.country: the user's country, for the crisis resources a reply gives

An English speaker in crisis was given only the European emergency number (112): the
profile had no country, and the language alone cannot tell a user in London from one in
Sydney. The column holds an ISO 3166-1 alpha-2 code, upper case (the API checks it
against the assigned codes; the database keeps the shape). Nullable: existing users have
none until they set it, and their crisis replies follow their language as before, or
give the international resources.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("country", sa.String(length=2), nullable=True))
    op.create_check_constraint(op.f("ck_users_country_upper"), "users", "country ~ '^[A-Z]{2}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_users_country_upper"), "users", type_="check")
    op.drop_column("users", "country")
