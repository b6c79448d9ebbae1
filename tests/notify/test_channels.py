"""notify with its real channels: a local HTTP server plays the SMS gateway and a hotline
system's webhook receiver, app pushes arrive on real NATS subjects. A fake clock drives
back-off, quiet hours and the rate limit (nothing sleeps for real)."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from services.common import bus
from services.common.ids import uuid7
from services.common.server import ServiceHost
from services.notify import app as notify_app
from services.notify import webhooks
from services.notify.config import NotifySettings
from tests import callers
from tests.conftest import running, settings_for
from tests.notify.helpers import (
    CITIZEN_PHONE,
    ELECTRICIAN,
    ELECTRICIAN_PHONE,
    GRID_MANAGER,
    GRID_MANAGER_PHONE,
    SENT,
    STREET_CENTRE,
    FakeClock,
    HttpReceiver,
    all_deliveries,
    local,
    publish,
    received,
    step,
    wait_until,
)

SMS = res.DELIVERY_CHANNEL_SMS
PUSH = res.DELIVERY_CHANNEL_APP_PUSH
WEBHOOK = res.DELIVERY_CHANNEL_WEBHOOK
TOKEN = "gateway-token"

Api = notify_service_pb2_grpc.NotifyServiceStub


@pytest.fixture
def gateway() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(token=TOKEN).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def hotline() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    conn = await bus.connect(nats_url, name="notify-channels-test")
    yield conn
    await conn.drain()


def settings(tmp_path: Path, nats_url: str, registry: ServiceHost, **kw: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "registry_target": registry.address,
        "send_poll_seconds": 0.1,
        "default_hotline": "",
        "quiet_hours": "",
        "app_push": True,
        "file_sink": False,
        **kw,
    }
    return settings_for(NotifySettings, tmp_path, nats_url, **values)  # type: ignore[no-any-return]


def stub(host: ServiceHost) -> Api:
    return Api(callers.channel(host.address))


async def subscribe_hotline(api: Api, receiver: HttpReceiver, **kw: Any) -> res.Subscription:
    """12345 subscribes to 龙山路街道's cases; its receiver checks every signature."""
    reply = await api.CreateSubscription(
        svc.CreateSubscriptionRequest(
            subscription=res.Subscription(
                hotline=intake_res.CHANNEL_MAYOR_HOTLINE,
                webhook_url=receiver.url,
                unit_code="370402003",
                **kw,
            ),
            request_id="12345-longshanlu",
        )
    )
    receiver.verifier = webhooks.Verifier([reply.subscription.secret])
    return reply.subscription


async def by_id(api: Api, case_id: str) -> dict[str, res.Delivery]:
    return {d.id: d for d in await all_deliveries(api, case_id=case_id)}


async def test_each_party_is_told_exactly_once_per_event_across_duplicates_and_a_restart(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    nc: NATS,
    registry: ServiceHost,
    gateway: HttpReceiver,
    hotline: HttpReceiver,
) -> None:
    pushes: list[Msg] = []

    async def on_push(msg: Msg) -> None:
        pushes.append(msg)

    await nc.subscribe("lianxin.push.staff.>", cb=on_push)
    config = settings(
        tmp_path, nats_url, registry, sms_gateway_url=gateway.url, sms_gateway_token=TOKEN
    )
    case_id = uuid7()
    dispatched = step(case_id, "dispatched", 3)
    resolved = step(case_id, "resolved", 5)
    async with running(notify_app.create_server, config) as notify:
        api = stub(notify)
        await subscribe_hotline(api, hotline)
        await publish(js, received(case_id))
        await publish(js, dispatched)
        await publish(js, resolved)
        await publish(js, dispatched, msg_id=uuid7())  # redelivered under a new message id
        await wait_until(lambda: len(gateway.accepted) >= 2 and len(hotline.accepted) >= 2)
        await wait_until(lambda: len(pushes) >= 3)

    # While notify is down the case closes, and the resolution comes round again.
    await publish(js, step(case_id, "closed", 6))
    await publish(js, resolved, msg_id=uuid7())
    async with running(notify_app.create_server, config) as notify:
        api = stub(notify)

        async def all_sent() -> bool:
            ds = await all_deliveries(api, case_id=case_id)
            return len(ds) == 9 and all(d.status == SENT for d in ds)

        await wait_until(all_sent, what="nine deliveries sent")
        deliveries = await by_id(api, case_id)
        await nc.flush()

    sms = [r.json for r in gateway.accepted]
    hooks = [r.json for r in hotline.accepted]
    pushed = [json.loads(m.data) for m in pushes]
    told = Counter(
        (d.event_type, d.recipient.id, d.channel)
        for d in (deliveries[m["id"]] for m in sms + hooks + pushed)
    )
    assert told == Counter(
        {
            ("case.dispatched", ELECTRICIAN, PUSH): 1,
            ("case.dispatched", ELECTRICIAN, SMS): 1,  # the unit: app push and SMS
            ("case.dispatched", GRID_MANAGER, PUSH): 1,
            ("case.dispatched", "mayor_hotline", WEBHOOK): 1,  # as the street's subscriber
            ("case.resolved", case_id, SMS): 1,  # the citizen
            ("case.resolved", GRID_MANAGER, PUSH): 1,
            ("case.resolved", "mayor_hotline", WEBHOOK): 1,  # as the hotline that handed over
            ("case.closed", case_id, SMS): 1,
            ("case.closed", "mayor_hotline", WEBHOOK): 1,
        }
    )
    assert gateway.rejected == [] and hotline.rejected == []
    # Every HTTP delivery carries its id as the idempotency key, for the receiver's dedupe.
    for r in gateway.accepted + hotline.accepted:
        assert r.headers["Idempotency-Key"] == r.json["id"]

    # The gateway gets the full number and the text; the app its subject; the hotline JSON.
    assert {(m["to"], deliveries[m["id"]].recipient.kind) for m in sms} == {
        (ELECTRICIAN_PHONE, "staff"),
        (CITIZEN_PHONE, "citizen"),
    }
    assert all(m["text"] == deliveries[m["id"]].body for m in sms)
    assert {m.subject for m in pushes} == {
        f"lianxin.push.staff.{ELECTRICIAN}",
        f"lianxin.push.staff.{GRID_MANAGER}",
    }
    closed_hook = next(m for m in hooks if m["event_type"] == "case.closed")
    assert closed_hook["case"]["external_ref"] == f"12345-{case_id[-6:]}"
    assert closed_hook["case"]["status"] == "CLOSED"
    assert closed_hook["hotline"] == "mayor_hotline"
    assert closed_hook["text"].startswith("【连心网】工单12345-")


