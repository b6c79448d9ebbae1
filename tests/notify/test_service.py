"""notify end to end: real JetStream, real registry, real notify; events go in as routing
and intake publish them, deliveries come out of ListDeliveries and the sink file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus
from services.common.ids import uuid7
from services.common.natsserver import free_port
from services.common.server import ServiceHost
from services.notify import app as notify_app
from services.notify import store
from services.notify.config import NotifySettings
from services.registry import app as registry_app
from services.registry.config import RegistrySettings
from tests.conftest import running, settings_for

GRID = "370402003001001"
COMMUNITY = "370402003001"
ELECTRICIAN = "staff-xinzhuang-electrician"
GRID_MANAGER = "staff-hanliyuan"
CITIZEN_PHONE = "13805381234"
RESULT = "已更换空气开关，恢复供电"
SENT = res.DELIVERY_STATUS_SENT


# --- events as intake and routing publish them ------------------------------------------


def received(case_id: str, channel: int = intake_res.CHANNEL_MAYOR_HOTLINE) -> event_pb2.Event:
    case = intake_res.Case(
        id=case_id,
        channel=channel,
        external_ref=f"12345-{case_id[-6:]}",
        reporter=intake_res.Reporter(name="张胜起", phone=CITIZEN_PHONE),
        location=intake_res.Location(address="辛庄社区3号楼2单元"),
        category="household_electrical",
        description="家里突然断电，老人一个人在家",
        status=routing_res.CASE_STATUS_RECEIVED,
    )
    return bus.new_event(
        "case.received",
        source="lianxin/intake",
        case_id=case_id,
        case_received=event_pb2.CaseReceived(case=case),
    )


STEPS = {
    "dispatched": (routing_res.TRANSITION_DISPATCHED, routing_res.CASE_STATUS_DISPATCHED),
    "resolved": (routing_res.TRANSITION_RESOLVED, routing_res.CASE_STATUS_RESOLVED),
    "closed": (routing_res.TRANSITION_CLOSED, routing_res.CASE_STATUS_CLOSED),
}


def step(case_id: str, name: str, version: int) -> event_pb2.Event:
    transition, status = STEPS[name]
    case = routing_res.Case(
        id=case_id,
        status=status,
        level=routing_res.LEVEL_COMMUNITY,
        category="household_electrical",
        grid_code=GRID,
        community_code=COMMUNITY,
        street_code="370402003",
        district_code="370402",
        assigned_unit_code=COMMUNITY,
        assigned_unit_name="辛庄社区",
        assignee_staff_id=ELECTRICIAN,
        result=RESULT if name != "dispatched" else "",
        version=version,
    )
    case.deadline_time.FromDatetime(datetime(2014, 11, 5, 7, 30, tzinfo=UTC))
    entry = routing_res.HistoryEntry(
        sequence=version, transition=transition, to_status=status, actor="system"
    )
    entry.time.GetCurrentTime()
    return bus.new_event(
        f"case.{name}",
        source="lianxin/routing",
        case_id=case_id,
        case_transitioned=event_pb2.CaseTransitioned(entry=entry, case=case),
    )


async def publish(js: JetStreamContext, event: event_pb2.Event, msg_id: str = "") -> None:
    await js.publish(
        bus.SUBJECT_PREFIX + event.type,
        event.SerializeToString(),
        headers={"Nats-Msg-Id": msg_id or event.id},
    )


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await bus.connect(nats_url, name="notify-test")
    yield nc.jetstream()
    await nc.drain()


@pytest.fixture
async def registry(tmp_path: Path, nats_url: str) -> AsyncIterator[ServiceHost]:
    settings = settings_for(RegistrySettings, tmp_path, nats_url)
    async with running(registry_app.create_server, settings) as host:
        yield host


def notify_settings(tmp_path: Path, nats_url: str, registry_target: str) -> NotifySettings:
    return settings_for(  # type: ignore[no-any-return]
        NotifySettings,
        tmp_path,
        nats_url,
        registry_target=registry_target,
        send_poll_seconds=0.2,
    )


def stub(host: ServiceHost) -> notify_service_pb2_grpc.NotifyServiceStub:
    return notify_service_pb2_grpc.NotifyServiceStub(host.channel(host.address))


async def all_deliveries(
    api: notify_service_pb2_grpc.NotifyServiceStub, **filters: Any
) -> list[res.Delivery]:
    out: list[res.Delivery] = []
    token = ""
    for _ in range(100):
        resp = await api.ListDeliveries(svc.ListDeliveriesRequest(page_token=token, **filters))
        out.extend(resp.deliveries)
        token = resp.next_page_token
        if not token:
            return out
    raise AssertionError("ListDeliveries never ended")


async def wait_for(
    api: notify_service_pb2_grpc.NotifyServiceStub,
    case_id: str,
    done: Callable[[list[res.Delivery]], bool],
    timeout: float = 10.0,
) -> list[res.Delivery]:
    found: list[res.Delivery] = []
    for _ in range(int(timeout / 0.05)):
        found = await all_deliveries(api, case_id=case_id)
        if done(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries of {case_id} never got there: {found}")


def sent(n: int) -> Callable[[list[res.Delivery]], bool]:
    return lambda ds: len(ds) >= n and all(d.status == SENT for d in ds)


async def drained(js: JetStreamContext, timeout: float = 10.0) -> None:
    """notify has taken and acknowledged every event in the stream."""
    for _ in range(int(timeout / 0.05)):
        info = await js.consumer_info("LIANXIN", "notify")
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("notify did not take every event")


def recipients(ds: list[res.Delivery]) -> list[tuple[str, str, str, str]]:
    return sorted((r.kind, r.id, r.name, r.address) for r in (d.recipient for d in ds))


def sink_lines(settings: NotifySettings) -> list[dict[str, Any]]:
    path = settings.sink_path()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- tests -------------------------------------------------------------------------------


async def test_dispatch_tells_assignee_and_grid_manager_once(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address)
    async with running(notify_app.create_server, settings) as notify:
        api = stub(notify)
        case_id = uuid7()
        dispatched = step(case_id, "dispatched", 3)
        await publish(js, received(case_id))
        await publish(js, dispatched)
        ds = await wait_for(api, case_id, sent(2))

        # The same event again under another Nats-Msg-Id: JetStream stores it twice,
        # notify's inbox lets it through once.
        await publish(js, dispatched, msg_id=uuid7())
        await publish(js, dispatched)  # and once more, dropped by JetStream itself
        await drained(js)
        again = await all_deliveries(api, case_id=case_id)

    assert [d.id for d in again] == [d.id for d in ds]
    assert recipients(ds) == [
        ("staff", GRID_MANAGER, "韩丽源", "185****9739"),
        ("staff", ELECTRICIAN, "王建国", "156****4494"),
    ]
    # 07:30 UTC is 15:30 in the district (UTC+8).
    expected = (
        f"【连心网】新案件{case_id[-8:]}：家庭电路故障，辛庄社区3号楼2单元，"
        "请于11月5日15:30前处理。"
    )
    for d in ds:
        assert d.body == expected
        assert d.event_id == dispatched.id and d.event_type == "case.dispatched"
        assert d.channel == res.DELIVERY_CHANNEL_FILE
        assert d.attempts == 1 and d.HasField("sent_time") and d.last_error == ""

    # registry gave notify the full phones (it sends to them); only the API masks them.
    engine = create_engine(settings.sqlalchemy_url("notify"))
    with engine.connect() as conn:
        phones = set(conn.execute(select(store.deliveries.c.address)).scalars())
    engine.dispose()
    assert phones == {"15626924494", "18544909739"}

    lines = sink_lines(settings)
    assert sorted(line["id"] for line in lines) == sorted(d.id for d in ds)
    assert {line["recipient"]["address"] for line in lines} == {"156****4494", "185****9739"}


async def test_resolved_and_closed_tell_citizen_grid_manager_and_hotline(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address)
    async with running(notify_app.create_server, settings) as notify:
        api = stub(notify)
        case_a, case_b = uuid7(), uuid7()
        await publish(js, received(case_a))
        await publish(js, received(case_b, intake_res.CHANNEL_GRID_APP))
        await publish(js, step(case_a, "resolved", 5))
        await publish(js, step(case_a, "closed", 6))
        await publish(js, step(case_b, "closed", 6))
        a = await wait_for(api, case_a, sent(5))
        b = await wait_for(api, case_b, sent(2))

        # Paging: newest first, every delivery once, the token carries the filter's place.
        pages: list[list[res.Delivery]] = []
        token = ""
        for _ in range(10):
            resp = await api.ListDeliveries(
                svc.ListDeliveriesRequest(case_id=case_a, page_size=2, page_token=token)
            )
            pages.append(list(resp.deliveries))
            token = resp.next_page_token
            if not token:
                break
        everything = await all_deliveries(api)
        pending = await all_deliveries(api, status=res.DELIVERY_STATUS_PENDING)
        with pytest.raises(grpc.aio.AioRpcError) as bad_status:
            await api.ListDeliveries(svc.ListDeliveriesRequest(status=42))  # type: ignore[arg-type]
        with pytest.raises(grpc.aio.AioRpcError) as bad_token:
            await api.ListDeliveries(svc.ListDeliveriesRequest(page_token="not-a-token!"))

    assert [len(p) for p in pages] == [2, 2, 1]
    paged = [d.id for p in pages for d in p]
    assert paged == [d.id for d in a] == sorted(paged, reverse=True)
    assert sorted(d.id for d in everything) == sorted(d.id for d in a + b)
    assert pending == []
    assert bad_status.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    by_type: dict[str, list[res.Delivery]] = {}
    for d in a:
        by_type.setdefault(d.event_type, []).append(d)
    assert recipients(by_type["case.resolved"]) == [
        ("citizen", case_a, "张胜起", "138****1234"),
        ("staff", GRID_MANAGER, "韩丽源", "185****9739"),
    ]
    closed = {d.recipient.kind: d for d in by_type["case.closed"]}
    assert recipients(list(closed.values())) == [
        ("citizen", case_a, "张胜起", "138****1234"),
        ("hotline", "mayor_hotline", "12345市长热线", "mayor_hotline"),
        ("staff", GRID_MANAGER, "韩丽源", "185****9739"),
    ]
    assert closed["citizen"].body == f"【连心网】您反映的问题已办结：{RESULT}。如有意见请回复。"
    assert closed["hotline"].body == (
        f"【连心网】工单12345-{case_a[-6:]}（案件{case_a[-8:]}）已办结：{RESULT}。"
    )
    assert closed["staff"].body.startswith(f"【连心网】案件{case_a[-8:]}（家庭电路故障")
    # A case reported from a grid worker's app has no hotline to tell.
    assert {d.recipient.kind for d in b} == {"citizen", "staff"}

    lines = sink_lines(settings)
    assert sorted(line["id"] for line in lines) == sorted(d.id for d in a + b)
    text = settings.sink_path().read_text(encoding="utf-8")
    assert CITIZEN_PHONE not in text and "18544909739" not in text
    citizen_line = next(x for x in lines if x["id"] == closed["citizen"].id)
    assert citizen_line["body"] == closed["citizen"].body
    assert citizen_line["recipient"]["address"] == "138****1234"


async def test_restart_sends_nothing_twice(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address)
    case_id = uuid7()
    dispatched = step(case_id, "dispatched", 3)
    async with running(notify_app.create_server, settings) as notify:
        await publish(js, received(case_id))
        await publish(js, dispatched)
        first = await wait_for(stub(notify), case_id, sent(2))

    # While notify is down: the dispatch is redelivered (new message id) and the case closes.
    await publish(js, dispatched, msg_id=uuid7())
    await publish(js, step(case_id, "closed", 6))

    async with running(notify_app.create_server, settings) as notify:
        api = stub(notify)
        after = await wait_for(api, case_id, sent(5))
        await drained(js)
        final = await all_deliveries(api, case_id=case_id)

    assert len(after) == len(final) == 5
    dispatch_ids = sorted(d.id for d in final if d.event_type == "case.dispatched")
    assert dispatch_ids == sorted(d.id for d in first)
    assert all(d.attempts == 1 for d in final)
    lines = sink_lines(settings)
    assert sorted(line["id"] for line in lines) == sorted(d.id for d in final)


async def test_registry_down_the_event_waits_and_is_delivered_later(
    tmp_path: Path, nats_url: str, js: JetStreamContext
) -> None:
    port = free_port()
    settings = notify_settings(tmp_path, nats_url, f"127.0.0.1:{port}")
    async with running(notify_app.create_server, settings) as notify:
        api = stub(notify)
        case_id = uuid7()
        await publish(js, received(case_id))
        await publish(js, step(case_id, "dispatched", 3))
        await asyncio.sleep(0.5)
        assert await all_deliveries(api, case_id=case_id) == []
        reg_settings = settings_for(RegistrySettings, tmp_path, nats_url, grpc_port=port)
        async with running(registry_app.create_server, reg_settings):
            ds = await wait_for(api, case_id, sent(2), timeout=15.0)
    assert {d.recipient.id for d in ds} == {ELECTRICIAN, GRID_MANAGER}
