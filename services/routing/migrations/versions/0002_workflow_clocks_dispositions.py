"""three-level workflow, SLA clocks, dispositions, duplicates, co-handling

New columns get server defaults, so cases filed before this migration read as not
reminded, not overdue, not supervised, no disposition, no rating.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 07:54:39.239896
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assisting",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("unit_name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "unit_code"),
    )
    with op.batch_alter_table("assisting", schema=None) as batch_op:
        batch_op.create_index("ix_assisting_unit_code", ["unit_code"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("community_name", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("street_name", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("district_name", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("reminder_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("reminded", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("supervised", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("pending_extension_hours", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("disposition", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("satisfaction", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("rework_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("reopen_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.String(length=36), nullable=True))
        batch_op.create_index(
            "ix_cases_category_created_at", ["category", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_cases_grid_code_created_at", ["grid_code", "created_at"], unique=False
        )
        batch_op.create_index("ix_cases_merged_into", ["merged_into"], unique=False)
        batch_op.create_index("ix_cases_next_due_at", ["next_due_at"], unique=False)

    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("level", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("deadline_time", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("disposition", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("satisfaction", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("assisting_units", sa.JSON(), nullable=True))
        batch_op.create_index("ix_history_unit_code", ["unit_code"], unique=False)

    # Cases from 0001: their clocks run from now on (overdue at the stored deadline), and
    # a closed case's disposition is the level that closed it (Level 1..3 = Disposition
    # 1..3; 0001 had no explained cases).
    op.execute(
        "UPDATE cases SET next_due_at = deadline_time "
        "WHERE status IN (3, 4) AND deadline_time IS NOT NULL"
    )
    op.execute("UPDATE cases SET disposition = level WHERE status = 6")
    op.execute(
        "UPDATE history SET disposition = "
        "(SELECT cases.level FROM cases WHERE cases.id = history.case_id) "
        "WHERE transition = 6"
    )


def downgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_unit_code")
        batch_op.drop_column("assisting_units")
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("disposition")
        batch_op.drop_column("deadline_time")
        batch_op.drop_column("level")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_next_due_at")
        batch_op.drop_index("ix_cases_merged_into")
        batch_op.drop_index("ix_cases_grid_code_created_at")
        batch_op.drop_index("ix_cases_category_created_at")
        batch_op.drop_column("merged_into")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("reopen_count")
        batch_op.drop_column("rework_count")
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("disposition")
        batch_op.drop_column("pending_extension_hours")
        batch_op.drop_column("supervised")
        batch_op.drop_column("overdue")
        batch_op.drop_column("reminded")
        batch_op.drop_column("next_due_at")
        batch_op.drop_column("escalate_at")
        batch_op.drop_column("reminder_at")
        batch_op.drop_column("district_name")
        batch_op.drop_column("street_name")
        batch_op.drop_column("community_name")

    with op.batch_alter_table("assisting", schema=None) as batch_op:
        batch_op.drop_index("ix_assisting_unit_code")

    op.drop_table("assisting")
