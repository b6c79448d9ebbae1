"""WatchCases with several intake replicas on one PostgreSQL database: one total order per
stream, and a stream on one replica wakes for what another replica applied.

The first test is the race itself, at the store level (the real `apply_transition` and the
real page loader of WatchCases): two transactions append to the timeline, the one that
began first commits last, and a stream reads between the two commits. The others run two
real intake servers sharing one database and follow their streams over gRPC."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Engine, insert, text

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.db import make_engine, migrate
from services.common.natsserver import NatsServer, free_port
from services.common.server import ServiceHost
from services.intake import store, watch
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import eventually, running, settings_for
from tests.intake.test_watch_cases import IntakeStub, submit, take, transition
from tests.postgres import PostgresServer

# Well below the streams' 30 s re-check: a change that arrives within this came by the
# database's notification, not by the safety-net poll.
PROMPT = 8.0


# --- the race, at the store level ---------------------------------------------------------


def _step(case_id: str, version: int, note: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "version": version,
        "status": routing_res.CASE_STATUS_DISPATCHED,
        "transition": routing_res.TRANSITION_ACCEPTED,
        "unit_code": "370402003001",
        "unit_name": "辛庄社区",
        "note": note,
        "time": datetime.now(UTC),
        "grid_code": "370402003001001",
        "level": routing_res.LEVEL_COMMUNITY,
        "deadline_time": None,
        "result": "",
        "filing_error": "",
    }


def _a_case(engine: Engine, case_id: str) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(store.cases),
            {
                "id": case_id,
                "channel": res.CHANNEL_MAYOR_HOTLINE,
                "external_ref": case_id,
                "category": "household_electrical",
                "description": "家中电灯一直闪个不停",
                "status": routing_res.CASE_STATUS_RECEIVED,
                "created_at": now,
                "updated_at": now,
            },
        )


def _waiting_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError(f"never: {what}")


def test_a_change_committed_late_with_an_earlier_position_is_not_skipped_by_a_stream(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("timeline_race")
    migrate(url, store.MIGRATIONS)
    engine = make_engine(url)
    try:
        # Two cases: the two steps touch different rows, so only the timeline joins them.
        _a_case(engine, "case-1")
        _a_case(engine, "case-2")
        first_appended, release_first = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def append(case_id: str, note: str, before_commit: Callable[[], None]) -> None:
            try:
                with engine.begin() as conn:
                    store.apply_transition(
                        conn, event_id=f"event-{note}", row=_step(case_id, 1, note)
                    )
                    before_commit()
            except BaseException as exc:  # handed to the test's thread
                errors.append(exc)

        def first_commit_waits() -> None:
            first_appended.set()
            release_first.wait(timeout=20)

        # The first transaction appends and stays open; the second begins after it and
        # commits at once if nothing stops it.
        first = threading.Thread(target=append, args=("case-1", "first", first_commit_waits))
        first.start()
        assert first_appended.wait(timeout=10)
        second = threading.Thread(target=append, args=("case-2", "second", lambda: None))
        second.start()
        second.join(timeout=0.0)
        _until(
            lambda: not second.is_alive() or _waiting_for_a_lock(engine),
            "the second append committed or waits for the first",
        )

        # A stream reads between the two commits, then after both, from its cursor.
        f = watch.Filter(0, "")
        with engine.connect() as conn:
            before, cursor = watch.load_page(conn, after=0, f=f, limit=watch.PAGE_SIZE)
        release_first.set()
        first.join(timeout=20)
        second.join(timeout=20)
        assert errors == []
        with engine.connect() as conn:
            after, _ = watch.load_page(conn, after=cursor, f=f, limit=watch.PAGE_SIZE)
            log = [r.note for r in conn.execute(store.timeline.select().order_by("seq"))]

        streamed = [row.t_note for row, _ in before + after]
        assert sorted(log) == ["first", "second"]
        # Every change once, in the log's order: none skipped because it committed late.
        assert streamed == log
    finally:
        engine.dispose()


# --- two intake replicas on one database ----------------------------------------------------


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database("watch_replicas")


@pytest.fixture
async def other_bus(tmp_path: Path) -> AsyncIterator[str]:
    """A second NATS for replica B: nothing is published there, so B's consumer applies
    nothing and every change B streams was applied (and committed) by replica A."""
    server = NatsServer(tmp_path / "nats-b", port=free_port())
    await asyncio.to_thread(server.start)
    try:
        yield server.url
    finally:
        await asyncio.to_thread(server.stop)


async def replica(
    stack: AsyncExitStack, tmp_path: Path, name: str, nats_url: str, database_url: str
) -> tuple[ServiceHost, IntakeStub]:
    settings = settings_for(IntakeSettings, tmp_path / name, nats_url, database_url=database_url)
    host = await stack.enter_async_context(running(create_server, settings))
    channel = await stack.enter_async_context(callers.channel(host.address))
    return host, IntakeStub(channel)


async def _terminate_listeners(database_url: str) -> int:
    """Cut every LISTEN connection of intake's processes (as a failover or an operator's
    pg_terminate_backend would); how many there were."""

    def job() -> int:
        engine = make_engine(database_url)
        try:
            with engine.begin() as conn:
                return len(
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND application_name = :name"
                        ),
                        {"name": watch.LISTENER_NAME},
                    ).all()
                )
        finally:
            engine.dispose()

    return await asyncio.to_thread(job)


async def _listening(host: ServiceHost) -> bool:
    return host.supervisor.loops["timeline-listener"].running


async def test_a_stream_on_one_replica_follows_what_another_applied_and_resumes_on_either(
    tmp_path: Path,
    nats_url: str,
    other_bus: str,
    postgres_url: str,
    js: JetStreamContext,
) -> None:
    async with AsyncExitStack() as stack:
        host_a, a = await replica(stack, tmp_path, "a", nats_url, postgres_url)
        host_b, b = await replica(stack, tmp_path, "b", other_bus, postgres_url)
        one = await submit(a, "r-1", res.CHANNEL_MAYOR_HOTLINE)
        two = await submit(a, "r-2")

        on_b = b.WatchCases(svc.WatchCasesRequest(from_now=True))
        await on_b.initial_metadata()
        expected = []
        for v in range(1, 4):
            for case_id in (one, two):
                expected.append(f"{case_id[-4:]}-{v}")
                await transition(js, case_id, v, expected[-1])
        got = await take(on_b, len(expected), timeout=PROMPT)
        assert [m.change.note for m in got] == expected
        positions = [m.change.sequence for m in got]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)

        # The database drops the listening connections: they come back, and a change
        # committed meanwhile still reaches the stream promptly.
        assert await _terminate_listeners(postgres_url) == 2
        await transition(js, one, 4, "after-cut")
        (cut,) = await take(on_b, 1, timeout=PROMPT)
        assert cut.change.note == "after-cut"
        on_b.cancel()
        for host in (host_a, host_b):
            await eventually(lambda h=host: _listening(h))

        # The hotline reconnects to replica A with B's last cursor: the rest, once each.
        later = [f"{one[-4:]}-5", f"{two[-4:]}-4"]
        await transition(js, one, 5, later[0])
        await transition(js, two, 4, later[1])
        on_a = a.WatchCases(svc.WatchCasesRequest(cursor=cut.cursor))
        resumed = await take(on_a, 2, timeout=PROMPT)
        await transition(js, two, 5, "last")
        (last,) = await take(on_a, 1, timeout=PROMPT)
        on_a.cancel()
        assert [m.change.note for m in resumed] == later
        assert last.change.note == "last"  # nothing doubled in between
        seen = [*got, cut, *resumed, last]
        assert len({m.cursor for m in seen}) == len(seen)
