"""registry's tables (SQLAlchemy Core metadata), as the migrations in MIGRATIONS create
them; the bus's outbox and inbox among them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from services.common.bus import bus_tables

MIGRATIONS = Path(__file__).parent.parent / "migrations"

metadata = MetaData()

units = Table(
    "units",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", Integer, nullable=False),
    Column("type_name", String(16), nullable=False),
    Column("parent_code", String(32), nullable=False, default=""),
    Column("boundary_geojson", Text, nullable=False, default=""),
    Column("centroid_lat", Float, nullable=True),
    Column("centroid_lon", Float, nullable=True),
)
Index("ix_units_parent", units.c.parent_code, units.c.code)
Index("ix_units_level", units.c.level, units.c.code)

staff = Table(
    "staff",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", Integer, nullable=False),
    Column("phone", String(32), nullable=False, default=""),
    Column("unit_code", String(32), nullable=False, default=""),
    # A JSON array of strings, e.g. ["electrical"]; matched by its quoted token.
    Column("skills", Text, nullable=False, default="[]"),
)
Index("ix_staff_unit", staff.c.unit_code)

staff_grids = Table(
    "staff_grids",
    metadata,
    Column("staff_id", String(64), ForeignKey("staff.id"), primary_key=True),
    Column("grid_code", String(32), primary_key=True),
)
Index("ix_staff_grids_grid", staff_grids.c.grid_code)

departments = Table(
    "departments",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("district_code", String(32), nullable=False),
)

# --- base data (migration 0002) ----------------------------------------------------------

buildings = Table(
    "buildings",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(100), nullable=False, default=""),
    Column("address", String(300), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("footprint_geojson", Text, nullable=False, default=""),
    # The grid the point lies in; "" when outside every grid (an audit finding).
    Column("grid_code", String(32), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_buildings_grid", buildings.c.grid_code, buildings.c.code)
Index("ix_buildings_address", buildings.c.address)  # 0003: exact geocoding

households = Table(
    "households",
    metadata,
    # "<building code>/<unit>/<room>": the natural key itself.
    Column("id", String(200), primary_key=True),
    Column("building_code", String(64), ForeignKey("buildings.code"), nullable=False),
    Column("unit_number", String(16), nullable=False, default=""),
    Column("room", String(32), nullable=False),
    Column("head_name", String(100), nullable=False, default=""),
    # = the building's grid_code.
    Column("unit_code", String(32), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_households_building", households.c.building_code)
Index("ix_households_unit", households.c.unit_code, households.c.id)

persons = Table(
    "persons",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("id_number", String(18), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20), nullable=False, default=""),
    Column("gender", String(2), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("household_id", String(200), ForeignKey("households.id"), nullable=True),
    Column("relation", String(20), nullable=False, default=""),
    # The household's grid, else ledger_unit_code.
    Column("unit_code", String(32), nullable=False, default=""),
    # The unit whose ledger lists the person (所属社区), as the ledger says; may be "".
    Column("ledger_unit_code", String(32), nullable=False, default=""),
    # Bit set of PersonTag values: bit (tag - 1).
    Column("tags", Integer, nullable=False, default=0),
    # Last four characters, for "phone tail" / "ID tail" searches through an index.
    Column("phone_tail", String(4), nullable=False, default=""),
    Column("id_tail", String(4), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_persons_household", persons.c.household_id)
Index("ix_persons_unit", persons.c.unit_code, persons.c.id)
Index("ix_persons_phone_tail", persons.c.phone_tail)
Index("ix_persons_id_tail", persons.c.id_tail)

# Cases a person reported, linked when intake's case.received came by (matched by phone).
person_cases = Table(
    "person_cases",
    metadata,
    Column("person_id", String(40), ForeignKey("persons.id"), primary_key=True),
    Column("case_id", String(36), primary_key=True),
    Column("category", String(64), nullable=False, default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# Append-only (triggers refuse UPDATE and DELETE): every read of personal data, in a hash
# chain (services/registry/accesslog.py): each row holds the hash of the row before it and
# its own hash over its fields; ids are consecutive from 1 (migration 0004).
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("purpose", String(200), nullable=False, default=""),
    Column("method", String(64), nullable=False),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("view", Integer, nullable=False),
    Column("outcome", Integer, nullable=False),
    Column("reason", String(300), nullable=False, default=""),
    Column("request_id", String(64), nullable=False, default=""),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)
Index("ix_access_log_subject", access_log.c.subject_id, access_log.c.id)
Index("ix_access_log_actor", access_log.c.actor, access_log.c.id)

# The chain's head: one row (id 1) naming the last row appended and its hash. Appends lock
# it (FOR UPDATE on PostgreSQL; SQLite's writer holds the database lock), so replicas
# writing at once still make one chain; `lianxin audit verify` checks the chain ends there.
access_log_head = Table(
    "access_log_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("file_name", String(300), nullable=False, default=""),
    Column("total_rows", Integer, nullable=False),
    Column("inserted", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("written", Boolean, nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
)

outbox, inbox = bus_tables(metadata)
