"""notify end to end in its embedded mode (the file sink, the 12345 hotline subscribed by
default): real JetStream, real registry, real notify; events go in as routing and intake
publish them, deliveries come out of the API and the sink file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from services.common.ids import uuid7
from services.common.natsserver import free_port
from services.common.server import ServiceHost
from services.notify import app as notify_app
from services.notify import store
from services.notify.config import NotifySettings
from services.registry import app as registry_app
from services.registry.config import RegistrySettings
from tests import callers
from tests.conftest import error_details, running, settings_for, violations
from tests.notify.helpers import (
    ELECTRICIAN,
    GRID_MANAGER,
    RESULT,
    SENT,
    STREET_CENTRE,
    all_deliveries,
    publish,
    received,
    step,
)

HOTLINE = ("hotline", "mayor_hotline", "12345市长热线", "mayor_hotline")
MANAGER = ("staff", GRID_MANAGER, "韩丽源", "185****9739")
WANG = ("staff", ELECTRICIAN, "王建国", "156****4494")


def notify_settings(
    tmp_path: Path, nats_url: str, registry_target: str, **overrides: Any
) -> NotifySettings:
    return settings_for(  # type: ignore[no-any-return]
        NotifySettings,
        tmp_path,
        nats_url,
        registry_target=registry_target,
        send_poll_seconds=0.2,
        quiet_hours="",
        **overrides,
    )


def stub(host: ServiceHost) -> notify_service_pb2_grpc.NotifyServiceStub:
    return notify_service_pb2_grpc.NotifyServiceStub(callers.channel(host.address))


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


def by_type(ds: list[res.Delivery]) -> dict[str, list[res.Delivery]]:
    out: dict[str, list[res.Delivery]] = {}
    for d in ds:
        out.setdefault(d.event_type, []).append(d)
    return out


def sink_lines(settings: NotifySettings) -> list[dict[str, Any]]:
    path = settings.sink_path()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_dispatch_tells_assignee_and_grid_manager_once(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address, default_hotline="")
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
    assert recipients(ds) == [MANAGER, WANG]
    # 07:30 UTC is 15:30 in the district (UTC+8).
    expected = (
        f"【连心网】新案件{case_id[-8:]}：家庭电路故障，辛庄社区3号楼2单元，"
        "请于11月5日15:30前处理。"
    )
    for d in ds:
        assert d.body == expected and d.template_version == "2026.11-1"
        assert d.event_id == dispatched.id and d.event_type == "case.dispatched"
        assert d.channel == res.DELIVERY_CHANNEL_FILE and d.urgent
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

    steps = by_type(a)
    citizen = ("citizen", case_a, "张胜起", "138****1234")
    assert recipients(steps["case.resolved"]) == [citizen, HOTLINE, MANAGER]
    closed = {d.recipient.kind: d for d in steps["case.closed"]}
    assert recipients(list(closed.values())) == [citizen, HOTLINE]
    assert closed["citizen"].body == f"【连心网】您反映的问题已办结：{RESULT}。如有意见请回复。"
    assert closed["hotline"].body == (
        f"【连心网】工单12345-{case_a[-6:]}（案件{case_a[-8:]}）已办结：{RESULT}。"
    )
    # It went over the default subscription (the district's cases), to the file sink.
    assert closed["hotline"].subscription_id and closed["hotline"].urgent is False
    # A case from a grid worker's app: the 12345 hotline hears as a subscriber of the district.
    b_hotline = next(d for d in b if d.recipient.kind == "hotline")
    assert {d.recipient.kind for d in b} == {"citizen", "hotline"}
    assert b_hotline.body == (
        f"【连心网】案件{case_b[-8:]}（家庭电路故障，辛庄社区3号楼2单元）已办结，承办单位辛庄社区。"
    )

    lines = sink_lines(settings)
    assert sorted(line["id"] for line in lines) == sorted(d.id for d in a + b)
    text = settings.sink_path().read_text(encoding="utf-8")
    assert "13805381234" not in text and "18544909739" not in text
    citizen_line = next(x for x in lines if x["id"] == closed["citizen"].id)
    assert citizen_line["body"] == closed["citizen"].body
    assert citizen_line["recipient"]["address"] == "138****1234"
    hotline_line = next(x for x in lines if x["id"] == closed["hotline"].id)
    assert hotline_line["data"]["status"] == "CLOSED"
    assert hotline_line["data"]["external_ref"] == f"12345-{case_a[-6:]}"


async def test_reminders_overdue_and_returns_reach_the_unit_and_the_level_above(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address, default_hotline="")
    async with running(notify_app.create_server, settings) as notify:
        api = stub(notify)
        case_id = uuid7()
        await publish(js, received(case_id, intake_res.CHANNEL_GRID_APP))
        await publish(js, step(case_id, "reminded", 4))
        await publish(js, step(case_id, "overdue", 5, assignee=""))  # no assignee: the unit
        await publish(js, step(case_id, "supervised", 6, note="请今日内修复"))
        await publish(js, step(case_id, "returned", 7, note="不属于本社区职责"))
        await publish(js, step(case_id, "explained", 8, note="线路改造需等供电公司统一施工"))
        await publish(js, step(case_id, "accepted", 9))  # nobody but subscribers: none here
        ds = await wait_for(api, case_id, sent(7))
        await drained(js)
        ds = await all_deliveries(api, case_id=case_id)

    centre = ("staff", STREET_CENTRE, "孙明亮", "189****7927")
    steps = by_type(ds)
    assert sorted(steps) == [
        "case.explained",
        "case.overdue",
        "case.reminded",
        "case.returned",
        "case.supervised",
    ]
    assert recipients(steps["case.reminded"]) == [centre, WANG]
    assert recipients(steps["case.overdue"]) == [centre, WANG]  # the unit's handler
    assert recipients(steps["case.supervised"]) == [WANG]
    assert recipients(steps["case.returned"]) == [centre]
    assert [d.recipient.kind for d in steps["case.explained"]] == ["citizen"]
    overdue = {d.recipient.id: d for d in steps["case.overdue"]}
    assert overdue[ELECTRICIAN].urgent and overdue[ELECTRICIAN].body.startswith("【连心网】超时：")
    assert "辛庄社区的案件" in overdue[STREET_CENTRE].body
    assert not steps["case.reminded"][0].urgent
    assert steps["case.supervised"][0].body.endswith("：请今日内修复。请于11月5日15:30前办结。")
    assert steps["case.explained"][0].body == (
        "【连心网】关于您反映的家庭电路故障问题：线路改造需等供电公司统一施工。感谢您的理解和支持。"
    )


async def test_an_operator_reads_a_delivery_with_its_attempts_and_cannot_resend_a_sent_one(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address)
    async with running(notify_app.create_server, settings) as notify:
        api = stub(notify)
        case_id = uuid7()
        await publish(js, received(case_id))
        await publish(js, step(case_id, "closed", 6))
        (first, *_) = await wait_for(api, case_id, sent(2))
        got = (await api.GetDelivery(svc.GetDeliveryRequest(delivery_id=first.id))).delivery
        with pytest.raises(grpc.aio.AioRpcError) as resend:
            await api.RetryDelivery(svc.RetryDeliveryRequest(delivery_id=first.id))
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await api.GetDelivery(svc.GetDeliveryRequest(delivery_id=uuid7()))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await api.RetryDelivery(svc.RetryDeliveryRequest())

    assert got.id == first.id and got.status == SENT
    assert [(a.number, a.outcome, a.error) for a in got.attempt_log] == [(1, SENT, "")]
    assert got.attempt_log[0].attempt_time.seconds > 0
    assert not got.HasField("next_attempt_time")
    assert resend.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(resend.value)[0].reason == "ALREADY_SENT"
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(missing.value) == {"delivery_id": "is required"}


async def test_restart_sends_nothing_twice(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(tmp_path, nats_url, registry.address)
    case_id = uuid7()
    dispatched = step(case_id, "dispatched", 3)
    async with running(notify_app.create_server, settings) as notify:
        await publish(js, received(case_id))
        await publish(js, dispatched)
        first = await wait_for(stub(notify), case_id, sent(3))

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
    assert recipients([d for d in final if d.event_type == "case.dispatched"]) == [
        HOTLINE,
        MANAGER,
        WANG,
    ]
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
            ds = await wait_for(api, case_id, sent(3), timeout=15.0)
    assert {d.recipient.id for d in ds} == {ELECTRICIAN, GRID_MANAGER, "mayor_hotline"}
