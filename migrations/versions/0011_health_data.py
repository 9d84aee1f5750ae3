"""health data: samples keyed by (user, metric, start, end, source, device), imports, zones

The first health_metrics table was keyed by one recorded time and never written (no
route stored health data before this revision), so it is replaced rather than altered:
a sample now has a start and an end (sleep stages, workouts, step intervals), and that
key, with a keyed digest of the device (an iPhone and a watch may count the same
minutes), is the primary key, which makes a resync idempotent. A month's partition is created
when a sample of that month first arrives (an Apple export reaches years back), moving
any rows the default partition caught for it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRIC_TYPES = (
    "steps",
    "heart_rate",
    "sleep",
    "workout",
    "mindfulness",
    "hrv",
    "resting_heart_rate",
    "active_energy",
)

# One month's partition, created on demand. Rows of that month that the default
# partition caught are moved into it, or attaching it would fail. The advisory lock
# serialises two writers that need the same month: the second waits for the first to
# commit, and if its catalog snapshot still misses the new table, CREATE finds it
# (duplicate_table) and the month is ready all the same. Every writer calls this before
# inserting, so no row of a month lands in the default partition while its partition
# is being attached.
ENSURE_PARTITION = """
CREATE OR REPLACE FUNCTION wellcoach_ensure_month_partition(parent text, month date)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    next_day date := (date_trunc('month', month) + interval '1 month')::date;
    partition_name text := format('%s_p%s', parent, to_char(first_day, 'YYYY_MM'));
    key_column text;
BEGIN
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(partition_name));
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT a.attname INTO key_column
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent::regclass;
    BEGIN
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       partition_name, parent);
    EXCEPTION WHEN duplicate_table THEN
        RETURN false;
    END;
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                   'INSERT INTO %I SELECT * FROM moved',
                   parent || '_default', key_column, first_day, key_column, next_day,
                   partition_name);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, partition_name, first_day, next_day);
    RETURN true;
END $$;
"""


def _metric_type() -> sa.Enum:
    return sa.Enum(
        *METRIC_TYPES,
        name="health_metric_type",
        native_enum=False,
        create_constraint=True,
        length=32,
    )


def upgrade() -> None:
    op.execute("DROP TABLE health_metrics CASCADE")
    op.create_table(
        "health_metrics",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("metric_type", _metric_type(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "apple_health",
                "google_health",
                "manual",
                name="health_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "device_tag", sa.LargeBinary(), server_default=sa.text("''::bytea"), nullable=False
        ),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("payload_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_health_metrics_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id",
            "metric_type",
            "start_at",
            "end_at",
            "source",
            "device_tag",
            name="pk_health_metrics",
        ),
        postgresql_partition_by="RANGE (start_at)",
    )
    op.execute("CREATE TABLE health_metrics_default PARTITION OF health_metrics DEFAULT")
    op.execute("SELECT wellcoach_ensure_month_partitions('health_metrics', 1, 3)")
    op.execute(ENSURE_PARTITION)

    op.create_table(
        "health_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "completed",
                "failed",
                name="health_import_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("records_seen", sa.Integer(), nullable=False),
        sa.Column("samples_stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_health_imports_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_imports")),
    )
    op.create_index(op.f("ix_health_imports_user_id"), "health_imports", ["user_id"])
    op.add_column(
        "users",
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "timezone")
    op.drop_index(op.f("ix_health_imports_user_id"), table_name="health_imports")
    op.drop_table("health_imports")
    op.execute("DROP FUNCTION IF EXISTS wellcoach_ensure_month_partition(text, date)")
    op.execute("DROP TABLE health_metrics CASCADE")
    op.create_table(
        "health_metrics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("metric_type", _metric_type(), nullable=False),
        sa.Column("value_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "apple_health",
                "google_health",
                "manual",
                name="health_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("device", sa.String(length=100), nullable=True),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_health_metrics_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", "recorded_at", name=op.f("pk_health_metrics")),
        sa.UniqueConstraint(
            "user_id",
            "metric_type",
            "source",
            "recorded_at",
            name=op.f("uq_health_metrics_user_id_metric_type_source_recorded_at"),
        ),
        postgresql_partition_by="RANGE (recorded_at)",
    )
    op.execute("CREATE TABLE health_metrics_default PARTITION OF health_metrics DEFAULT")
    op.execute("SELECT wellcoach_ensure_month_partitions('health_metrics', 1, 3)")
    op.create_index(
        "ix_health_metrics_user_type_time",
        "health_metrics",
        ["user_id", "metric_type", sa.literal_column("recorded_at DESC")],
        unique=False,
    )
