"""GDPR: requests that wait (erasure grace, export links) and certificates; the per-user
keys in their own schema

Erasure requests are `scheduled` until their grace period ends (`due_at`), and may be
`cancelled`; an export's link expires at `due_at`; `details` keeps what a request did
(the erasure certificate: counts, never personal data). The wrapped data keys move to the
`keystore` schema: data backups exclude it (`pg_dump --exclude-schema=keystore`), and
the keys are backed up on their own with a retention no longer than the erasure grace
period, so a shredded key is gone from every backup within a week (docs/adr/0015).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("pending", "running", "completed", "failed")
NEW_STATUSES = (*OLD_STATUSES, "scheduled", "cancelled")


def _statuses(values: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_gdpr_requests_gdpr_status"), "gdpr_requests", type_="check")
    listed = ", ".join(f"'{value}'" for value in values)
    op.create_check_constraint(
        op.f("ck_gdpr_requests_gdpr_status"), "gdpr_requests", f"status IN ({listed})"
    )


def upgrade() -> None:
    op.add_column("gdpr_requests", sa.Column("due_at", sa.DateTime(timezone=True)))
    op.add_column(
        "gdpr_requests",
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    _statuses(NEW_STATUSES)
    op.create_index("ix_gdpr_requests_status_due_at", "gdpr_requests", ["status", "due_at"])
    op.execute("CREATE SCHEMA IF NOT EXISTS keystore")
    op.execute("ALTER TABLE user_keys SET SCHEMA keystore")


def downgrade() -> None:
    op.execute("ALTER TABLE keystore.user_keys SET SCHEMA public")
    op.execute("DROP SCHEMA IF EXISTS keystore")
    op.drop_index("ix_gdpr_requests_status_due_at", table_name="gdpr_requests")
    op.execute("DELETE FROM gdpr_requests WHERE status IN ('scheduled', 'cancelled')")
    _statuses(OLD_STATUSES)
    op.drop_column("gdpr_requests", "details")
    op.drop_column("gdpr_requests", "due_at")
