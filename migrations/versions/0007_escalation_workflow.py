"""escalation workflow: triage priority and reasons, coach weekly availability

`escalations.priority` (0-100, higher is served first) and `escalations.triage` (the
rules of `wellcoach.escalation.triage` that fired, for the coach to read) are written
when an escalation is triaged; existing rows start at 0 with no reasons.
`coaches.availability` holds weekly windows in the coach's own timezone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "escalations",
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "escalations",
        sa.Column(
            "triage",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "coaches",
        sa.Column(
            "availability",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("coaches", "availability")
    op.drop_column("escalations", "triage")
    op.drop_column("escalations", "priority")
