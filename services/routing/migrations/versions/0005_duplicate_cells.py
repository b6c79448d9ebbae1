"""duplicate search by place: each case's spatial cell, indexed with category and time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:30:00.000000

Existing cases get their cell from their point (the same formula as `store.cell_of`).
"""

import math

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CELL_DEGREES = 0.001


def upgrade() -> None:
    op.add_column("cases", sa.Column("cell", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, latitude, longitude FROM cases WHERE latitude IS NOT NULL")
    ).all()
    for case_id, lat, lon in rows:
        cell = math.floor((lat + 90.0) / CELL_DEGREES) * 400_000 + math.floor(
            (lon + 180.0) / CELL_DEGREES
        )
        conn.execute(
            sa.text("UPDATE cases SET cell = :cell WHERE id = :id"), {"cell": cell, "id": case_id}
        )
    op.create_index(
        "ix_cases_category_cell_created_at", "cases", ["category", "cell", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_cases_category_cell_created_at", table_name="cases")
    op.drop_column("cases", "cell")
