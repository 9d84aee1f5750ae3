"""escalations.sla_warned_at: when the SLA watcher warned that a deadline is near

The watcher warns once per escalation; the time it did is the marker (and what the
queue shows).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("escalations", sa.Column("sla_warned_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("escalations", "sla_warned_at")
