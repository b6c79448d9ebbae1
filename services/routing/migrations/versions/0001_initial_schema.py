"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 07:39:05.745766
"""

import sqlalchemy as sa
from alembic import op

from services.common.bus import create_bus_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_bus_tables_v1(op)
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("street_code", sa.String(length=32), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("assigned_unit_code", sa.String(length=64), nullable=False),
        sa.Column("assigned_unit_name", sa.String(length=100), nullable=False),
        sa.Column("assignee_staff_id", sa.String(length=64), nullable=False),
        sa.Column("deadline_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("filing_error", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_assigned_unit_deadline", ["assigned_unit_code", "deadline_time"], unique=False
        )

    op.create_table(
        "history",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("transition", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.Integer(), nullable=False),
        sa.Column("to_status", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "sequence"),
    )
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("transition", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("requests")
    op.drop_table("history")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_assigned_unit_deadline")

    op.drop_table("cases")
