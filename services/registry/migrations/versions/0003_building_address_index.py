"""exact building addresses: an index on buildings.address for GeocodeAddress

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:30:00.000000
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_buildings_address", "buildings", ["address"])


def downgrade() -> None:
    op.drop_index("ix_buildings_address", table_name="buildings")
