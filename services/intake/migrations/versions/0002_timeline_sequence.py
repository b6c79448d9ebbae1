"""timeline sequence: every status change gets a position for WatchCases cursors

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:30:00.000000

The timeline's primary key changes from event_id to an autoincrementing seq (event_id
stays unique), so the table is rebuilt: existing rows are numbered in the order they
happened (time, then version).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = "event_id, case_id, version, status, transition, unit_code, unit_name, note, time"


def _common() -> list[sa.Column]:
    return [
        sa.Column("case_id", sa.String(length=36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("transition", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("unit_name", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "timeline_new",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id", name="uq_timeline_event"),
        sqlite_autoincrement=True,
    )
    op.execute(
        f"INSERT INTO timeline_new ({COLUMNS}) "
        f"SELECT {COLUMNS} FROM timeline ORDER BY time, version, event_id"
    )
    op.drop_index("ix_timeline_case", table_name="timeline")
    op.drop_table("timeline")
    op.rename_table("timeline_new", "timeline")
    op.create_index("ix_timeline_case", "timeline", ["case_id", "version"], unique=False)


def downgrade() -> None:
    op.create_table(
        "timeline_old",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.execute(f"INSERT INTO timeline_old ({COLUMNS}) SELECT {COLUMNS} FROM timeline")
    op.drop_index("ix_timeline_case", table_name="timeline")
    op.drop_table("timeline")
    op.rename_table("timeline_old", "timeline")
    op.create_index("ix_timeline_case", "timeline", ["case_id", "version"], unique=False)
