"""registry's tables and queries (SQLAlchemy Core), on SQLite and PostgreSQL alike.

Where the two differ, the difference stays in this module:
- search: SQLite keeps FTS5 tables with the trigram tokenizer over person names and
  building names and addresses (external content: the tables themselves), which this
  module keeps in step; PostgreSQL has pg_trgm GIN indexes on the same columns. Both are
  created by migration 0002. Queries of one or two characters are scans on both.
- the access log is append-only on both: triggers refuse UPDATE and DELETE.

Denormalised on purpose, kept right by the import code: a household's and a person's
`unit_code` (the grid of their building, or for a person without a household the unit
whose ledger lists them). Codes nest (a unit's code is a prefix of
every code below it), so "in unit X" is a code range (`under()`), served by indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
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
    and_,
    case,
    column,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)

from services.common.bus import bus_tables

MIGRATIONS = Path(__file__).parent / "migrations"

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

SEARCH_PERSON = 1
SEARCH_BUILDING = 2

INSERT_BATCH = 2000
IN_CHUNK = 500


# --- helpers -----------------------------------------------------------------------------


def _code_after(prefix: str) -> str | None:
    """The smallest digit string greater than every string starting with `prefix`
    ("370402" → "370403", "3704029" → "370403"); None when there is none."""
    chars = list(prefix)
    while chars:
        last = chars.pop()
        if last.isdigit() and last != "9":
            return "".join(chars) + chr(ord(last) + 1)
        if not last.isdigit():
            return "".join(chars) + chr(ord(last) + 1)
    return None


def under(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as a range both SQLite and PostgreSQL serve from a
    B-tree index (SQLite's LIKE is case-insensitive and would not)."""
    if not prefix:
        return true()
    upper = _code_after(prefix)
    cond = column >= prefix
    return and_(cond, column < upper) if upper is not None else cond


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def bulk_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    batch: int = INSERT_BATCH,
) -> None:
    """INSERT many rows in the caller's transaction: `keys` of each row (default: all
    of the first row's), plus the same `extra` values on every row.

    On SQLite the rows go straight to the driver's executemany, each value through its
    column type's bind processor (memoised: dates repeat): SQLAlchemy's own executemany
    spends about 30 µs a row on 15 columns, more than SQLite's insert itself (measured on
    the 500,000-person import, bench/registry). Elsewhere, a Core insert (psycopg batches
    it into multi-row VALUES)."""
    if not rows:
        return
    keys = list(keys if keys is not None else rows[0])
    extra = extra or {}
    if conn.dialect.name != "sqlite":
        for chunk in chunks(rows, batch):
            conn.execute(insert(table), [{**{k: r[k] for k in keys}, **extra} for r in chunk])
        return
    names = [*keys, *extra]
    fixed = tuple(_processor(table, k, conn)(v) for k, v in extra.items())
    procs = [(i, p) for i, p in enumerate(_processor(table, k, conn) for k in keys)]
    procs = [(i, p) for i, p in procs if p is not _identity]
    get = itemgetter(*keys) if len(keys) > 1 else (lambda r: (r[keys[0]],))

    def row(r: dict[str, Any]) -> tuple[Any, ...]:
        values = list(get(r))
        for i, p in procs:
            values[i] = p(values[i])
        return (*values, *fixed)

    params: Iterable[tuple[Any, ...]] = (
        (map(row, rows)) if procs else (get(r) + fixed for r in rows)
    )
    columns = ", ".join(f'"{k}"' for k in names)
    marks = ", ".join("?" * len(names))
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


def _identity(value: Any) -> Any:
    return value


