"""photo references: which history entry names which stored photo (for the blob sweep)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00.000000

Existing history entries with photos are copied in, so the sweep never takes a photo an
old entry names.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    photos = op.create_table(
        "photo_refs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "case_id", "sequence"),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT case_id, sequence, photos FROM history")).all()
    refs = []
    for case_id, sequence, value in rows:
        items = json.loads(value) if isinstance(value, str) else (value or [])
        refs.extend(
            {"sha256": d, "case_id": case_id, "sequence": sequence}
            for d in sorted({p["sha256"] for p in items})
        )
    if refs:
        op.bulk_insert(photos, refs)


def downgrade() -> None:
    op.drop_table("photo_refs")
