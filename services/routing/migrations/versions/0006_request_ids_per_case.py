"""step request ids scoped per case: the requests table keyed by (case_id, request_id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:30:00.000000

A request id used to be global across all cases; existing rows keep their meaning (each
names its case), so the new key holds them all.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rekey(*key: str) -> None:
    """Rebuild `requests` with the primary key `key` (portable: SQLite cannot alter one)."""
    op.create_table(
        "requests_new",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("transition", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_requests"),
    )
    op.execute(
        "INSERT INTO requests_new (request_id, case_id, transition) "
        "SELECT request_id, case_id, transition FROM requests"
    )
    op.drop_table("requests")
    op.rename_table("requests_new", "requests")


def upgrade() -> None:
    _rekey("case_id", "request_id")


def downgrade() -> None:
    # Only possible while no request id is used on two cases.
    _rekey("request_id")
