"""`lianxin`: the command line of the embedded system.

    lianxin up [--with-prometheus]  start nats-server, the four services and the Open311 gateway
                                    (and prometheus)
    lianxin serve SERVICE           one service in the foreground (a container's command)
    lianxin migrate SERVICE         upgrade a service's database schema (idempotent)
    lianxin open311 keys …          API keys of Open311 client applications (create, list, revoke)
    lianxin case submit …           submit a case to intake
    lianxin case show CASE_ID       a case with its timeline
    lianxin case list               cases, newest first
    lianxin deliveries list         notifications sent (also: get ID, retry ID)
    lianxin subscriptions …         hotline webhook subscriptions (create, list, delete, …)
    lianxin watch                   follow case status changes, as a hotline does
    lianxin demo                    play the article's first story against a running system
    lianxin demo article-table      play 龙山路街道's 258 requests; then `lianxin stats 龙山路街道`
    lianxin stats UNIT              a unit's key figures (name or code), from routing's history
    lianxin ranking LEVEL           communities, streets or departments ranked by a figure
    lianxin queue UNIT              a command centre's work queue
    lianxin policy check FILE       validate a district policy file
    lianxin token issue …           a signed token (development key) for a role, hotline or service
    lianxin audit verify            check registry's access-log hash chain (in its database)

Targets default to the embedded ports and can be changed with flags or
LIANXIN_{INTAKE,REGISTRY,ROUTING,NOTIFY}_TARGET. TLS: --tls-ca FILE (and --tls-cert /
--tls-key for services that require client certificates), or LIANXIN_CLI_TLS_*.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.cli import (
    article_table,
    audit_commands,
    connect,
    demo,
    identity,
    notify_commands,
    open311_commands,
    registry_commands,
    routing_commands,
    serve_commands,
    token_commands,
)
from services.cli.format import case_table, describe_error

DEFAULT_TARGETS = {
    "intake": "127.0.0.1:50051",
    "registry": "127.0.0.1:50052",
    "routing": "127.0.0.1:50053",
    "notify": "127.0.0.1:50054",
}


def _target(args: argparse.Namespace, service: str) -> str:
    return str(
        getattr(args, service, None)
        or os.environ.get(f"LIANXIN_{service.upper()}_TARGET")
        or DEFAULT_TARGETS[service]
    )


def _enum(enum: object, prefix: str, value: str) -> int:
    name = prefix + value.upper()
    try:
        return int(enum.Value(name))  # type: ignore[attr-defined]
    except ValueError:
        names = [n.removeprefix(prefix).lower() for n in enum.keys()[1:]]  # type: ignore[attr-defined]
        raise SystemExit(f"unknown value {value!r}; one of: {', '.join(names)}") from None


def cmd_up(args: argparse.Namespace) -> int:
    from services.cli.up import default_ports, parse_ports, up

    ports = default_ports()
    if args.nats_port is not None:
        ports["nats"] = args.nats_port
    ports = parse_ports(args.ports or "", ports)
    return up(
        data_dir=Path(args.data_dir),
        host=args.host,
        ports=ports,
        with_prometheus=args.with_prometheus,
        scrape_interval=args.scrape_interval,
        rules_file=Path(args.rules_file) if args.rules_file else None,
    )


def cmd_case_submit(args: argparse.Namespace) -> int:
    req = intake_svc.SubmitCaseRequest(
        channel=_enum(intake_res.Channel, "CHANNEL_", args.channel),
        external_ref=args.ref,
        reporter=intake_res.Reporter(name=args.reporter, phone=args.phone, staff_id=args.staff),
        category=args.category,
        description=args.description,
    )
    if args.lat is not None or args.lon is not None:
        req.location.point.latitude = args.lat if args.lat is not None else 0.0
        req.location.point.longitude = args.lon if args.lon is not None else 0.0
    req.location.address = args.address
    for photo in args.photo or ():
        p = Path(photo)
        kind = "image/png" if p.suffix.lower() == ".png" else "image/jpeg"
        req.attachments.add(filename=p.name, content_type=kind, content=p.read_bytes())
    with identity.open_channel(_target(args, "intake")) as ch:
        reply = intake_service_pb2_grpc.IntakeServiceStub(ch).SubmitCase(req, timeout=10)
    print(("created " if reply.created else "already there: ") + reply.case.id)
    print(case_table(reply.case))
    return 0


def cmd_case_show(args: argparse.Namespace) -> int:
    with identity.open_channel(_target(args, "intake")) as ch:
        reply = intake_service_pb2_grpc.IntakeServiceStub(ch).GetCase(
            intake_svc.GetCaseRequest(case_id=args.case_id), timeout=10
        )
    print(case_table(reply.case, timeline=True))
    return 0


def cmd_case_list(args: argparse.Namespace) -> int:
    req = intake_svc.ListCasesRequest(page_size=args.page_size, unit_code=args.unit or "")
    if args.channel:
        req.channel = _enum(intake_res.Channel, "CHANNEL_", args.channel)
    if args.status:
        req.status = _enum(routing_res.CaseStatus, "CASE_STATUS_", args.status)
    with identity.open_channel(_target(args, "intake")) as ch:
        reply = intake_service_pb2_grpc.IntakeServiceStub(ch).ListCases(req, timeout=10)
    print(f"{'id':<38}{'channel':<20}{'category':<22}{'status':<13}{'unit'}")
    for c in reply.cases:
        print(
            f"{c.id:<38}{intake_res.Channel.Name(c.channel).removeprefix('CHANNEL_').lower():<20}"
            f"{c.category:<22}{routing_res.CaseStatus.Name(c.status).removeprefix('CASE_STATUS_'):<13}"
            f"{c.assigned_unit_name}"
        )
    if reply.next_page_token:
        print(f"(more: --page-token {reply.next_page_token})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    targets = {s: _target(args, s) for s in DEFAULT_TARGETS}
    if args.scenario == "article-table":
        return article_table.run(targets)
    return demo.run_story(targets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lianxin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for service, target in DEFAULT_TARGETS.items():
        parser.add_argument(f"--{service}", metavar="HOST:PORT", help=f"{service} ({target})")
    connect.add_flags(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start nats-server and the four services")
    p.add_argument("--data-dir", default=".lianxin", help="where data lives (.lianxin)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--nats-port", type=int, default=None, help="same as --ports nats=PORT")
    p.add_argument(
        "--ports",
        default="",
        help="NAME=PORT,… for intake, registry, routing, notify (gRPC), intake-metrics, …, "
        "nats, nats-monitor, nats-exporter, prometheus (also LIANXIN_<SERVICE>_GRPC_PORT, "
        "LIANXIN_<SERVICE>_METRICS_PORT, LIANXIN_NATS_PORT, LIANXIN_NATS_MONITOR_PORT, "
        "LIANXIN_NATS_EXPORTER_PORT, LIANXIN_PROMETHEUS_PORT)",
    )
    p.add_argument(
        "--with-prometheus",
        action="store_true",
        help="also start Debian's prometheus (make prometheus) with the alert rules",
    )
    p.add_argument("--scrape-interval", default="15s", help="prometheus scrape interval")
    p.add_argument("--rules-file", help="alert rules for prometheus (deploy/prometheus/…)")
    p.set_defaults(func=cmd_up)

    case = sub.add_parser("case", help="submit and follow cases").add_subparsers(
        dest="case_command", required=True
    )
    p = case.add_parser("submit", help="submit a case")
    p.add_argument(
        "--channel",
        default="grid_app",
        help="mayor_hotline, district_hotline, convenience_hotline, grid_app, inspection, web, "
        "open311",
    )
    p.add_argument("--ref", required=True, help="the channel's own reference")
    p.add_argument("--category", required=True, help="e.g. household_electrical")
    p.add_argument("--description", required=True)
    p.add_argument("--lat", type=float)
    p.add_argument("--lon", type=float)
    p.add_argument("--address", default="")
    p.add_argument("--reporter", default="")
    p.add_argument("--phone", default="")
    p.add_argument("--staff", default="", help="staff id of the grid worker reporting")
    p.add_argument("--photo", action="append", help="a JPEG or PNG file (repeatable)")
    p.set_defaults(func=cmd_case_submit)
    p = case.add_parser("show", help="a case with its timeline")
    p.add_argument("case_id")
    p.set_defaults(func=cmd_case_show)
    p = case.add_parser("list", help="cases, newest first")
    p.add_argument("--channel")
    p.add_argument("--status")
    p.add_argument("--unit", help="unit code prefix")
    p.add_argument("--page-size", type=int, default=20)
    p.set_defaults(func=cmd_case_list)

    p = sub.add_parser("demo", help="play the article against a running system")
    p.add_argument(
        "scenario",
        nargs="?",
        default="story",
        choices=["story", "article-table"],
        help="story: the first story, step by step (default); article-table: 258 requests "
        "that make 龙山路街道's figures, then its table",
    )
    p.set_defaults(func=cmd_demo)

    for area in (
        serve_commands,
        routing_commands,
        registry_commands,
        notify_commands,
        open311_commands,
        token_commands,
        audit_commands,
    ):
        area.register(sub, _target)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    connect.configure(args)
    try:
        return int(args.func(args))
    except grpc.RpcError as err:
        print(describe_error(err), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
