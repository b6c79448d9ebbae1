"""cases waiting to be located by hand: the buildings an address may mean

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("location_candidates", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "location_candidates")
