"""WatchCases against a real intake, a real NATS and real SQLite: routing's transitions are
published to JetStream the way routing publishes them, and hotline clients follow them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from nats.js import JetStreamContext

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import running, settings_for, violations

IntakeStub = intake_service_pb2_grpc.IntakeServiceStub
COMMUNITY = "370402003001"
OTHER_STREET = "370402001"


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await bus.connect(nats_url, name="watch-test")
    yield nc.jetstream()
    await nc.drain()


@pytest.fixture
async def intake(
    tmp_path: Path, nats_url: str, service_database_url: str
) -> AsyncIterator[IntakeStub]:
    settings = settings_for(IntakeSettings, tmp_path, nats_url, database_url=service_database_url)
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        yield IntakeStub(channel)


async def submit(intake: IntakeStub, ref: str, channel: int = res.CHANNEL_GRID_APP) -> str:
    reply = await intake.SubmitCase(
        svc.SubmitCaseRequest(
            channel=channel,
            external_ref=ref,
            reporter=res.Reporter(name="张胜起", phone="13806325566"),
            location=res.Location(address="辛庄社区3号楼"),
            category="household_electrical",
            description="家中电灯一直闪个不停",
        )
    )
    return reply.case.id


async def transition(
    js: JetStreamContext, case_id: str, version: int, note: str, unit: str = COMMUNITY
) -> None:
    """One step as routing publishes it; `note` tags it so the test can follow it."""
    status = (
        routing_res.CASE_STATUS_IN_PROGRESS if version % 2 else routing_res.CASE_STATUS_DISPATCHED
    )
    case = routing_res.Case(
        id=case_id,
        status=status,
        level=routing_res.LEVEL_COMMUNITY,
        category="household_electrical",
        grid_code="370402003001001" if unit == COMMUNITY else unit + "001001",
        assigned_unit_code=unit,
        assigned_unit_name="辛庄社区" if unit == COMMUNITY else "中心街街道",
        version=version,
    )
    entry = routing_res.HistoryEntry(
        sequence=version,
        transition=routing_res.TRANSITION_ACCEPTED,
        to_status=status,
        note=note,
        unit_code=unit,
    )
    entry.time.GetCurrentTime()
    event = bus.new_event(
        "case.accepted",
        source="lianxin/routing",
        case_id=case_id,
        case_transitioned=event_pb2.CaseTransitioned(entry=entry, case=case),
    )
    await js.publish(
        "lianxin.case.accepted", event.SerializeToString(), headers={"Nats-Msg-Id": event.id}
    )


async def take(
    call: grpc.aio.UnaryStreamCall, n: int, timeout: float = 15.0
) -> list[svc.WatchCasesResponse]:
    """The next `n` messages of a stream."""

    async def read() -> list[svc.WatchCasesResponse]:
        out: list[svc.WatchCasesResponse] = []
        while len(out) < n:
            msg = await call.read()
            assert msg is not grpc.aio.EOF, f"stream ended after {len(out)} of {n}"
            out.append(msg)
        return out

    return await asyncio.wait_for(read(), timeout)


async def test_a_client_that_disconnects_mid_stream_resumes_from_its_cursor_and_misses_nothing(
    intake: IntakeStub, js: JetStreamContext
) -> None:
    a = await submit(intake, "w-a", res.CHANNEL_MAYOR_HOTLINE)
    b = await submit(intake, "w-b")
    expected: list[tuple[str, str]] = []
    for v in range(1, 5):
        for case_id in (a, b):
            note = f"{case_id[-4:]}-{v}"
            await transition(js, case_id, v, note)
            expected.append((case_id, note))

    first = intake.WatchCases(svc.WatchCasesRequest())
    got = await take(first, 3)
    first.cancel()  # the hotline's connection drops mid-stream
    cursor = got[-1].cursor

    for v in range(5, 7):
        for case_id in (a, b):
            note = f"{case_id[-4:]}-{v}"
            await transition(js, case_id, v, note)
            expected.append((case_id, note))
    again = intake.WatchCases(svc.WatchCasesRequest(cursor=cursor))
    got += await take(again, len(expected) - 3)

    # Nothing else is waiting: a new step is the very next message.
    await transition(js, a, 7, "after")
    (last,) = await take(again, 1)
    again.cancel()

    assert [(m.case.id, m.change.note) for m in got] == expected
    assert (last.case.id, last.change.note) == (a, "after")
    assert len({m.cursor for m in [*got, last]}) == len(expected) + 1
    hotline_case = next(m.case for m in got if m.case.id == a)
    assert hotline_case.channel == res.CHANNEL_MAYOR_HOTLINE
    assert hotline_case.reporter.phone == "138****5566"  # masked, as in GetCase
    assert got[0].change.unit_name == "辛庄社区"
    assert got[0].change.status == routing_res.CASE_STATUS_IN_PROGRESS
    assert got[0].change.time.seconds > 0


async def test_filters_by_channel_and_unit_and_a_resumed_filtered_stream_stays_filtered(
    intake: IntakeStub, js: JetStreamContext
) -> None:
    hotline = await submit(intake, "f-1", res.CHANNEL_MAYOR_HOTLINE)
    app = await submit(intake, "f-2")
    elsewhere = await submit(intake, "f-3", res.CHANNEL_MAYOR_HOTLINE)
    await transition(js, hotline, 1, "h1")
    await transition(js, app, 1, "a1")
    await transition(js, elsewhere, 1, "e1", unit=OTHER_STREET)
    await transition(js, hotline, 2, "h2")

    by_channel = intake.WatchCases(svc.WatchCasesRequest(channel=res.CHANNEL_MAYOR_HOTLINE))
    got = [m.change.note for m in await take(by_channel, 3)]
    by_channel.cancel()
    by_unit = intake.WatchCases(svc.WatchCasesRequest(unit_code="370402003"))
    unit_msgs = await take(by_unit, 3)
    by_unit.cancel()
    both = intake.WatchCases(
        svc.WatchCasesRequest(
            channel=res.CHANNEL_MAYOR_HOTLINE, unit_code="370402003", cursor=unit_msgs[0].cursor
        )
    )
    await transition(js, elsewhere, 2, "e2", unit=OTHER_STREET)
    await transition(js, app, 2, "a2")
    await transition(js, hotline, 3, "h3")
    resumed = [m.change.note for m in await take(both, 2)]
    both.cancel()

    assert got == ["h1", "e1", "h2"]
    assert [m.change.note for m in unit_msgs] == ["h1", "a1", "h2"]
    assert resumed == ["h2", "h3"]  # after h1, only the hotline's cases in 370402003


async def test_a_slow_client_gets_a_long_backlog_page_by_page_in_order(
    intake: IntakeStub, js: JetStreamContext
) -> None:
    case_id = await submit(intake, "slow-1")
    n = 250  # more than two of the server's pages
    for v in range(1, n + 1):
        await transition(js, case_id, v, f"s{v}")
    call = intake.WatchCases(svc.WatchCasesRequest())
    got: list[str] = []
    for _ in range(n // 50):
        got += [m.change.note for m in await take(call, 50)]
        await asyncio.sleep(0.05)  # a client that reads in bursts, behind the server
    call.cancel()
    assert got == [f"s{v}" for v in range(1, n + 1)]


async def test_bad_filters_and_cursors_are_invalid_argument_naming_each_field(
    intake: IntakeStub,
) -> None:
    # An unknown enum number is refused by the request guard, before the handler's checks.
    call = intake.WatchCases(svc.WatchCasesRequest(channel=42))  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {"channel"}
    call = intake.WatchCases(svc.WatchCasesRequest(unit_code="37%", cursor="not-a-cursor!"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {"unit_code", "cursor"}


async def test_a_stream_from_now_sees_only_new_changes_and_its_start_cursor_resumes(
    intake: IntakeStub, js: JetStreamContext
) -> None:
    old = await submit(intake, "now-1")
    await transition(js, old, 1, "old-1")
    await transition(js, old, 2, "old-2")
    replay = intake.WatchCases(svc.WatchCasesRequest())
    await take(replay, 2)  # both old changes are applied
    replay.cancel()

    live = intake.WatchCases(svc.WatchCasesRequest(from_now=True))
    start = dict(await live.initial_metadata())["x-lianxin-cursor"]
    await transition(js, old, 3, "new-3")
    (first,) = await take(live, 1)
    live.cancel()
    assert first.change.note == "new-3"
    # The start cursor is a place in the log like any other: resuming there gets the same.
    resumed = intake.WatchCases(svc.WatchCasesRequest(cursor=start))
    (again,) = await take(resumed, 1)
    resumed.cancel()
    assert (again.change.note, again.cursor) == ("new-3", first.cursor)


async def test_from_now_with_a_cursor_is_invalid(intake: IntakeStub) -> None:
    first = await submit(intake, "now-2")
    assert first
    call = intake.WatchCases(svc.WatchCasesRequest(from_now=True, cursor="abc"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call.read()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "from_now" in violations(err.value)