async def test_a_failing_gateway_is_retried_with_backoff_then_dead_lettered_and_can_be_revived(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    nc: NATS,
    registry: ServiceHost,
    gateway: HttpReceiver,
) -> None:
    results: list[event_pb2.Event] = []

    async def on_result(msg: Msg) -> None:
        results.append(event_pb2.Event.FromString(msg.data))

    await nc.subscribe("lianxin.notify.>", cb=on_result)
    clock = FakeClock(local(2026, 11, 25, 10))
    config = settings(
        tmp_path,
        nats_url,
        registry,
        sms_gateway_url=gateway.url,
        sms_gateway_token=TOKEN,
        app_push=False,
        publish_delivered=True,
        max_attempts=3,
        retry_base_seconds=2,
        retry_max_seconds=60,
    )
    gateway.status = 503
    case_id = uuid7()
    create = functools.partial(notify_app.create_server, clock=clock)
    async with running(create, config) as notify:
        api = stub(notify)
        await publish(js, received(case_id, intake_res.CHANNEL_GRID_APP))
        await publish(js, step(case_id, "closed", 6))

        async def citizen(attempts: int) -> res.Delivery | None:
            ds = await all_deliveries(api, case_id=case_id)
            d = next((d for d in ds if d.recipient.kind == "citizen"), None)
            return d if d is not None and d.attempts == attempts else None

        first = await wait_until(lambda: citizen(1), what="the first failure")
        assert first.status == res.DELIVERY_STATUS_FAILED
        wait = first.next_attempt_time.ToDatetime().timestamp() - clock().timestamp()
        assert 0 <= wait <= 2  # full jitter under the first ceiling
        clock.advance(seconds=60)
        await wait_until(lambda: citizen(2), what="the second failure")
        clock.advance(seconds=60)
        dead = await wait_until(lambda: citizen(3), what="the dead letter")
        got = (await api.GetDelivery(svc.GetDeliveryRequest(delivery_id=dead.id))).delivery
        clock.advance(hours=1)
        requests_when_dead = gateway.requests

        # The gateway is repaired; an operator revives the dead letter.
        gateway.status = 200
        revived = (await api.RetryDelivery(svc.RetryDeliveryRequest(delivery_id=dead.id))).delivery
        done = await wait_until(lambda: citizen(4), what="the revived delivery")
        await wait_until(lambda: any(e.type == "notify.delivered" for e in results))

    assert dead.status == res.DELIVERY_STATUS_DEAD
    assert dead.last_error.startswith("ConnectionError: HTTP 503 from http://127.0.0.1:")
    assert [(a.number, a.outcome) for a in got.attempt_log] == [
        (1, res.DELIVERY_STATUS_FAILED),
        (2, res.DELIVERY_STATUS_FAILED),
        (3, res.DELIVERY_STATUS_DEAD),
    ]
    assert requests_when_dead == 3  # nothing more once dead, however long
    assert revived.status == res.DELIVERY_STATUS_PENDING
    assert done.status == SENT and [m["id"] for m in gateway.bodies()] == [dead.id]
    dead_events = [e for e in results if e.type == "notify.dead"]
    assert [e.delivery_result.delivery.id for e in dead_events] == [dead.id]
    assert dead_events[0].case_id == case_id
    assert dead_events[0].delivery_result.delivery.recipient.address == "138****1234"
    assert dead_events[0].delivery_result.delivery.last_error == dead.last_error