def _processor(table: Table, key: str, conn: Connection) -> Any:
    proc = table.c[key].type.bind_processor(conn.dialect)
    if proc is None:
        return _identity
    memo: dict[Any, Any] = {None: None}

    def process(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            out = memo[value] = proc(value)
            return out

    return process


@contextmanager
def indexes_deferred(conn: Connection, table: Table, *, when: bool) -> Iterator[None]:
    """Load a table without its secondary indexes and build them after (in the same
    transaction): sorting once beats inserting 500,000 random keys into four B-trees.
    Only `when` the load is big and the table was empty."""
    if not when:
        yield
        return
    for index in table.indexes:
        index.drop(conn)
    yield
    for index in table.indexes:
        index.create(conn)


def is_table_empty(conn: Connection, table: Table) -> bool:
    return conn.execute(select(literal(1)).select_from(table).limit(1)).first() is None


def skills_json(skills: list[str]) -> str:
    return json.dumps(skills, ensure_ascii=False)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- units, staff, departments -----------------------------------------------------------


def is_empty(conn: Connection) -> bool:
    return conn.execute(select(func.count()).select_from(units)).scalar_one() == 0


def insert_all(
    conn: Connection,
    *,
    unit_rows: list[dict[str, Any]],
    staff_rows: list[dict[str, Any]],
    staff_grid_rows: list[dict[str, Any]],
    department_rows: list[dict[str, Any]],
) -> None:
    """Batched inserts inside the caller's transaction."""
    for table, rows in (
        (units, unit_rows),
        (departments, department_rows),
        (staff, staff_rows),
        (staff_grids, staff_grid_rows),
    ):
        for batch in chunks(rows, INSERT_BATCH):
            conn.execute(insert(table), list(batch))


def all_units(conn: Connection) -> list[Any]:
    return list(conn.execute(select(units).order_by(units.c.code)))


def get_unit(conn: Connection, *, code: str) -> Any:
    return conn.execute(select(units).where(units.c.code == code)).first()


def units_under(conn: Connection, *, prefix: str) -> list[Any]:
    return list(
        conn.execute(select(units).where(under(units.c.code, prefix)).order_by(units.c.code))
    )


def list_units(
    conn: Connection, *, parent_code: str, level: int, after_code: str, limit: int
) -> list[Any]:
    q = select(units).order_by(units.c.code).limit(limit)
    if parent_code:
        q = q.where(units.c.parent_code == parent_code)
    if level:
        q = q.where(units.c.level == level)
    if after_code:
        q = q.where(units.c.code > after_code)
    return list(conn.execute(q))


def list_staff(
    conn: Connection,
    *,
    grid_code: str,
    unit_code: str,
    role: int,
    skill: str,
    after_id: str,
    limit: int,
) -> list[Any]:
    q = select(staff).order_by(staff.c.id).limit(limit)
    if grid_code:
        q = q.where(
            exists().where(
                staff_grids.c.staff_id == staff.c.id, staff_grids.c.grid_code == grid_code
            )
        )
    if unit_code:
        q = q.where(staff.c.unit_code == unit_code)
    if role:
        q = q.where(staff.c.role == role)
    if skill:
        token = _like_escape(json.dumps(skill, ensure_ascii=False))
        q = q.where(staff.c.skills.like(f"%{token}%", escape="\\"))
    if after_id:
        q = q.where(staff.c.id > after_id)
    return list(conn.execute(q))


def grids_of_staff(conn: Connection, *, staff_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {sid: [] for sid in staff_ids}
    if staff_ids:
        rows = conn.execute(
            select(staff_grids)
            .where(staff_grids.c.staff_id.in_(staff_ids))
            .order_by(staff_grids.c.staff_id, staff_grids.c.grid_code)
        )
        for r in rows:
            out[r.staff_id].append(r.grid_code)
    return out


def list_departments(conn: Connection, *, after_code: str, limit: int) -> list[Any]:
    q = select(departments).order_by(departments.c.code).limit(limit)
    if after_code:
        q = q.where(departments.c.code > after_code)
    return list(conn.execute(q))


# --- buildings, households, persons ------------------------------------------------------


def get_building(conn: Connection, *, code: str) -> Any:
    return conn.execute(select(buildings).where(buildings.c.code == code)).first()


def get_household(conn: Connection, *, household_id: str) -> Any:
    return conn.execute(select(households).where(households.c.id == household_id)).first()


def get_person(conn: Connection, *, person_id: str) -> Any:
    return conn.execute(select(persons).where(persons.c.id == person_id)).first()


def households_of_building(conn: Connection, *, building_code: str) -> list[Any]:
    return list(
        conn.execute(
            select(households)
            .where(households.c.building_code == building_code)
            .order_by(households.c.unit_number, households.c.room, households.c.id)
        )
    )


def persons_of_households(conn: Connection, *, household_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {h: [] for h in household_ids}
    for chunk in chunks(household_ids, IN_CHUNK):
        rows = conn.execute(
            select(persons)
            .where(persons.c.household_id.in_(list(chunk)))
            .order_by(persons.c.household_id, persons.c.id)
        )
        for r in rows:
            out[r.household_id].append(r)
    return out


def count_households(conn: Connection, *, building_codes: list[str]) -> dict[str, int]:
    out = dict.fromkeys(building_codes, 0)
    for chunk in chunks(building_codes, IN_CHUNK):
        rows = conn.execute(
            select(households.c.building_code, func.count())
            .where(households.c.building_code.in_(list(chunk)))
            .group_by(households.c.building_code)
        )
        out.update({code: n for code, n in rows})
    return out


def count_persons(conn: Connection, *, household_ids: list[str]) -> dict[str, int]:
    out = dict.fromkeys(household_ids, 0)
    for chunk in chunks(household_ids, IN_CHUNK):
        rows = conn.execute(
            select(persons.c.household_id, func.count())
            .where(persons.c.household_id.in_(list(chunk)))
            .group_by(persons.c.household_id)
        )
        out.update({hid: n for hid, n in rows})
    return out


def lookup(
    conn: Connection, columns: Sequence[Any], key: Any, keys: Iterable[str]
) -> dict[str, Any]:
    """Rows (of `columns`) whose `key` is one of `keys`, by key: chunks of IN (…) for a
    few keys, one scan for many."""
    wanted = set(keys)
    out: dict[str, Any] = {}
    if not wanted:
        return out
    table = key.table
    if is_table_empty(conn, table):
        return out
    if len(wanted) > 20_000:
        for r in conn.execute(select(*columns)):
            if r._mapping[key] in wanted:
                out[r._mapping[key]] = r
        return out
    for chunk in chunks(sorted(wanted), IN_CHUNK):
        for r in conn.execute(select(*columns).where(key.in_(list(chunk)))):
            out[r._mapping[key]] = r
    return out


def buildings_by_code(conn: Connection, *, codes: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in chunks(sorted(set(codes)), IN_CHUNK):
        for r in conn.execute(select(buildings).where(buildings.c.code.in_(list(chunk)))):
            out[r.code] = r
    return out


# --- area summary ------------------------------------------------------------------------


def area_counts(conn: Connection, *, prefix: str, tags: Sequence[int]) -> dict[str, Any]:
    """Grids, buildings, households, persons and persons per tag below `prefix`."""
    from lianxin.registry.v1 import resources_pb2 as res

    grids = conn.execute(
        select(func.count())
        .select_from(units)
        .where(units.c.level == res.UNIT_LEVEL_GRID, under(units.c.code, prefix))
    ).scalar_one()
    n_buildings = conn.execute(
        select(func.count()).select_from(buildings).where(under(buildings.c.grid_code, prefix))
    ).scalar_one()
    n_households = conn.execute(
        select(func.count()).select_from(households).where(under(households.c.unit_code, prefix))
    ).scalar_one()
    tag_sums = [
        func.coalesce(
            func.sum(case((persons.c.tags.op("&")(1 << (t - 1)) != 0, 1), else_=0)), 0
        ).label(f"t{t}")
        for t in tags
    ]
    row = conn.execute(
        select(func.count().label("population"), *tag_sums).where(
            under(persons.c.unit_code, prefix)
        )
    ).one()
    return {
        "grids": grids,
        "buildings": n_buildings,
        "households": n_households,
        "population": row.population,
        "tags": {t: int(getattr(row, f"t{t}")) for t in tags},
    }


# --- coverage audit (the SQL half; the land half is in audit.py) -------------------------


def buildings_without_grid(conn: Connection) -> list[Any]:
    return list(
        conn.execute(
            select(buildings.c.code, buildings.c.address, buildings.c.lat, buildings.c.lon)
            .where(buildings.c.grid_code == "")
            .order_by(buildings.c.code)
        )
    )


def _no_household(prefix: str) -> ColumnElement[bool]:
    return and_(
        buildings.c.grid_code != "",
        under(buildings.c.grid_code, prefix),
        ~exists().where(households.c.building_code == buildings.c.code),
    )


def _no_person(prefix: str) -> ColumnElement[bool]:
    return and_(
        under(households.c.unit_code, prefix),
        ~exists().where(persons.c.household_id == households.c.id),
    )


def _homeless(prefix: str, *, root: bool) -> ColumnElement[bool]:
    scope = under(persons.c.unit_code, prefix)
    if root:
        scope = or_(scope, persons.c.unit_code == "")
    return and_(persons.c.household_id.is_(None), scope)


def audit_counts(conn: Connection, *, prefix: str, root: bool) -> tuple[int, int, int]:
    """(buildings without household, households without person, persons without
    household) in the unit."""
    b = conn.execute(select(func.count()).select_from(buildings).where(_no_household(prefix)))
    h = conn.execute(select(func.count()).select_from(households).where(_no_person(prefix)))
    p = conn.execute(select(func.count()).select_from(persons).where(_homeless(prefix, root=root)))
    return b.scalar_one(), h.scalar_one(), p.scalar_one()


def buildings_without_household(
    conn: Connection, *, prefix: str, after: str, limit: int
) -> list[Any]:
    q = (
        select(buildings.c.code, buildings.c.address, buildings.c.grid_code)
        .where(_no_household(prefix), buildings.c.code > after)
        .order_by(buildings.c.code)
        .limit(limit)
    )
    return list(conn.execute(q))


def households_without_person(
    conn: Connection, *, prefix: str, after: str, limit: int
) -> list[Any]:
    q = (
        select(households.c.id, households.c.unit_code)
        .where(_no_person(prefix), households.c.id > after)
        .order_by(households.c.id)
        .limit(limit)
    )
    return list(conn.execute(q))


def persons_without_household(
    conn: Connection, *, prefix: str, root: bool, after: str, limit: int
) -> list[Any]:
    q = (
        select(persons.c.id, persons.c.name, persons.c.unit_code)
        .where(_homeless(prefix, root=root), persons.c.id > after)
        .order_by(persons.c.id)
        .limit(limit)
    )
    return list(conn.execute(q))


# --- search ------------------------------------------------------------------------------
# SQLite: FTS5 trigram tables with the tables themselves as external content (person_fts
# over persons.name, building_fts over buildings.name and address), kept in step here:
# rebuilt after a bulk load, told about changed rows otherwise (search_forget before an
# update, search_learn after). PostgreSQL: pg_trgm GIN indexes, maintained by the server.

_FTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "persons": ("person_fts", ("name",), "id"),
    "buildings": ("building_fts", ("name", "address"), "code"),
}


def search_rebuild(conn: Connection, table: Table) -> None:
    if conn.dialect.name == "sqlite":
        fts = _FTS[table.name][0]
        conn.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _fts_rows(conn: Connection, table: Table, keys: Iterable[str], *, delete: bool) -> None:
    if conn.dialect.name != "sqlite":
        return
    fts, cols, key = _FTS[table.name]
    names = ", ".join(cols)
    head = (
        f"INSERT INTO {fts}({fts}, rowid, {names}) SELECT 'delete', "
        if delete
        else (f"INSERT INTO {fts}(rowid, {names}) SELECT ")
    )
    for chunk in chunks(sorted(set(keys)), IN_CHUNK):
        marks = ", ".join("?" * len(chunk))
        conn.exec_driver_sql(
            f"{head}rowid, {names} FROM {table.name} WHERE {key} IN ({marks})", tuple(chunk)
        )


def search_forget(conn: Connection, table: Table, keys: Iterable[str]) -> None:
    """Before these rows' searchable columns change (or the rows go)."""
    _fts_rows(conn, table, keys, delete=True)


def search_learn(conn: Connection, table: Table, keys: Iterable[str]) -> None:
    """After these rows were inserted or their searchable columns changed."""
    _fts_rows(conn, table, keys, delete=False)


def _matches(conn: Connection, table: Table, query: str, tag: str) -> ColumnElement[bool]:
    """Rows of `table` whose searchable columns contain `query`."""
    fts, cols, _ = _FTS[table.name]
    if len(query) >= 3 and conn.dialect.name == "sqlite":
        phrase = '"' + query.replace('"', '""') + '"'
        rowids = (
            text(f"SELECT rowid FROM {fts} WHERE {fts} MATCH :{tag}")
            .bindparams(**{tag: phrase})
            .columns(column("rowid", Integer))
        )
        return literal_column(f"{table.name}.rowid").in_(rowids)
    # PostgreSQL: served by the pg_trgm indexes; SQLite, one or two characters: a scan.
    pattern = f"%{_like_escape(query)}%"
    return or_(*(table.c[c].like(pattern, escape="\\") for c in cols))


def search_text(
    conn: Connection,
    *,
    query: str,
    prefix: str,
    offset: int,
    limit: int,
    with_persons: bool = True,
) -> list[Any]:
    """(kind, ref, score) of persons and buildings matching `query`, best first: persons
    by name (0 the whole name, 1 its start, 2 a part), buildings by name or address (3),
    then persons living in those buildings (4). Buildings only unless `with_persons`."""
    p, b, h = persons, buildings, households
    escaped = _like_escape(query)
    by_name = _matches(conn, p, query, "m_person")
    score = case((p.c.name == query, 0), (p.c.name.like(escaped + "%", escape="\\"), 1), else_=2)
    named = select(
        literal(SEARCH_PERSON).label("kind"),
        p.c.id.label("ref"),
        score.label("score"),
        p.c.name.label("sort"),
    ).where(by_name, under(p.c.unit_code, prefix))
    places = select(
        literal(SEARCH_BUILDING).label("kind"),
        b.c.code.label("ref"),
        literal(3).label("score"),
        b.c.address.label("sort"),
    ).where(_matches(conn, b, query, "m_building"), under(b.c.grid_code, prefix))
    matched = select(b.c.code).where(_matches(conn, b, query, "m_address"))
    residents = (
        select(literal(SEARCH_PERSON), p.c.id, literal(4), p.c.name)
        .select_from(p.join(h, h.c.id == p.c.household_id))
        .where(
            h.c.building_code.in_(matched),
            ~_matches(conn, p, query, "m_resident"),
            under(p.c.unit_code, prefix),
        )
    )
    u = (union_all(named, places, residents) if with_persons else places).subquery()
    q = select(u).order_by(u.c.score, u.c.sort, u.c.ref).offset(offset).limit(limit)
    return list(conn.execute(q))


def search_tail(
    conn: Connection, *, digits: str, prefix: str, offset: int, limit: int
) -> list[Any]:
    """Persons whose phone or ID number ends with `digits` (4 or more), phone matches
    first. Rows carry the person and `score` (0 phone, 1 ID number)."""
    tail = digits[-4:]
    pattern = "%" + _like_escape(digits)
    by_phone = and_(persons.c.phone_tail == tail, persons.c.phone.like(pattern, escape="\\"))
    by_id = and_(persons.c.id_tail == tail, persons.c.id_number.like(pattern, escape="\\"))
    score = case((by_phone, 0), else_=1)
    q = (
        select(persons, score.label("score"))
        .where(or_(by_phone, by_id), under(persons.c.unit_code, prefix))
        .order_by(score, persons.c.name, persons.c.id)
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(q))


def person_homes(conn: Connection, *, person_ids: list[str]) -> dict[str, tuple[str, str, str]]:
    """person id → (building address, unit, room) of their household."""
    p, h, b = persons, households, buildings
    out: dict[str, tuple[str, str, str]] = {}
    for chunk in chunks(person_ids, IN_CHUNK):
        rows = conn.execute(
            select(p.c.id, b.c.address, h.c.unit_number, h.c.room)
            .select_from(
                p.join(h, h.c.id == p.c.household_id).join(b, b.c.code == h.c.building_code)
            )
            .where(p.c.id.in_(list(chunk)))
        )
        out.update({r.id: (r.address, r.unit_number, r.room) for r in rows})
    return out


def persons_by_id(conn: Connection, *, ids: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in chunks(sorted(set(ids)), IN_CHUNK):
        for r in conn.execute(select(persons).where(persons.c.id.in_(list(chunk)))):
            out[r.id] = r
    return out


# --- the access log ----------------------------------------------------------------------


def log_access(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append `rows` to the access log's hash chain (services/registry/accesslog.py)."""
    from services.registry import accesslog

    accesslog.append(conn, rows)


def list_access(
    conn: Connection, *, subject_id: str, actor: str, before_id: int | None, limit: int
) -> list[Any]:
    q = select(access_log).order_by(access_log.c.id.desc()).limit(limit)
    if subject_id:
        q = q.where(access_log.c.subject_id == subject_id)
    if actor:
        q = q.where(access_log.c.actor == actor)
    if before_id is not None:
        q = q.where(access_log.c.id < before_id)
    return list(conn.execute(q))


# --- cases of persons --------------------------------------------------------------------


def persons_with_phone(conn: Connection, *, phone: str) -> list[Any]:
    if not phone:
        return []
    tail = phone[-4:]
    return list(
        conn.execute(
            select(persons.c.id, persons.c.name).where(
                persons.c.phone_tail == tail, persons.c.phone == phone
            )
        )
    )


def link_case(
    conn: Connection, *, person_ids: list[str], case_id: str, category: str, received_at: datetime
) -> None:
    from services.common.bus import insert_ignore

    for pid in person_ids:
        insert_ignore(
            conn,
            person_cases,
            {
                "person_id": pid,
                "case_id": case_id,
                "category": category,
                "received_at": received_at,
            },
        )


def cases_of_person(conn: Connection, *, person_id: str, limit: int) -> list[Any]:
    return list(
        conn.execute(
            select(person_cases)
            .where(person_cases.c.person_id == person_id)
            .order_by(person_cases.c.received_at.desc(), person_cases.c.case_id.desc())
            .limit(limit)
        )
    )
