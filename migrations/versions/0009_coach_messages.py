"""messages.type: `coach`, a human coach's reply to an escalation, in the athlete's chat

`enum_column` stores the type as a VARCHAR checked by `ck_messages_message_type`
(0001), so adding a value replaces the constraint (on the partitioned table; its
partitions follow). The downgrade refuses while coach messages exist: turning them
into another type would put a human's words in the coach bot's mouth.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_messages_message_type"
TYPES_BEFORE = ("user", "ai", "system")
TYPES = (*TYPES_BEFORE, "coach")


def _type_in(types: Sequence[str]) -> str:
    return "type IN (" + ", ".join(f"'{kind}'" for kind in types) + ")"


def upgrade() -> None:
    op.drop_constraint(op.f(CONSTRAINT), "messages", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "messages", _type_in(TYPES))


def downgrade() -> None:
    count = op.get_bind().scalar(sa.text("SELECT count(*) FROM messages WHERE type = 'coach'"))
    if count:
        raise RuntimeError(
            f"{count} coach message(s) exist: delete them before downgrading below 0009."
        )
    op.drop_constraint(op.f(CONSTRAINT), "messages", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "messages", _type_in(TYPES_BEFORE))
