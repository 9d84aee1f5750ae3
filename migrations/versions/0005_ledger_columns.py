"""llm_calls: cached tokens, routed-from model, team, price row; daily spend; budget alerts

The ledger records what finance reports need and what a later change would lose:
`tokens_cached` (prompt tokens the provider served from its cache, priced at the cached
rate), `routed_from` (the tier's top model when routing or a budget had another model
answer), `team` (the user's team at the time), `price_effective_from` (the date of the
price row that priced the call: prices are a versioned table, wellcoach/costs/prices.toml).

`llm_spend_daily` keeps the platform's spend per UTC day for routing and budget alerts,
which read it on every chat turn: summing the day's ledger rows would grow with traffic.
Statement-level triggers add each inserting statement's rows (COPY included) to a row of
the day that no other transaction holds (SKIP LOCKED), or to a new one with a random
shard number, so writers never wait on each other; a delete subtracts its rows (TRUNCATE
is not followed). Existing rows are rolled up once.

`cost_alerts` makes each budget alert happen once per threshold and period (unique, NULL
user ids equal: PostgreSQL 15+).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLL_UP = (
    """
CREATE FUNCTION llm_spend_add(added_day date, added_cost numeric, added_calls bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    target integer;
BEGIN
    LOOP
        -- a row of the day that no other transaction is updating (ours are fine)
        SELECT shard INTO target FROM llm_spend_daily
        WHERE day = added_day ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            UPDATE llm_spend_daily
            SET cost_usd = cost_usd + added_cost, calls = calls + added_calls
            WHERE day = added_day AND shard = target;
            RETURN;
        END IF;
        INSERT INTO llm_spend_daily (day, shard, cost_usd, calls)
        VALUES (added_day, floor(random() * 2147483647)::integer, added_cost, added_calls)
        ON CONFLICT DO NOTHING;
        EXIT WHEN FOUND;
    END LOOP;
END
$$
""",
    """
CREATE FUNCTION llm_calls_roll_up() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR changed IN
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS cost,
                   count(*) AS calls
            FROM inserted GROUP BY 1
        LOOP
            PERFORM llm_spend_add(changed.day, changed.cost, changed.calls);
        END LOOP;
    ELSE
        FOR changed IN
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS cost,
                   count(*) AS calls
            FROM removed GROUP BY 1
        LOOP
            PERFORM llm_spend_add(changed.day, -changed.cost, -changed.calls);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$
""",
    "CREATE TRIGGER llm_calls_roll_up AFTER INSERT ON llm_calls"
    " REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION llm_calls_roll_up()",
    "CREATE TRIGGER llm_calls_roll_back AFTER DELETE ON llm_calls"
    " REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION llm_calls_roll_up()",
)


def upgrade() -> None:
    op.add_column(
        "llm_calls", sa.Column("tokens_cached", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("llm_calls", sa.Column("routed_from", sa.String(length=100), nullable=True))
    op.add_column("llm_calls", sa.Column("team", sa.String(length=100), nullable=True))
    op.add_column("llm_calls", sa.Column("price_effective_from", sa.Date(), nullable=True))
    op.create_table(
        "llm_spend_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "shard", name=op.f("pk_llm_spend_daily")),
    )
    op.execute(
        "INSERT INTO llm_spend_daily (day, shard, cost_usd, calls)"
        " SELECT (created_at AT TIME ZONE 'UTC')::date, 0, sum(cost_usd), count(*)"
        " FROM llm_calls GROUP BY 1"
    )
    for statement in ROLL_UP:
        op.execute(statement)
    op.create_table(
        "cost_alerts",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("budget_usd", sa.Numeric(precision=14, scale=8), nullable=False),
        sa.Column("spent_usd", sa.Numeric(precision=14, scale=8), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_alerts")),
        sa.UniqueConstraint(
            "scope",
            "user_id",
            "period_start",
            "threshold",
            name=op.f("uq_cost_alerts_scope_user_id_period_start_threshold"),
            postgresql_nulls_not_distinct=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("cost_alerts")
    op.execute("DROP TRIGGER llm_calls_roll_back ON llm_calls")
    op.execute("DROP TRIGGER llm_calls_roll_up ON llm_calls")
    op.execute("DROP FUNCTION llm_calls_roll_up()")
    op.execute("DROP FUNCTION llm_spend_add(date, numeric, bigint)")
    op.drop_table("llm_spend_daily")
    op.drop_column("llm_calls", "price_effective_from")
    op.drop_column("llm_calls", "team")
    op.drop_column("llm_calls", "routed_from")
    op.drop_column("llm_calls", "tokens_cached")
