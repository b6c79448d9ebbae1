"""Hotline subscriptions and signed webhooks: a real hotline receiver (a local HTTP server)
verifies every request with `services.notify.webhooks`, the way a hotline system would."""

from __future__ import annotations

import functools
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from nats.js import JetStreamContext

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc, webhook_pb2
from lianxin.notify.v1 import resources_pb2 as res
from services.common.ids import uuid7
from services.common.server import ServiceHost
from services.notify import app as notify_app
from services.notify import webhooks
from services.notify.config import NotifySettings
from tests import callers
from tests.conftest import running, settings_for, violations
from tests.notify.helpers import (
    SENT,
    FakeClock,
    HttpReceiver,
    all_deliveries,
    local,
    publish,
    received,
    step,
    wait_until,
)

MAYOR = intake_res.CHANNEL_MAYOR_HOTLINE
Api = notify_service_pb2_grpc.NotifyServiceStub


@pytest.fixture
def hotline() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


def settings(tmp_path: Path, nats_url: str, registry: ServiceHost, **kw: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "registry_target": registry.address,
        "send_poll_seconds": 0.1,
        "default_hotline": "",
        **kw,
    }
    return settings_for(NotifySettings, tmp_path, nats_url, **values)  # type: ignore[no-any-return]


def stub(host: ServiceHost) -> Api:
    return Api(callers.channel(host.address))


