"""the access log as a hash chain: prev_hash and row_hash on every row, a chain head

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:30:00.000000

Rows already in the log are chained here in id order (renumbered 1, 2, … when ids had
gaps, as PostgreSQL sequences leave after a rollback), with the append-only triggers off
for the while and on again after. See services/registry/accesslog.py.
"""

import sqlalchemy as sa
from alembic import op

from services.registry.accesslog import GENESIS, HEAD_ID, row_hash

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = "access_log is append-only"
BATCH = 1000

log = sa.table(
    "access_log",
    sa.column("id", sa.Integer),
    sa.column("time", sa.DateTime(timezone=True)),
    *(
        sa.column(name, sa.String)
        for name in ("actor", "purpose", "method", "subject_kind", "subject_id")
    ),
    sa.column("view", sa.Integer),
    sa.column("outcome", sa.Integer),
    sa.column("reason", sa.String),
    sa.column("request_id", sa.String),
    sa.column("prev_hash", sa.String),
    sa.column("row_hash", sa.String),
)


def _triggers_off(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS access_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")


def _triggers_on(dialect: str) -> None:
    # As migration 0002 made them (the PostgreSQL function stays in place).
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_log_no_{verb.lower()} BEFORE {verb} ON access_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON access_log FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
        )


def _chain_existing(conn: sa.Connection) -> tuple[int, str]:
    last_id, last_hash = 0, GENESIS
    after = 0
    while True:
        rows = conn.execute(
            sa.select(log).where(log.c.id > after).order_by(log.c.id).limit(BATCH)
        ).all()
        if not rows:
            return last_id, last_hash
        changes = []
        for r in rows:
            values = {**r._mapping, "id": last_id + 1, "prev_hash": last_hash}
            values["row_hash"] = row_hash(values)
            changes.append(
                {"old": r.id, "new": values["id"], "p": last_hash, "h": values["row_hash"]}
            )
            last_id, last_hash = values["id"], values["row_hash"]
        # New ids are never above old ones and earlier rows already moved down: no clash.
        conn.execute(
            sa.update(log)
            .where(log.c.id == sa.bindparam("old"))
            .values(
                id=sa.bindparam("new"), prev_hash=sa.bindparam("p"), row_hash=sa.bindparam("h")
            ),
            changes,
        )
        after = rows[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    op.add_column(
        "access_log",
        sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column(
        "access_log", sa.Column("row_hash", sa.String(length=64), nullable=False, server_default="")
    )
    op.create_table(
        "access_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _triggers_off(dialect)
    last_id, last_hash = _chain_existing(conn)
    _triggers_on(dialect)
    op.bulk_insert(
        sa.table(
            "access_log_head",
            sa.column("id", sa.Integer),
            sa.column("last_id", sa.Integer),
            sa.column("last_hash", sa.String),
        ),
        [{"id": HEAD_ID, "last_id": last_id, "last_hash": last_hash}],
    )


def downgrade() -> None:
    op.drop_table("access_log_head")
    # SQLite ≥ 3.35 drops columns in place (a batch copy would lose the triggers).
    op.drop_column("access_log", "row_hash")
    op.drop_column("access_log", "prev_hash")
