"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 07:39:49.124918
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("skills", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index("ix_staff_unit", ["unit_code"], unique=False)

    op.create_table(
        "units",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("type_name", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=False),
        sa.Column("boundary_geojson", sa.Text(), nullable=False),
        sa.Column("centroid_lat", sa.Float(), nullable=True),
        sa.Column("centroid_lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index("ix_units_level", ["level", "code"], unique=False)
        batch_op.create_index("ix_units_parent", ["parent_code", "code"], unique=False)

    op.create_table(
        "staff_grids",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("staff_id", "grid_code"),
    )
    with op.batch_alter_table("staff_grids", schema=None) as batch_op:
        batch_op.create_index("ix_staff_grids_grid", ["grid_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_grids", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_grids_grid")

    op.drop_table("staff_grids")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index("ix_units_parent")
        batch_op.drop_index("ix_units_level")

    op.drop_table("units")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_unit")

    op.drop_table("staff")
    op.drop_table("departments")
