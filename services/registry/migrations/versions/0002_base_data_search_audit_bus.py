"""base data (buildings, households, persons), search, personal-data access log, bus

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:00:00

Dialect-specific parts (op.execute with a dialect check): the search indexes over person
names and building names and addresses (SQLite FTS5 with the trigram tokenizer; PostgreSQL
pg_trgm GIN indexes) and the triggers that make the access log append-only.
"""

import sqlalchemy as sa
from alembic import op

from services.common.bus import create_bus_tables_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "access_log is append-only"


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    create_bus_tables_v1(op)
    op.create_table(
        "buildings",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("footprint_geojson", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_buildings_grid", "buildings", ["grid_code", "code"])
    op.create_table(
        "households",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("building_code", sa.String(length=64), nullable=False),
        sa.Column("unit_number", sa.String(length=16), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("head_name", sa.String(length=100), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["building_code"], ["buildings.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_households_building", "households", ["building_code"])
    op.create_index("ix_households_unit", "households", ["unit_code", "id"])
    op.create_table(
        "persons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("gender", sa.String(length=2), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("household_id", sa.String(length=200), nullable=True),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("ledger_unit_code", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.Integer(), nullable=False),
        sa.Column("phone_tail", sa.String(length=4), nullable=False),
        sa.Column("id_tail", sa.String(length=4), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_number", name="uq_persons_id_number"),
    )
    op.create_index("ix_persons_household", "persons", ["household_id"])
    op.create_index("ix_persons_unit", "persons", ["unit_code", "id"])
    op.create_index("ix_persons_phone_tail", "persons", ["phone_tail"])
    op.create_index("ix_persons_id_tail", "persons", ["id_tail"])
    op.create_table(
        "person_cases",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        _ts("received_at"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("person_id", "case_id"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _ts("time"),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("view", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_subject", "access_log", ["subject_id", "id"])
    op.create_index("ix_access_log_actor", "access_log", ["actor", "id"])
    op.create_table(
        "import_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("written", sa.Boolean(), nullable=False),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    if dialect == "sqlite":
        # External-content FTS5 over the tables themselves (their implicit rowid);
        # services/registry/store/search.py keeps them in step (rebuild after a bulk load).
        op.execute(
            "CREATE VIRTUAL TABLE person_fts USING fts5("
            "name, content='persons', content_rowid='rowid', tokenize='trigram')"
        )
        op.execute(
            "CREATE VIRTUAL TABLE building_fts USING fts5("
            "name, address, content='buildings', content_rowid='rowid', tokenize='trigram')"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_log_no_{verb.lower()} BEFORE {verb} ON access_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in (("persons", "name"), ("buildings", "name"), ("buildings", "address")):
            op.execute(
                f"CREATE INDEX ix_{table}_{column}_trgm ON {table} "
                f"USING gin ({column} gin_trgm_ops)"
            )
        op.execute(
            "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON access_log FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS person_fts")
        op.execute("DROP TABLE IF EXISTS building_fts")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    for table in (
        "import_runs",
        "access_log",
        "person_cases",
        "persons",
        "households",
        "buildings",
        "inbox",
        "outbox",
    ):
        op.drop_table(table)
