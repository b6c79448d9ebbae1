"""`lianxin` commands of the notify area: deliveries, hotline subscriptions, the case stream.

lianxin deliveries list [--case ID] [--status dead]   notifications, newest first
lianxin deliveries get DELIVERY_ID                    one, with every attempt
lianxin deliveries retry DELIVERY_ID                  send a failed or dead one again
lianxin subscriptions create --hotline mayor_hotline [--url URL] [--unit CODE] …
lianxin subscriptions list | delete ID | rotate-secret ID
lianxin watch [--channel C] [--unit CODE] [--cursor X] [--count N]
                                                      follow status changes (intake)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from services.cli import connect
from services.cli.format import deliveries_table, status_name

Target = Callable[[argparse.Namespace, str], str]


def _local(ts: object) -> str:
    if not getattr(ts, "seconds", 0):
        return "-"
    return ts.ToDatetime().astimezone().strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]


def _enum(enum: object, prefix: str, value: str) -> int:
    try:
        return int(enum.Value(prefix + value.upper()))  # type: ignore[attr-defined]
    except ValueError:
        names = [n.removeprefix(prefix).lower() for n in enum.keys()[1:]]  # type: ignore[attr-defined]
        raise SystemExit(f"unknown value {value!r}; one of: {', '.join(names)}") from None


def _label(enum: object, prefix: str, value: int) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()  # type: ignore[attr-defined]


def _notify(args: argparse.Namespace, target: Target) -> tuple[grpc.Channel, Any]:
    channel = connect.channel(target(args, "notify"))
    return channel, notify_service_pb2_grpc.NotifyServiceStub(channel)


# --- deliveries --------------------------------------------------------------------------


def delivery_detail(d: res.Delivery) -> str:
    lines = [
        f"  delivery  {d.id}",
        f"  event     {d.event_type} {d.event_id}",
        f"  case      {d.case_id}",
        f"  to        {d.recipient.kind}:{d.recipient.id} {d.recipient.name} "
        f"{d.recipient.address}".rstrip(),
        f"  via       {_label(res.DeliveryChannel, 'DELIVERY_CHANNEL_', d.channel)}"
        + (f" (subscription {d.subscription_id})" if d.subscription_id else "")
        + ("  urgent" if d.urgent else ""),
        f"  status    {_label(res.DeliveryStatus, 'DELIVERY_STATUS_', d.status)}"
        f"  attempts {d.attempts}"
        + (f"  next {_local(d.next_attempt_time)}" if d.HasField("next_attempt_time") else "")
        + (f"  sent {_local(d.sent_time)}" if d.HasField("sent_time") else ""),
        f"  text      {d.body}",
        f"  template  {d.template_version}",
    ]
    if d.last_error:
        lines.append(f"  error     {d.last_error}")
    for a in d.attempt_log:
        outcome = _label(res.DeliveryStatus, "DELIVERY_STATUS_", a.outcome)
        lines.append(
            f"    #{a.number:<3} {_local(a.attempt_time)}  {outcome:<7} {a.error}".rstrip()
        )
    return "\n".join(lines)


def make_commands(target: Target) -> dict[str, Callable[[argparse.Namespace], int]]:
    def deliveries_list(args: argparse.Namespace) -> int:
        req = svc.ListDeliveriesRequest(
            case_id=args.case or "", page_size=args.page_size, page_token=args.page_token or ""
        )
        if args.status:
            req.status = _enum(res.DeliveryStatus, "DELIVERY_STATUS_", args.status)
        channel, stub = _notify(args, target)
        with channel:
            reply = stub.ListDeliveries(req, timeout=10)
        print(deliveries_table(reply.deliveries))
        if reply.next_page_token:
            print(f"(more: --page-token {reply.next_page_token})")
        return 0

    def deliveries_get(args: argparse.Namespace) -> int:
        channel, stub = _notify(args, target)
        with channel:
            reply = stub.GetDelivery(svc.GetDeliveryRequest(delivery_id=args.id), timeout=10)
        print(delivery_detail(reply.delivery))
        return 0

    def deliveries_retry(args: argparse.Namespace) -> int:
        channel, stub = _notify(args, target)
        with channel:
            reply = stub.RetryDelivery(svc.RetryDeliveryRequest(delivery_id=args.id), timeout=10)
        print(delivery_detail(reply.delivery))
        return 0

    def subscriptions_create(args: argparse.Namespace) -> int:
        sub = res.Subscription(
            hotline=_enum(intake_res.Channel, "CHANNEL_", args.hotline),
            webhook_url=args.url,
            unit_code=args.unit,
            case_channels=[_enum(intake_res.Channel, "CHANNEL_", c) for c in args.case_channel],
            event_types=args.event or [],
        )
        channel, stub = _notify(args, target)
        with channel:
            reply = stub.CreateSubscription(
                svc.CreateSubscriptionRequest(subscription=sub, request_id=args.request_id),
                timeout=10,
            )
        print(subscription_line(reply.subscription))
        print(f"secret {reply.subscription.secret}  (shown once; rotate-secret makes a new one)")
        return 0

    def subscriptions_list(args: argparse.Namespace) -> int:
        req = svc.ListSubscriptionsRequest(page_size=args.page_size)
        if args.hotline:
            req.hotline = _enum(intake_res.Channel, "CHANNEL_", args.hotline)
        channel, stub = _notify(args, target)
        with channel:
            reply = stub.ListSubscriptions(req, timeout=10)
        for s in reply.subscriptions:
            print(subscription_line(s))
        return 0

    def subscriptions_delete(args: argparse.Namespace) -> int:
        channel, stub = _notify(args, target)
        with channel:
            stub.DeleteSubscription(
                svc.DeleteSubscriptionRequest(subscription_id=args.id), timeout=10
            )
        print(f"deleted {args.id}")
        return 0

    def subscriptions_rotate(args: argparse.Namespace) -> int:
        channel, stub = _notify(args, target)
        with channel:
            reply = stub.RotateSubscriptionSecret(
                svc.RotateSubscriptionSecretRequest(subscription_id=args.id), timeout=10
            )
        print(subscription_line(reply.subscription))
        print(f"secret {reply.subscription.secret}  (the old one still signs for a while)")
        return 0

    def watch(args: argparse.Namespace) -> int:
        req = intake_svc.WatchCasesRequest(unit_code=args.unit or "", cursor=args.cursor or "")
        if args.channel:
            req.channel = _enum(intake_res.Channel, "CHANNEL_", args.channel)
        last = args.cursor or ""
        seen = 0
        with connect.channel(target(args, "intake")) as channel:
            stream = intake_service_pb2_grpc.IntakeServiceStub(channel).WatchCases(req)
            try:
                for m in stream:
                    c, ch = m.case, m.change
                    print(
                        f"{_local(ch.time)}  {c.id}  "
                        f"{_label(intake_res.Channel, 'CHANNEL_', c.channel):<20}"
                        f"{status_name(ch.status):<12} {ch.unit_name or '-':<10} {ch.note}",
                        flush=True,
                    )
                    last, seen = m.cursor, seen + 1
                    if args.count and seen >= args.count:
                        stream.cancel()
                        break
            except KeyboardInterrupt:
                stream.cancel()
        print(f"cursor {last}  (resume with --cursor)", file=sys.stderr)
        return 0

    return {
        "deliveries list": deliveries_list,
        "deliveries get": deliveries_get,
        "deliveries retry": deliveries_retry,
        "subscriptions create": subscriptions_create,
        "subscriptions list": subscriptions_list,
        "subscriptions delete": subscriptions_delete,
        "subscriptions rotate-secret": subscriptions_rotate,
        "watch": watch,
    }


def subscription_line(s: res.Subscription) -> str:
    channels = ",".join(_label(intake_res.Channel, "CHANNEL_", c) for c in s.case_channels)
    return (
        f"{s.id}  {_label(intake_res.Channel, 'CHANNEL_', s.hotline):<20}"
        f"unit {s.unit_code or '*':<12} {s.webhook_url or '(file sink)'}"
        + (f"  channels {channels}" if channels else "")
        + (f"  events {','.join(s.event_types)}" if s.event_types else "")
    )


def register(sub: argparse._SubParsersAction, target: Target) -> None:
    """Add this area's subcommands to `sub`; `target(args, service)` gives a service address."""
    run = make_commands(target)

    deliveries = sub.add_parser("deliveries", help="notifications").add_subparsers(
        dest="deliveries_command", required=True
    )
    p = deliveries.add_parser("list", help="deliveries, newest first")
    p.add_argument("--case")
    p.add_argument("--status", help="pending, sent, failed or dead")
    p.add_argument("--page-size", type=int, default=50)
    p.add_argument("--page-token")
    p.set_defaults(func=run["deliveries list"])
    p = deliveries.add_parser("get", help="one delivery with its attempts")
    p.add_argument("id")
    p.set_defaults(func=run["deliveries get"])
    p = deliveries.add_parser("retry", help="send a failed or dead delivery again")
    p.add_argument("id")
    p.set_defaults(func=run["deliveries retry"])

    subs = sub.add_parser("subscriptions", help="hotline webhook subscriptions").add_subparsers(
        dest="subscriptions_command", required=True
    )
    p = subs.add_parser("create", help="subscribe a hotline system to case changes")
    p.add_argument("--hotline", required=True, help="mayor_hotline, district_hotline, …")
    p.add_argument("--url", default="", help="webhook URL (empty: the file sink)")
    p.add_argument("--unit", default="", help="only cases of this unit code or below")
    p.add_argument("--case-channel", action="append", default=[], help="repeatable")
    p.add_argument("--event", action="append", help="e.g. case.closed (repeatable)")
    p.add_argument("--request-id", default="", help="idempotency key")
    p.set_defaults(func=run["subscriptions create"])
    p = subs.add_parser("list", help="subscriptions, oldest first")
    p.add_argument("--hotline")
    p.add_argument("--page-size", type=int, default=100)
    p.set_defaults(func=run["subscriptions list"])
    p = subs.add_parser("delete", help="delete a subscription")
    p.add_argument("id")
    p.set_defaults(func=run["subscriptions delete"])
    p = subs.add_parser("rotate-secret", help="give a subscription a new signing secret")
    p.add_argument("id")
    p.set_defaults(func=run["subscriptions rotate-secret"])

    p = sub.add_parser("watch", help="follow case status changes as a hotline does (intake)")
    p.add_argument("--channel", help="only cases from this channel")
    p.add_argument("--unit", help="only changes at this unit code or below")
    p.add_argument("--cursor", help="resume after this cursor")
    p.add_argument("--count", type=int, default=0, help="stop after this many changes")
    p.set_defaults(func=run["watch"])
