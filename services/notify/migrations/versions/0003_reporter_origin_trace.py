"""the traceparent of a case's first trace, for span links from notify's later steps

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_traceparent", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.drop_column("origin_traceparent")
