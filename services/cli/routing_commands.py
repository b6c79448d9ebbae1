"""`lianxin` commands of the routing area.

lianxin policy check FILE                     validate a district policy file
lianxin stats UNIT [--from DATE] [--to DATE]  a unit's key figures (name or code)
lianxin queue UNIT [--status S] [--overdue] [--supervised] [--level L]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone

import grpc

from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common.policy import PolicyError, load_policy

Target = Callable[[argparse.Namespace, str], str]

# Times are shown and read in the district's time (China has no daylight saving time).
LOCAL = timezone(timedelta(hours=8), "CST")


def register(sub: argparse._SubParsersAction, target: Target) -> None:
    """Add this area's subcommands to `sub`; `target(args, service)` gives a service address."""
    policy = sub.add_parser("policy", help="district routing and SLA policy").add_subparsers(
        dest="policy_command", required=True
    )
    p = policy.add_parser("check", help="validate a policy file; errors name line and field")
    p.add_argument("file")
    p.set_defaults(func=cmd_policy_check)

    p = sub.add_parser("stats", help="a unit's key figures over a period")
    p.add_argument("unit", help="unit name (龙山路街道) or code (370402003)")
    p.add_argument("--from", dest="start", help="cases received from this day or time")
    p.add_argument("--to", dest="end", help="… until before this day or time (default now)")
    p.set_defaults(func=lambda args: cmd_stats(args, target))

    p = sub.add_parser("queue", help="a command centre's work queue, oldest deadline first")
    p.add_argument("unit", help="unit name or code")
    p.add_argument("--status", help="dispatched, in_progress, resolved, returned, explained")
    p.add_argument("--overdue", action="store_true", help="only overdue cases")
    p.add_argument("--supervised", action="store_true", help="only supervised cases")
    p.add_argument("--level", help="community, street or district")
    p.add_argument("--page-size", type=int, default=50)
    p.set_defaults(func=lambda args: cmd_queue(args, target))


# --- policy check ----------------------------------------------------------------------


def cmd_policy_check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        print(f"error: the policy is refused\n{exc}", file=sys.stderr)
        return 1
    print(
        f"ok: {args.file}: district {policy.district}, version {policy.version}, "
        f"{len(policy.categories)} categories, ladder {' → '.join(policy.escalation.ladder)}"
    )
    return 0


# --- units by name ---------------------------------------------------------------------