async def test_quiet_hours_hold_non_urgent_sms_until_morning_and_let_urgent_ones_through(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    registry: ServiceHost,
    gateway: HttpReceiver,
) -> None:
    clock = FakeClock(local(2026, 11, 25, 23, 10))
    config = settings(
        tmp_path,
        nats_url,
        registry,
        sms_gateway_url=gateway.url,
        sms_gateway_token=TOKEN,
        app_push=False,
        quiet_hours="22:00-07:00",
    )
    case_id = uuid7()
    create = functools.partial(notify_app.create_server, clock=clock)
    async with running(create, config) as notify:
        api = stub(notify)
        await publish(js, received(case_id))
        await publish(js, step(case_id, "resolved", 5))

        async def recorded(event_type: str, n: int) -> list[res.Delivery]:
            ds = [d for d in await all_deliveries(api, case_id=case_id)]
            found = [d for d in ds if d.event_type == event_type]
            return found if len(found) >= n else []

        held = await wait_until(lambda: recorded("case.resolved", 2))
        await publish(js, step(case_id, "overdue", 6))
        # The overdue SMS (recorded after the held ones) arrive: the sender has looked.
        await wait_until(lambda: len(gateway.accepted) >= 2, what="the overdue SMS")
        at_night = [m["to"] for m in gateway.bodies()]
        still = {d.id: d for d in await all_deliveries(api, case_id=case_id)}

        clock.set(local(2026, 11, 26, 7, 0))
        await wait_until(lambda: len(gateway.accepted) >= 4, what="the morning SMS")
        morning = [m["to"] for m in gateway.bodies()[2:]]

    assert sorted(at_night) == sorted([ELECTRICIAN_PHONE, "18910967927"])  # + street centre
    for d in held:
        assert still[d.id].status == res.DELIVERY_STATUS_PENDING and still[d.id].attempts == 0
        assert still[d.id].next_attempt_time.ToDatetime().timestamp() == (
            local(2026, 11, 26, 7).timestamp()
        )
        assert not still[d.id].urgent
    assert sorted(morning) == sorted([CITIZEN_PHONE, GRID_MANAGER_PHONE])
    assert {d.recipient.id for d in still.values() if d.event_type == "case.overdue"} == {
        ELECTRICIAN,
        STREET_CENTRE,
    }


async def test_sms_to_one_number_keep_to_the_rate_limit(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    registry: ServiceHost,
    gateway: HttpReceiver,
) -> None:
    clock = FakeClock(local(2026, 11, 25, 10))
    config = settings(
        tmp_path,
        nats_url,
        registry,
        sms_gateway_url=gateway.url,
        sms_gateway_token=TOKEN,
        app_push=False,
        sms_rate_limit_per_number=2,
        sms_rate_limit_window_seconds=3600,
    )
    case_id = uuid7()
    create = functools.partial(notify_app.create_server, clock=clock)
    async with running(create, config) as notify:
        api = stub(notify)
        await publish(js, received(case_id, intake_res.CHANNEL_GRID_APP))
        for name, version in (("explained", 4), ("merged", 5), ("closed", 6)):
            await publish(js, step(case_id, name, version, note="说明"))

        async def citizen_texts() -> list[res.Delivery]:
            ds = await all_deliveries(api, case_id=case_id)
            mine = [d for d in ds if d.recipient.kind == "citizen"]
            held = [d for d in mine if d.status != SENT]
            # The third is held once the sender has put it off (its next attempt moved).
            moved = len(held) == 1 and held[0].next_attempt_time != held[0].create_time
            return mine if len(mine) == 3 and moved else []

        first = await wait_until(citizen_texts, what="two SMS sent and one held")
        waiting = next(d for d in first if d.status != SENT)
        clock.advance(hours=1)
        await wait_until(lambda: len(gateway.accepted) == 3, what="the third SMS")

    assert waiting.status == res.DELIVERY_STATUS_PENDING and waiting.attempts == 0
    assert waiting.next_attempt_time.ToDatetime().timestamp() == (
        local(2026, 11, 25, 11).timestamp()
    )
    assert [m["to"] for m in gateway.bodies()] == [CITIZEN_PHONE] * 3
