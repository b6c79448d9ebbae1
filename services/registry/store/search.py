"""Search: persons and buildings by text, persons by phone or ID-number tail, and the
upkeep of SQLite's FTS tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Table,
    and_,
    case,
    column,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)

from services.registry.store.helpers import IN_CHUNK, _like_escape, chunks, under
from services.registry.store.tables import buildings, households, persons

SEARCH_PERSON = 1
SEARCH_BUILDING = 2

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
