"""The reporter retention job: a real intake (real NATS, SQLite and PostgreSQL) learns
from routing's transitions when cases closed, and erases the reporters of those closed
longer than the retention period — not of open or recently closed ones; counted; a second
run changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy import text

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus
from services.common.db import Database, _alembic_config, make_engine
from services.common.retention import RetentionJob
from services.common.server import ServiceHost
from services.intake import metrics, store
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import eventually, running, settings_for
from tests.intake.callers import caller
from tests.intake.test_submit_case import light_report

IntakeStub = intake_service_pb2_grpc.IntakeServiceStub
READER = caller("staff-auditor", pii=True, purpose="data_check")
COUNTER = "lianxin_intake_reporters_anonymised_total"
FULL = ("张胜起", "13806325566")


def erased_so_far() -> float:
    return REGISTRY.get_sample_value(COUNTER) or 0.0


async def publish_step(
    js: JetStreamContext, case_id: str, version: int, status: int, transition: int, when: datetime
) -> None:
    """One of routing's transitions, as routing publishes it, at `when`."""
    entry = routing_res.HistoryEntry(
        sequence=version, transition=transition, to_status=status, unit_code="370402003001"
    )
    entry.time.FromDatetime(when)
    case = routing_res.Case(
        id=case_id,
        status=status,
        level=routing_res.LEVEL_COMMUNITY,
        category="household_electrical",
        assigned_unit_code="370402003001",
        version=version,
    )
    subject = routing_res.Transition.Name(transition).removeprefix("TRANSITION_").lower()
    event = bus.new_event(
        f"case.{subject}",
        source="lianxin/routing",
        case_id=case_id,
        case_transitioned=event_pb2.CaseTransitioned(entry=entry, case=case),
    )
    await js.publish(
        f"lianxin.case.{subject}", event.SerializeToString(), headers={"Nats-Msg-Id": event.id}
    )


async def close(js: JetStreamContext, case_id: str, when: datetime) -> None:
    await publish_step(
        js, case_id, 1, routing_res.CASE_STATUS_CLOSED, routing_res.TRANSITION_CLOSED, when
    )


@pytest.fixture
async def setup(
    tmp_path: Path, nats_url: str, service_database_url: str
) -> AsyncIterator[tuple[ServiceHost, IntakeStub, IntakeSettings]]:
    settings = settings_for(
        IntakeSettings,
        tmp_path,
        nats_url,
        database_url=service_database_url,
        reporter_retention_days=30,
        retention_interval_seconds=0.2,
        retention_batch=2,  # several batches in one round
    )
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        yield host, IntakeStub(channel), settings


async def reporter_of(intake: IntakeStub, case_id: str) -> tuple[str, str]:
    r = (await intake.GetCase(svc.GetCaseRequest(case_id=case_id), metadata=READER)).case.reporter
    return r.name, r.phone


async def test_reporters_of_cases_closed_long_ago_are_erased_and_no_others(
    setup: tuple[ServiceHost, IntakeStub, IntakeSettings], js: JetStreamContext
) -> None:
    host, intake, settings = setup
    assert "reporter-retention" in host.supervisor.loops
    assert REGISTRY.get_sample_value(COUNTER) is not None  # exists from start
    before = erased_so_far()
    now = datetime.now(UTC)
    old = [(await intake.SubmitCase(light_report(f"old-{i}"))).case.id for i in range(5)]
    recent = (await intake.SubmitCase(light_report("recent"))).case.id
    still_open = (await intake.SubmitCase(light_report("open"))).case.id
    for i, case_id in enumerate(old):
        await close(js, case_id, now - timedelta(days=40 + i))
    await close(js, recent, now - timedelta(days=2))
    await publish_step(
        js,
        still_open,
        1,
        routing_res.CASE_STATUS_IN_PROGRESS,
        routing_res.TRANSITION_ACCEPTED,
        now - timedelta(days=90),
    )

    async def all_old_erased() -> bool:
        return all([await reporter_of(intake, c) == ("", "") for c in old])

    await eventually(all_old_erased)
    for case_id in (recent, still_open):
        assert await reporter_of(intake, case_id) == FULL, case_id
    assert erased_so_far() - before == 5
    # The case itself stays.
    got = (await intake.GetCase(svc.GetCaseRequest(case_id=old[0]))).case
    assert (got.status, got.category, got.description) == (
        routing_res.CASE_STATUS_CLOSED,
        "household_electrical",
        "家中电灯一直闪个不停",
    )
    assert got.reporter.staff_id == "staff-hanliyuan"

    # Running again (as another replica would) finds nothing to do.
    other = Database(settings.sqlalchemy_url("intake"), name="intake-2")
    try:
        job = RetentionJob(
            what="reporters",
            db=other,
            erase=store.anonymise_reporters,
            counter=metrics.REPORTERS_ANONYMISED,
            days=30,
            interval=1,
            batch=2,
        )
        assert await job.round() == 0
    finally:
        other.close()
    assert erased_so_far() - before == 5
    for case_id in (recent, still_open):
        assert await reporter_of(intake, case_id) == FULL, case_id