def resolve_unit(channel: grpc.Channel, unit: str) -> tuple[str, str]:
    """(code, name) of a unit given by code or by name (asked from registry)."""
    stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
    unit = unit.strip()
    looks_like_code = unit.isdigit() or ("-" in unit and unit.split("-", 1)[0].isdigit())
    names: dict[str, list[str]] = {}
    for code, name in _all_units(stub):
        if looks_like_code and code == unit:
            return code, name
        names.setdefault(name, []).append(code)
    if looks_like_code:
        return unit, unit
    codes = names.get(unit, [])
    if len(codes) == 1:
        return codes[0], unit
    if not codes:
        close = sorted(n for n in names if unit in n or n in unit)[:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SystemExit(f"error: no unit or department named {unit!r} in registry{hint}")
    raise SystemExit(f"error: {unit!r} names several units: {', '.join(codes)}; give the code")


def _all_units(stub: registry_service_pb2_grpc.RegistryServiceStub) -> Iterable[tuple[str, str]]:
    token = ""
    while True:
        page = stub.ListUnits(reg.ListUnitsRequest(page_size=1000, page_token=token), timeout=10)
        yield from ((u.code, u.name) for u in page.units)
        token = page.next_page_token
        if not token:
            break
    token = ""
    while True:
        deps = stub.ListDepartments(
            reg.ListDepartmentsRequest(page_size=1000, page_token=token), timeout=10
        )
        yield from ((d.code, d.name) for d in deps.departments)
        token = deps.next_page_token
        if not token:
            break


def _when(text: str, *, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"error: {option} {text!r} is not a date like 2014-11-01") from None
    return value if value.tzinfo else value.replace(tzinfo=LOCAL)


# --- stats -------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace, target: Target) -> int:
    with grpc.insecure_channel(target(args, "registry")) as ch:
        code, name = resolve_unit(ch, args.unit)
    req = routing_svc.GetStatsRequest(unit_code=code)
    if args.start:
        req.start_time.FromDatetime(_when(args.start, option="--from"))
    if args.end:
        req.end_time.FromDatetime(_when(args.end, option="--to"))
    with grpc.insecure_channel(target(args, "routing")) as ch:
        reply = routing_service_pb2_grpc.RoutingServiceStub(ch).GetStats(req, timeout=30)
    print(stats_table(reply, name))
    return 0


def percent(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f}%" if denominator else "-"


def stats_table(reply: routing_svc.GetStatsResponse, name: str) -> str:
    start = reply.start_time.ToDatetime().replace(tzinfo=UTC).astimezone(LOCAL)
    end = reply.end_time.ToDatetime().replace(tzinfo=UTC).astimezone(LOCAL)
    since = "the beginning" if start.year <= 1970 else start.strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{name} ({reply.unit_code}): requests received from {since} "
        f"to {end.strftime('%Y-%m-%d %H:%M')} (UTC+8)",
        f"  {'figure':<30}{'value':>8}   {'of':>11}   formula",
    ]
    for i in reply.indicators:
        if i.rate:
            value, of = percent(i.numerator, i.denominator), f"{i.numerator}/{i.denominator}"
        else:
            value, of = str(i.numerator), ""
        label = pad(f"{i.label} {i.id}", 30)
        lines.append(f"  {label}{value:>8}   {of:>11}   {i.formula_id}")
    return "\n".join(lines)


def pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (CJK characters take two)."""
    used = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return text + " " * max(1, width - used)


# --- queue -------------------------------------------------------------------------------


def _enum_value(enum: object, prefix: str, value: str) -> int:
    try:
        return int(enum.Value(prefix + value.upper()))  # type: ignore[attr-defined]
    except ValueError:
        names = [n.removeprefix(prefix).lower() for n in enum.keys()[1:]]  # type: ignore[attr-defined]
        raise SystemExit(f"unknown value {value!r}; one of: {', '.join(names)}") from None


def cmd_queue(args: argparse.Namespace, target: Target) -> int:
    with grpc.insecure_channel(target(args, "registry")) as ch:
        code, name = resolve_unit(ch, args.unit)
    req = routing_svc.ListWorkQueueRequest(
        unit_code=code,
        page_size=args.page_size,
        overdue_only=args.overdue,
        supervised_only=args.supervised,
    )
    if args.status:
        req.status = _enum_value(routing_res.CaseStatus, "CASE_STATUS_", args.status)
    if args.level:
        req.level = _enum_value(routing_res.Level, "LEVEL_", args.level)
    with grpc.insecure_channel(target(args, "routing")) as ch:
        reply = routing_service_pb2_grpc.RoutingServiceStub(ch).ListWorkQueue(req, timeout=10)
    print(f"work queue of {name} ({code}), oldest deadline first")
    print(f"  {'deadline':<14}{'status':<13}{'flags':<10}{'category':<22}{'unit':<20}case")
    for c in reply.cases:
        deadline = (
            c.deadline_time.ToDatetime().replace(tzinfo=UTC).astimezone(LOCAL)
            if c.deadline_time.seconds
            else None
        )
        flags = ("超时" if c.overdue else "") + ("督办" if c.supervised else "")
        status = routing_res.CaseStatus.Name(c.status).removeprefix("CASE_STATUS_")
        print(
            f"  {deadline.strftime('%m-%d %H:%M') if deadline else '-':<14}{status:<13}"
            f"{pad(flags or '-', 10)}{c.category:<22}{c.assigned_unit_code:<20}{c.id}"
        )
    if reply.next_page_token:
        print(f"  (more: {reply.next_page_token})")
    return 0
