"""The access log is a hash chain: `lianxin audit verify` finds an edited, deleted,
re-ordered or forged row, on SQLite and PostgreSQL; replicas appending at once still make
one chain; migration 0004 chains the rows already there."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, text

from services.cli.main import main as lianxin
from services.common.db import Database, _alembic_config, make_engine, migrate
from services.registry import accesslog
from services.registry.store import records, tables

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def entry(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "time": T0 + timedelta(seconds=i, microseconds=i),
        "actor": f"staff-{i % 3}",
        "purpose": "入户走访" if i % 2 else "",
        "method": "GetPersonView",
        "subject_kind": "person",
        "subject_id": f"P{i:05d}",
        "view": 1 + i % 2,
        "outcome": 1,
        "reason": "",
        "request_id": f"req-{i}",
    }
    row.update(overrides)
    return row


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    migrate(fresh_database_url, tables.MIGRATIONS)
    eng = make_engine(fresh_database_url)
    yield eng
    eng.dispose()


def fill(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        accesslog.append(conn, [entry(i) for i in range(1, count + 1)])


def tamper(engine: Engine, *statements: str, params: dict[str, Any] | None = None) -> None:
    """What someone who owns the database could do: drop the append-only triggers, then
    change rows directly."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS access_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS access_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS access_log_append_only ON access_log"))
        for s in statements:
            conn.execute(text(s), params or {})


def verdict(engine: Engine) -> accesslog.Verdict:
    with engine.connect() as conn:
        return accesslog.verify(conn, batch=4)  # small pages: the paging is checked too


def cli(url: str, *extra: str) -> int:
    return lianxin(["audit", "verify", "--database-url", url, *extra])


def test_an_untouched_chain_verifies_with_its_row_count(
    engine: Engine, fresh_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(engine, 10)
    v = verdict(engine)
    assert (v.ok, v.rows, v.problem) == (True, 10, "")
    assert cli(fresh_database_url) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 10 rows, head ") and v.head_hash in out
    assert cli(fresh_database_url, "--expect-head", v.head_hash) == 0


def test_an_empty_log_verifies(engine: Engine) -> None:
    v = verdict(engine)
    assert (v.ok, v.rows, v.head_hash) == (True, 0, accesslog.GENESIS)


def test_rows_are_chained_in_order(engine: Engine) -> None:
    fill(engine, 3)
    fill(engine, 2)
    with engine.connect() as conn:
        rows = list(conn.execute(select(tables.access_log).order_by(tables.access_log.c.id)))
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == accesslog.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.row_hash
        assert accesslog.row_hash(after) == after.row_hash


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "'someone-else'"),
        ("purpose", "'看看'"),
        ("method", "'ListStaff'"),
        ("subject_kind", "'staff'"),
        ("subject_id", "'P99999'"),
        ("view", "view + 1"),
        ("outcome", "2"),
        ("reason", "'because'"),
        ("request_id", "'req-x'"),
        ("time", "(SELECT time FROM access_log WHERE id = 1)"),
        ("prev_hash", "(SELECT row_hash FROM access_log WHERE id = 1)"),
        ("row_hash", "(SELECT row_hash FROM access_log WHERE id = 1)"),
    ],
)
def test_an_edited_row_is_found_whatever_field_changed(
    engine: Engine, fresh_database_url: str, column: str, value: str
) -> None:
    fill(engine, 6)
    tamper(engine, f"UPDATE access_log SET {column} = {value} WHERE id = 3")
    v = verdict(engine)
    assert (v.ok, v.broken_id, v.rows) == (False, 3, 2)
    assert "row 3 was edited" in v.problem
    assert cli(fresh_database_url) == 1