def post(url: str, headers: dict[str, str], body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def create(api: Api, url: str, request_id: str = "", **kw: Any) -> res.Subscription:
    reply = await api.CreateSubscription(
        svc.CreateSubscriptionRequest(
            subscription=res.Subscription(hotline=MAYOR, webhook_url=url, **kw),
            request_id=request_id,
        )
    )
    return reply.subscription


async def test_a_receiver_verifies_signatures_and_rejects_replays_tampering_and_stale_requests(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    registry: ServiceHost,
    hotline: HttpReceiver,
) -> None:
    async with running(notify_app.create_server, settings(tmp_path, nats_url, registry)) as host:
        api = stub(host)
        sub = await create(api, hotline.url)
        hotline.verifier = webhooks.Verifier([sub.secret], window_seconds=300)
        case_id = uuid7()
        await publish(js, received(case_id))
        await publish(js, step(case_id, "closed", 6))

        async def all_sent() -> list[res.Delivery]:
            ds = await all_deliveries(api, case_id=case_id)
            return ds if len(ds) == 2 and all(d.status == SENT for d in ds) else []

        ds = await wait_until(all_sent, what="the signed webhook")

    (request,) = hotline.accepted
    (delivery,) = [d for d in ds if d.channel == res.DELIVERY_CHANNEL_WEBHOOK]
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-lianxin")}
    headers["Content-Type"] = "application/json"
    assert headers["X-Lianxin-Delivery"] == delivery.id and delivery.status == SENT
    assert headers["X-Lianxin-Signature"] == "sha256=" + webhooks.signature(
        sub.secret, int(headers["X-Lianxin-Timestamp"]), request.body
    )
    assert request.json["id"] == delivery.id and request.json["text"] == delivery.body
    # The body is the documented message (protos/lianxin/notify/v1/webhook.proto): a strict
    # parse with the generated class takes every field of it.
    parsed = json_format.Parse(request.body, webhook_pb2.WebhookPayload())
    assert (parsed.id, parsed.case_id, parsed.event_type) == (delivery.id, case_id, "case.closed")
    assert parsed.case.status == "CLOSED" and parsed.case.version == 6
    assert (
        json_format.MessageToDict(parsed, preserving_proto_field_name=True)["case"]["case_id"]
        == case_id
    )

    # An attacker who captured the request sends it again, or changes it, or re-signs an
    # old one: the receiver refuses all three.
    replayed = post(hotline.url, headers, request.body)
    tampered = post(hotline.url, headers, request.body.replace(b"CLOSED", b"RETURNED"))
    old = int(time.time()) - 3600
    stale_headers = {
        **headers,
        **webhooks.sign(request.body, delivery_id=delivery.id, secrets=[sub.secret], timestamp=old),
    }
    stale = post(hotline.url, stale_headers, request.body)
    forged = post(
        hotline.url,
        {**headers, **webhooks.sign(b"{}", delivery_id="x", secrets=["guess"], timestamp=old)},
        b"{}",
    )
    assert (replayed, tampered, stale, forged) == (409, 401, 401, 401)
    assert hotline.rejected == ["replayed", "bad_signature", "stale", "bad_signature"]
    assert len(hotline.accepted) == 1


def test_the_verifier_takes_notifys_retry_of_a_delivery_but_not_a_copy_of_one_request() -> None:
    now = [1_800_000_000.0]
    verifier = webhooks.Verifier(["new", "other"], window_seconds=300, clock=lambda: now[0])
    body = b'{"id":"d1"}'
    first = webhooks.sign(body, delivery_id="d1", secrets=["new"], timestamp=int(now[0]))
    assert verifier.verify(first, body) == "d1"
    with pytest.raises(webhooks.Replayed):
        verifier.verify(first, body)
    now[0] += 30  # notify's retry of the same delivery is signed anew: it passes
    retry = webhooks.sign(body, delivery_id="d1", secrets=["new"], timestamp=int(now[0]))
    assert verifier.verify(retry, body) == "d1"
    # During a rotation's grace both signatures come; either secret is enough.
    both = webhooks.sign(body, delivery_id="d2", secrets=["newer", "other"], timestamp=int(now[0]))
    assert both["X-Lianxin-Signature"].count("sha256=") == 2
    assert verifier.verify(both, body) == "d2"
    now[0] += 301
    with pytest.raises(webhooks.Stale):
        verifier.verify(retry, body)
    with pytest.raises(webhooks.BadSignature):
        verifier.verify({"X-Lianxin-Delivery": "d3"}, body)


async def test_a_rotated_secret_signs_at_once_and_the_old_one_only_during_the_grace(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    registry: ServiceHost,
    hotline: HttpReceiver,
) -> None:
    clock = FakeClock(local(2026, 11, 25, 10))
    config = settings(tmp_path, nats_url, registry, webhook_secret_grace_seconds=3600)
    async with running(functools.partial(notify_app.create_server, clock=clock), config) as host:
        api = stub(host)
        sub = await create(api, hotline.url)
        rotated = (
            await api.RotateSubscriptionSecret(
                svc.RotateSubscriptionSecretRequest(subscription_id=sub.id)
            )
        ).subscription
        # A receiver that has not switched yet still accepts during the grace period.
        hotline.verifier = webhooks.Verifier([sub.secret])
        first = uuid7()
        await publish(js, received(first))
        await publish(js, step(first, "closed", 6))
        await wait_until(lambda: len(hotline.accepted) == 1, what="a webhook in the grace")
        # After the grace only the new secret signs.
        clock.advance(hours=2)
        hotline.verifier = webhooks.Verifier([rotated.secret])
        second = uuid7()
        await publish(js, received(second))
        await publish(js, step(second, "closed", 6))
        await wait_until(lambda: len(hotline.accepted) == 2, what="a webhook after the grace")
        listed = (await api.ListSubscriptions(svc.ListSubscriptionsRequest())).subscriptions

    assert rotated.id == sub.id and rotated.secret and rotated.secret != sub.secret
    assert rotated.secret_rotate_time.seconds == int(clock().timestamp()) - 7200
    in_grace, after = (r.headers["X-Lianxin-Signature"] for r in hotline.accepted)
    assert in_grace.count("sha256=") == 2 and after.count("sha256=") == 1
    assert [s.secret for s in listed] == [""]  # secrets only on create and rotate
    assert hotline.rejected == []


async def test_subscriptions_are_made_once_per_request_listed_deleted_and_checked(
    tmp_path: Path,
    nats_url: str,
    js: JetStreamContext,
    registry: ServiceHost,
    hotline: HttpReceiver,
) -> None:
    clock = FakeClock(local(2026, 11, 25, 10))
    config = settings(tmp_path, nats_url, registry, max_attempts=5)
    async with running(functools.partial(notify_app.create_server, clock=clock), config) as host:
        api = stub(host)
        a = await create(api, hotline.url, "req-1", unit_code="370402003")
        again = await create(api, "https://elsewhere.example/hook", "req-1")
        b = await create(
            api,
            "",  # no URL: delivered through the file sink
            "req-2",
            case_channels=[intake_res.CHANNEL_GRID_APP],
            event_types=["case.closed"],
        )
        c = await api.CreateSubscription(
            svc.CreateSubscriptionRequest(
                subscription=res.Subscription(
                    hotline=intake_res.CHANNEL_CONVENIENCE_HOTLINE, webhook_url=hotline.url
                )
            )
        )
        page1 = await api.ListSubscriptions(svc.ListSubscriptionsRequest(page_size=2))
        page2 = await api.ListSubscriptions(
            svc.ListSubscriptionsRequest(page_size=2, page_token=page1.next_page_token)
        )
        only_mayor = await api.ListSubscriptions(svc.ListSubscriptionsRequest(hotline=MAYOR))

        # A webhook that cannot get through, and then its subscription is deleted.
        hotline.status = 503
        case_id = uuid7()
        await publish(js, received(case_id, intake_res.CHANNEL_GRID_APP))
        await publish(js, step(case_id, "filed", 1))

        async def failed() -> list[res.Delivery]:
            ds = await all_deliveries(api, case_id=case_id, status=res.DELIVERY_STATUS_FAILED)
            return ds if len(ds) == 2 else []  # 12345 (over a) and 96361 (over c)

        await wait_until(failed, what="two failed webhooks")
        await api.DeleteSubscription(svc.DeleteSubscriptionRequest(subscription_id=a.id))
        clock.advance(minutes=5)

        async def dead() -> list[res.Delivery]:
            ds = await all_deliveries(api, case_id=case_id, status=res.DELIVERY_STATUS_DEAD)
            return ds if ds else []

        (gone,) = await wait_until(dead, what="the deleted subscription's dead letter")
        after_delete = await api.ListSubscriptions(svc.ListSubscriptionsRequest())
        errors: dict[str, grpc.aio.AioRpcError] = {}
        for name, call in {
            "delete twice": api.DeleteSubscription(
                svc.DeleteSubscriptionRequest(subscription_id=a.id)
            ),
            "rotate unknown": api.RotateSubscriptionSecret(
                svc.RotateSubscriptionSecretRequest(subscription_id=uuid7())
            ),
            "bad": api.CreateSubscription(
                svc.CreateSubscriptionRequest(
                    subscription=res.Subscription(
                        hotline=intake_res.CHANNEL_GRID_APP,
                        webhook_url="ftp://12345.example",
                        unit_code="37%",
                        event_types=["case.exploded"],
                    ),
                    request_id="r" * 200,
                )
            ),
            # Refused by the request guard, before the handler's own checks.
            "unknown channel": api.CreateSubscription(
                svc.CreateSubscriptionRequest(
                    subscription=res.Subscription(
                        hotline=intake_res.CHANNEL_MAYOR_HOTLINE,
                        case_channels=[intake_res.CHANNEL_GRID_APP, 42],  # type: ignore[list-item]
                    ),
                )
            ),
            "empty": api.CreateSubscription(svc.CreateSubscriptionRequest()),
        }.items():
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            errors[name] = caught.value

    assert again.id == a.id and again.secret == a.secret  # the retry got the first one
    assert again.webhook_url == hotline.url and a.unit_code == "370402003"
    assert a.secret.startswith("lxs_") and len(a.secret) > 40
    assert list(b.case_channels) == [intake_res.CHANNEL_GRID_APP]
    assert list(b.event_types) == ["case.closed"]
    assert [s.id for s in page1.subscriptions] + [s.id for s in page2.subscriptions] == [
        a.id,
        b.id,
        c.subscription.id,
    ]
    assert page2.next_page_token == ""
    assert [s.id for s in only_mayor.subscriptions] == [a.id, b.id]
    assert gone.recipient.id == "mayor_hotline"
    assert gone.last_error == f"subscription {a.id} was deleted"
    assert [s.id for s in after_delete.subscriptions] == [b.id, c.subscription.id]
    assert errors["delete twice"].code() == grpc.StatusCode.NOT_FOUND
    assert errors["rotate unknown"].code() == grpc.StatusCode.NOT_FOUND
    assert errors["bad"].code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(errors["bad"])) == {
        "subscription.hotline",
        "subscription.webhook_url",
        "subscription.unit_code",
        "subscription.event_types[0]",
        "request_id",
    }
    assert set(violations(errors["unknown channel"])) == {"subscription.case_channels[1]"}
    assert violations(errors["empty"]) == {"subscription": "is required"}