async def test_retention_zero_keeps_every_reporter(
    tmp_path: Path, nats_url: str, js: JetStreamContext
) -> None:
    settings = settings_for(
        IntakeSettings,
        tmp_path,
        nats_url,
        reporter_retention_days=0,
        retention_interval_seconds=0.1,
    )
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        intake = IntakeStub(channel)
        case_id = (await intake.SubmitCase(light_report("kept"))).case.id
        await close(js, case_id, datetime.now(UTC) - timedelta(days=3650))

        async def closed() -> bool:
            got = await intake.GetCase(svc.GetCaseRequest(case_id=case_id))
            return got.case.status == routing_res.CASE_STATUS_CLOSED

        await eventually(closed)
        assert "reporter-retention" not in host.supervisor.loops
        assert await reporter_of(intake, case_id) == FULL


def test_the_migration_dates_cases_closed_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    cfg = _alembic_config(url, store.MIGRATIONS)
    command.upgrade(cfg, "0003")
    eng = make_engine(url)
    row: dict[str, Any] = {
        "channel": 4,
        "category": "x",
        "description": "x",
        "created_at": "2026-01-01 00:00:00.000000",
        "updated_at": "2026-01-01 00:00:00.000000",
    }
    try:
        with eng.begin() as conn:
            for cid, status in (("c-closed", 6), ("c-open", 4)):
                conn.execute(
                    text(
                        "INSERT INTO cases (id, channel, external_ref, reporter_name, "
                        "reporter_phone, reporter_staff_id, address, category, description, "
                        "status, grid_code, assigned_unit_code, assigned_unit_name, level, "
                        "result, filing_error, version, created_at, updated_at) VALUES "
                        "(:id, :channel, :id, 'n', 'p', '', '', :category, :description, "
                        ":status, '', '', '', 0, '', '', 2, :created_at, :updated_at)"
                    ),
                    {**row, "id": cid, "status": status},
                )
                for version, (st, when) in enumerate(
                    ((4, "2026-01-02 00:00:00.000000"), (status, "2026-01-03 00:00:00.000000")),
                    start=1,
                ):
                    conn.execute(
                        text(
                            "INSERT INTO timeline (event_id, case_id, version, status, "
                            "transition, unit_code, unit_name, note, time) VALUES "
                            "(:e, :c, :v, :s, 1, '', '', '', :t)"
                        ),
                        {"e": f"{cid}-{version}", "c": cid, "v": version, "s": st, "t": when},
                    )
        command.upgrade(cfg, "head")
        with eng.connect() as conn:
            got = dict(conn.execute(text("SELECT id, closed_at FROM cases")).all())
        assert got == {"c-closed": "2026-01-03 00:00:00.000000", "c-open": None}
    finally:
        eng.dispose()


def test_a_reopened_case_is_no_longer_closed_and_its_first_close_is_kept(tmp_path: Path) -> None:
    from services.common.db import migrate

    url = f"sqlite:///{tmp_path / 'intake.db'}"
    migrate(url, store.MIGRATIONS)
    eng = make_engine(url)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    case_row = {
        "id": "c1",
        "channel": 4,
        "external_ref": "r1",
        "category": "x",
        "description": "x",
        "status": 1,
        "created_at": t0,
        "updated_at": t0,
    }

    def step(conn: Any, version: int, status: int, days: int) -> None:
        store.apply_transition(
            conn,
            event_id=f"e{version}",
            row={
                "case_id": "c1",
                "version": version,
                "status": status,
                "transition": 1,
                "unit_code": "",
                "unit_name": "",
                "note": "",
                "time": t0 + timedelta(days=days),
                "grid_code": "",
                "level": 0,
                "deadline_time": None,
                "result": "",
                "filing_error": "",
            },
        )

    def closed_at() -> Any:
        with eng.connect() as conn:
            return conn.execute(text("SELECT closed_at FROM cases")).scalar_one()

    try:
        with eng.begin() as conn:
            conn.execute(store.cases.insert(), [case_row])
            step(conn, 1, routing_res.CASE_STATUS_CLOSED, 1)
            step(conn, 2, routing_res.CASE_STATUS_CLOSED, 5)  # rated: still closed
        assert closed_at() == "2026-01-02 00:00:00.000000"
        with eng.begin() as conn:
            step(conn, 3, routing_res.CASE_STATUS_IN_PROGRESS, 6)  # reopened
        assert closed_at() is None
    finally:
        eng.dispose()