def test_a_deleted_row_is_found(
    engine: Engine, fresh_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(engine, 6)
    tamper(engine, "DELETE FROM access_log WHERE id = 3")
    v = verdict(engine)
    assert (v.ok, v.broken_id) == (False, 4)
    assert "row 3 deleted" in v.problem
    assert cli(fresh_database_url) == 1
    assert "BROKEN at row 4: row 3 deleted" in capsys.readouterr().err


def test_deleted_rows_at_the_end_are_found_by_the_head(engine: Engine) -> None:
    fill(engine, 6)
    tamper(engine, "DELETE FROM access_log WHERE id >= 5")
    v = verdict(engine)
    assert (v.ok, v.rows) == (False, 4)
    assert "rows 5..6 deleted" in v.problem


def test_the_first_row_deleted_is_found(engine: Engine) -> None:
    fill(engine, 3)
    tamper(engine, "DELETE FROM access_log WHERE id = 1")
    v = verdict(engine)
    assert (v.ok, v.broken_id, v.rows) == (False, 2, 0)
    assert "deleted" in v.problem


def test_re_ordered_rows_are_found(engine: Engine) -> None:
    fill(engine, 6)
    tamper(
        engine,
        "UPDATE access_log SET id = 100 WHERE id = 3",
        "UPDATE access_log SET id = 3 WHERE id = 4",
        "UPDATE access_log SET id = 4 WHERE id = 100",
    )
    v = verdict(engine)
    assert (v.ok, v.broken_id) == (False, 3)
    assert "re-ordered" in v.problem


def forged(engine: Engine, *, after_id: int, new_id: int) -> dict[str, Any]:
    """A row chained correctly after row `after_id` (its hash computed as ours are)."""
    with engine.connect() as conn:
        prev = conn.execute(
            select(tables.access_log.c.row_hash).where(tables.access_log.c.id == after_id)
        ).scalar_one()
    row = {**entry(0, actor="forger", subject_id="P00042"), "id": new_id, "prev_hash": prev}
    row["row_hash"] = accesslog.row_hash(row)
    return row


def test_a_forged_row_inserted_in_the_middle_is_found(engine: Engine) -> None:
    fill(engine, 6)
    row = forged(engine, after_id=3, new_id=4)
    # Make room: move rows 4..6 up by one (from the top, so ids never clash).
    tamper(engine, *(f"UPDATE access_log SET id = {i + 1} WHERE id = {i}" for i in (6, 5, 4)))
    with engine.begin() as conn:
        conn.execute(insert(tables.access_log), [row])
        conn.execute(text("UPDATE access_log_head SET last_id = 7"))
    v = verdict(engine)
    assert (v.ok, v.broken_id) == (False, 5)
    assert "inserted" in v.problem and "row 5 follows row 3" in v.problem


def test_a_forged_row_appended_without_the_chain_head_is_found(engine: Engine) -> None:
    fill(engine, 4)
    with engine.begin() as conn:
        conn.execute(insert(tables.access_log), [forged(engine, after_id=4, new_id=5)])
    v = verdict(engine)
    assert (v.ok, v.broken_id) == (False, 5)
    assert "forged" in v.problem


def test_a_row_with_a_made_up_hash_is_found(engine: Engine) -> None:
    fill(engine, 4)
    row = forged(engine, after_id=4, new_id=5)
    row["row_hash"] = "f" * 64
    with engine.begin() as conn:
        conn.execute(insert(tables.access_log), [row])
        conn.execute(
            text("UPDATE access_log_head SET last_id = 5, last_hash = :h"), {"h": "f" * 64}
        )
    v = verdict(engine)
    assert (v.ok, v.broken_id) == (False, 5)
    assert "edited" in v.problem


def test_a_rewritten_log_fails_against_an_earlier_head(
    engine: Engine, fresh_database_url: str
) -> None:
    fill(engine, 4)
    earlier = verdict(engine).head_hash
    # Rewrite everything consistently (the one thing a chain alone cannot see).
    tamper(engine, "DELETE FROM access_log")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE access_log_head SET last_id = 0, last_hash = :g"), {"g": accesslog.GENESIS}
        )
        accesslog.append(conn, [entry(i, actor="someone") for i in range(1, 5)])
    assert verdict(engine).ok
    assert cli(fresh_database_url) == 0
    assert cli(fresh_database_url, "--expect-head", earlier) == 1


def test_verify_says_when_there_is_no_database(tmp_path: Any) -> None:
    assert lianxin(["audit", "verify", "--data-dir", str(tmp_path)]) == 2


async def test_two_replicas_appending_at_once_make_one_chain(fresh_database_url: str) -> None:
    migrate(fresh_database_url, tables.MIGRATIONS)
    replicas = [Database(fresh_database_url, name=f"registry-{i}") for i in range(2)]
    try:

        async def burst(db: Database, who: int) -> None:
            for n in range(30):
                rows = [entry(n * 3 + k, actor=f"replica-{who}") for k in range(3)]
                await db.write(lambda conn, rows=rows: records.log_access(conn, rows))

        await asyncio.gather(*(burst(db, i) for i, db in enumerate(replicas) for _ in range(3)))
    finally:
        for db in replicas:
            db.close()
    eng = make_engine(fresh_database_url)
    try:
        v = verdict(eng)
        with eng.connect() as conn:
            actors = conn.execute(
                text("SELECT actor, count(*) FROM access_log GROUP BY actor ORDER BY actor")
            ).all()
    finally:
        eng.dispose()
    assert (v.ok, v.rows, v.problem) == (True, 2 * 3 * 30 * 3, "")
    assert [tuple(a) for a in actors] == [("replica-0", 270), ("replica-1", 270)]


def test_the_migration_chains_rows_already_in_the_log(fresh_database_url: str) -> None:
    cfg = _alembic_config(fresh_database_url, tables.MIGRATIONS)
    command.upgrade(cfg, "0003")
    eng = make_engine(fresh_database_url)
    try:
        with eng.begin() as conn:
            # Ids with gaps, as a PostgreSQL sequence leaves after rollbacks.
            for i in (1, 2, 5, 9):
                values = ", ".join(f":{k}" for k in ("id", *entry(i)))
                names = ", ".join(("id", *entry(i)))
                conn.execute(
                    text(f"INSERT INTO access_log ({names}) VALUES ({values})"),
                    {"id": i, **entry(i)},
                )
        command.upgrade(cfg, "head")
        v = verdict(eng)
        with eng.connect() as conn:
            rows = list(conn.execute(select(tables.access_log).order_by(tables.access_log.c.id)))
        assert (v.ok, v.rows) == (True, 4)
        assert [(r.id, r.subject_id) for r in rows] == [
            (1, "P00001"),
            (2, "P00002"),
            (3, "P00005"),
            (4, "P00009"),
        ]
        # Still append-only after the migration, and new rows continue the chain.
        with pytest.raises(Exception, match="append-only"), eng.begin() as conn:
            conn.execute(text("DELETE FROM access_log"))
        fill(eng, 2)
        assert verdict(eng).rows == 6
    finally:
        eng.dispose()
