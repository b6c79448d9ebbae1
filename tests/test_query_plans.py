"""Cost that does not grow with data: every statement the hot path runs is served by an
index, on SQLite and on PostgreSQL.

The test captures every statement the four services send to their databases while cases
go the whole way (submitted, filed, dispatched, notified, accepted, resolved, closed; a
resubmission; a duplicate), then asks each database for its plan. A full scan of a table
that grows with cases is a failure; the few tables that stay small by nature are named,
with the reason, in SMALL_TABLES.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from tests import callers
from tests.conftest import eventually
from tests.postgres import PostgresServer, postgres_server  # noqa: F401 - a fixture
from tests.system import HOME, System, running_system, story_submission

# Tables whose size does not follow the number of cases, so a scan costs the same at
# 1,000,000 cases as at none.
SMALL_TABLES = {
    "subscriptions": "a few per hotline system",
    "alembic_version": "one row",
    "units": "the district's hierarchy (thousands), loaded once at start",
}
# SQLite reads the outbox in its rowid order (`ORDER BY seq LIMIT n`): "SCAN outbox" is
# the primary key's own order, stopping after n rows — bounded, not a scan of the table.
BOUNDED_SQLITE_SCAN = re.compile(r"FROM outbox ORDER BY outbox\.seq\s+LIMIT", re.S)
# The metrics poll (every OPS_POLL_SECONDS, not per case) counts the outbox and its oldest
# row: the outbox holds only what is not yet published, so its size is the backlog, not
# the number of cases.
OUTBOX_GAUGE = re.compile(r"SELECT count\(\*\) AS count_1, min\(outbox\.created_at\)")

# A search by one column of a handful of values alone reads a share of the table that
# grows with it (all of one channel's cases): no better than a scan.
LOW_SELECTIVITY_SEARCH = re.compile(
    r"SEARCH (\w+) USING (?:COVERING )?INDEX \w+ \((?:channel|status|category|level)=\?\)$"
)

# Routing's duplicate search (并单) reads the spatial cells around a point: the index on
# (category, cell, created_at), never all of a category's cases of the window.
DUPLICATE_SEARCH = re.compile(r"cases\.cell IN")

COMMUNITY_WORKER = callers.as_actor("staff-ga-370402003001")


@contextmanager
def captured(engines: dict[str, Engine]) -> Iterator[list[tuple[str, str, Any]]]:
    """(service, statement, parameters) of every statement the engines run."""
    seen: list[tuple[str, str, Any]] = []
    hooks = []
    for name, engine in engines.items():

        def hook(
            conn: Any,
            cursor: Any,
            statement: str,
            params: Any,
            ctx: Any,
            many: bool,
            name: str = name,
        ) -> None:
            if not many:
                seen.append((name, statement, params))

        event.listen(engine, "before_cursor_execute", hook)
        hooks.append((engine, hook))
    try:
        yield seen
    finally:
        for engine, hook in hooks:
            event.remove(engine, "before_cursor_execute", hook)


async def play(system: System) -> None:
    """The hot path, a few times over, with a resubmission and a duplicate."""
    for i in range(3):
        point = (HOME[0] + 0.001 * i, HOME[1])
        created = await system.intake.SubmitCase(story_submission(f"plans-{i}", point=point))
        await system.intake.SubmitCase(story_submission(f"plans-{i}", point=point))
        case_id = created.case.id

        async def dispatched(case_id: str = case_id) -> bool:
            reply = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))
            return reply.case.status == routing_res.CASE_STATUS_DISPATCHED

        await eventually(dispatched, timeout=30)
        await system.routing.AcceptCase(
            routing_svc.AcceptCaseRequest(case_id=case_id, request_id=f"plans-{i}-a"),
            metadata=COMMUNITY_WORKER,
        )
        await system.routing.ResolveCase(
            routing_svc.ResolveCaseRequest(
                case_id=case_id, request_id=f"plans-{i}-r", result="已更换灯管"
            )
        )
        await system.routing.CloseCase(
            routing_svc.CloseCaseRequest(case_id=case_id, request_id=f"plans-{i}-c", note="核查")
        )
    # A duplicate of an open case, next to the first point.
    first = await system.intake.SubmitCase(story_submission("plans-open", point=(34.866, 117.56)))
    again = await system.intake.SubmitCase(story_submission("plans-dup", point=(34.866, 117.56)))
    for case_id in (first.case.id, again.case.id):

        async def filed(case_id: str = case_id) -> bool:
            reply = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))
            return reply.case.status != routing_res.CASE_STATUS_RECEIVED

        await eventually(filed, timeout=30)

    async def all_sent() -> bool:
        reply = await system.notify.ListDeliveries(notify_svc.ListDeliveriesRequest(page_size=500))
        return bool(reply.deliveries) and all(d.status == 2 for d in reply.deliveries)

    await eventually(all_sent, timeout=30)

    # A hotline system following its channel's changes (WatchCases pages the timeline).
    stream = system.intake.WatchCases(
        intake_svc.WatchCasesRequest(channel=intake_res.CHANNEL_GRID_APP)
    )
    try:
        for _ in range(3):
            await asyncio.wait_for(stream.read(), timeout=30)
    finally:
        stream.cancel()


def tables_in(statement: str) -> set[str]:
    return set(re.findall(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+\"?(\w+)", statement, re.I))


def sqlite_full_scans(engine: Engine, statement: str, params: Any) -> list[str]:
    raw = engine.raw_connection()
    try:
        rows = raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, params or ()).fetchall()
    finally:
        raw.close()
    out = []
    for row in rows:
        detail = row[-1]
        if DUPLICATE_SEARCH.search(statement) and "ix_cases_category_cell_created_at" not in detail:
            out.append(detail)  # the duplicate search must be bounded by place, not by time
            continue
        if (m := LOW_SELECTIVITY_SEARCH.match(detail)) and m.group(1) not in SMALL_TABLES:
            out.append(detail)  # as good as a scan: every row of one channel, say
            continue
        m = re.match(r"SCAN (\w+)(.*)", detail)
        if m and m.group(1) == "CONSTANT":  # SELECT 1 (the health check's ping)
            continue
        if m and "USING" not in m.group(2) and m.group(1) not in SMALL_TABLES:
            if m.group(1) == "outbox" and (
                BOUNDED_SQLITE_SCAN.search(statement) or OUTBOX_GAUGE.search(statement)
            ):
                continue
            out.append(detail)
    return out


def postgres_full_scans(engine: Engine, statement: str, params: Any) -> list[str]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # On empty tables a sequential scan is always cheapest; with it priced out, the
        # planner shows whether an index can serve the statement at all.
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + statement, params)
        lines = [r[0] for r in cur.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    if OUTBOX_GAUGE.search(statement):
        return []
    return [
        line.strip()
        for line in lines
        if (m := re.search(r"Seq Scan on (\w+)", line)) and m.group(1) not in SMALL_TABLES
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_urls(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return {
        n: server.create_database(f"plans_{n}") for n in ("registry", "intake", "routing", "notify")
    }


async def test_every_hot_path_statement_is_served_by_an_index(
    tmp_path: Path, nats_url: str, database_urls: dict[str, str]
) -> None:
    async with running_system(tmp_path, nats_url, database_urls=database_urls) as system:
        engines = {n: h.db.engine for n, h in system.hosts.items() if h.db is not None}
        with captured(engines) as seen:
            await play(system)
    statements = {(svc, stmt): params for svc, stmt, params in seen}
    kinds = {stmt.split(None, 1)[0].upper() for _, stmt in statements}
    assert {"SELECT", "INSERT", "UPDATE", "DELETE"} <= kinds  # the story really ran
    scans: list[str] = []
    for (svc, stmt), params in statements.items():
        if not stmt.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            continue
        engine = engines[svc]
        check = sqlite_full_scans if engine.dialect.name == "sqlite" else postgres_full_scans
        for detail in check(engine, stmt, params):
            scans.append(f"{svc}: {detail}\n    {' '.join(stmt.split())[:300]}")
    assert not scans, "full scans on the hot path:\n" + "\n".join(scans)
