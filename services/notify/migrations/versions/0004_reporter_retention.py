"""when a reporter's case closed, and when the retention job erased the reporter

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:50:00

Reporters of cases that closed before this migration get closed_at from the first
delivery notify recorded for the case's `case.closed` (someone is always told: the
citizen or the hotline); a case closed with no delivery at all keeps it empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_reporters_closed_at", "reporters", ["closed_at"])
    op.execute(
        "UPDATE reporters SET closed_at = (SELECT min(d.created_at) FROM deliveries d "
        "WHERE d.case_id = reporters.case_id AND d.event_type = 'case.closed')"
    )


def downgrade() -> None:
    op.drop_index("ix_reporters_closed_at", table_name="reporters")
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("closed_at")
