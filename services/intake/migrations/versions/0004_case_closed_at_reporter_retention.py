"""when a case closed, and when its reporter was anonymised (the retention job)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:40:00.000000

Cases closed before this migration get `closed_at` from their timeline (the first step
that made them CLOSED).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CLOSED = 6  # lianxin.routing.v1.CASE_STATUS_CLOSED


def upgrade() -> None:
    op.add_column("cases", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "cases", sa.Column("reporter_erased_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])
    op.execute(
        "UPDATE cases SET closed_at = (SELECT min(t.time) FROM timeline t "
        f"WHERE t.case_id = cases.id AND t.status = {CLOSED}) WHERE status = {CLOSED}"
    )


def downgrade() -> None:
    op.drop_index("ix_cases_closed_at", table_name="cases")
    op.drop_column("cases", "reporter_erased_at")
    op.drop_column("cases", "closed_at")
