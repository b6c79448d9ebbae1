"""What registry's queries share: code ranges (`under()`), chunks, bulk inserts with
indexes built afterwards, keyed lookups in chunks, LIKE escaping."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    insert,
    literal,
    select,
    true,
)

INSERT_BATCH = 2000
IN_CHUNK = 500


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
