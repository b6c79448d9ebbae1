"""A consumer's writer group: the events of one fetch waiting together are written with one
inbox statement and, for `Batched` effects, one statement per table — and exactly as if
each had been written alone (a redelivery or a repeat in the group has no effect). Real
SQLite with intake's schema; the statements are counted on the engine."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, select

from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.consumer import Batched, apply_group
from services.common.db import make_engine, migrate
from services.intake import store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CONSUMER = "intake-read-model"


def case_row(case_id: str) -> dict[str, Any]:
    return {
        "id": case_id,
        "channel": 4,
        "external_ref": f"ref-{case_id}",
        "category": "x",
        "description": "x",
        "status": 1,
        "created_at": T0,
        "updated_at": T0,
    }


def change(case_id: str, version: int, status: int, days: int) -> dict[str, Any]:
    return {
        "event_id": f"{case_id}-e{version}",
        "case_id": case_id,
        "version": version,
        "status": status,
        "transition": version,
        "unit_code": f"unit-{version}",
        "unit_name": "",
        "note": "",
        "time": T0 + timedelta(days=days),
        "grid_code": "",
        "level": 1,
        "deadline_time": None,
        "result": "",
        "filing_error": "",
    }


def statements(conn: Connection) -> Counter[str]:
    seen: Counter[str] = Counter()

    def hook(*args: Any) -> None:
        seen[" ".join(str(args[2]).split()[:3]).upper()] += 1

    event.listen(conn, "before_cursor_execute", hook)
    return seen


def test_a_group_is_written_with_one_statement_per_table_and_each_event_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    migrate(url, store.MIGRATIONS)
    engine = make_engine(url)
    closed, in_progress = routing_res.CASE_STATUS_CLOSED, routing_res.CASE_STATUS_IN_PROGRESS
    changes = [
        change("a", 1, in_progress, 1),
        change("a", 2, closed, 2),
        change("b", 1, closed, 3),
        change("a", 3, closed, 4),  # rated: still closed since day 2
        change("b", 2, in_progress, 5),  # reopened
        change("c", 1, in_progress, 6),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(store.cases.insert(), [case_row(c) for c in "abc"])
            # c's change came before (a redelivery finds its inbox row).
            apply_group(
                conn,
                inbox=store.inbox,
                consumer=CONSUMER,
                items=[(changes[5]["event_id"], Batched(store.apply_transitions, changes[5]))],
            )
        items = [(c["event_id"], Batched(store.apply_transitions, c)) for c in changes]
        items.append(items[0])  # the same event fetched twice in one group
        with engine.begin() as conn:
            seen = statements(conn)
            applied = apply_group(conn, inbox=store.inbox, consumer=CONSUMER, items=items)
        assert applied == [True, True, True, True, True, False, False]
        assert seen["INSERT INTO INBOX"] == 1
        assert seen["INSERT INTO TIMELINE"] == 1
        assert seen["UPDATE CASES SET"] == 1
        with engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(select(store.cases))}
            timeline = conn.execute(select(store.timeline.c.event_id)).scalars().all()
        assert sorted(timeline) == sorted(c["event_id"] for c in changes)
        a, b, c = rows["a"], rows["b"], rows["c"]
        assert (a.version, a.status, a.assigned_unit_code) == (3, closed, "unit-3")
        assert a.closed_at.replace(tzinfo=UTC) == T0 + timedelta(days=2)  # the first close
        assert (b.version, b.status, b.closed_at) == (2, in_progress, None)
        assert (c.version, c.status) == (1, in_progress)
    finally:
        engine.dispose()


def test_a_plain_effect_between_batched_ones_keeps_its_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    migrate(url, store.MIGRATIONS)
    engine = make_engine(url)
    order: list[str] = []

    def batched(conn: Connection, items: list[str]) -> None:
        order.append("+".join(items))

    def plain(conn: Connection) -> None:
        order.append("plain")

    items: list[tuple[str, Any]] = [
        ("e1", Batched(batched, "1")),
        ("e2", Batched(batched, "2")),
        ("e3", plain),
        ("e4", Batched(batched, "4")),
    ]
    try:
        with engine.begin() as conn:
            assert (
                apply_group(conn, inbox=store.inbox, consumer=CONSUMER, items=items) == [True] * 4
            )
        assert order == ["1+2", "plain", "4"]
    finally:
        engine.dispose()
