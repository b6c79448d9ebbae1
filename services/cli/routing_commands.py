"""`lianxin` commands of the routing area.

lianxin policy check FILE                     validate a district policy file
lianxin stats UNIT [--from DATE] [--to DATE]  a unit's key figures (name or code)
lianxin queue UNIT [--status S] [--overdue] [--supervised] [--level L]
lianxin ranking LEVEL [--by FIGURE] [--period 2014-11 | --from D --to D] [--within UNIT]
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
from services.cli import connect
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

    p = sub.add_parser("ranking", help="units of one level ranked by a figure (考核排名)")
    p.add_argument("level", choices=sorted(RANK_LEVELS), help="which units to rank")
    p.add_argument("--by", default="closure_rate", choices=RANK_FIGURES, help="the figure")
    p.add_argument("--period", help="a month (2014-11), a day (2014-11-25), or FROM..TO")
    p.add_argument("--from", dest="start", help="cases received from this day or time")
    p.add_argument("--to", dest="end", help="… until before this day or time (default now)")
    p.add_argument("--within", help="only units in this district or street (name or code)")
    p.add_argument("--formula-version", default="", help="formula set (default the newest)")
    p.set_defaults(func=lambda args: cmd_ranking(args, target))

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
    with connect.channel(target(args, "registry")) as ch:
        code, name = resolve_unit(ch, args.unit)
    req = routing_svc.GetStatsRequest(unit_code=code)
    if args.start:
        req.start_time.FromDatetime(_when(args.start, option="--from"))
    if args.end:
        req.end_time.FromDatetime(_when(args.end, option="--to"))
    with connect.channel(target(args, "routing")) as ch:
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


# --- ranking -----------------------------------------------------------------------------

RANK_LEVELS = {
    "community": routing_res.LEVEL_COMMUNITY,
    "street": routing_res.LEVEL_STREET,
    "department": routing_res.LEVEL_DISTRICT,
}
RANK_FIGURES = [
    "closure_rate",
    "on_time_rate",
    "response_rate",
    "satisfaction_rate",
    "rework_rate",
    "reopen_rate",
    "rework_or_reopen_rate",
]


def period_bounds(text: str) -> tuple[datetime, datetime]:
    """A month (2014-11), a day (2014-11-25) or FROM..TO, in the district's time."""
    if ".." in text:
        a, _, b = text.partition("..")
        return _when(a, option="--period"), _when(b, option="--period")
    parts = text.split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        year, month = int(parts[0]), int(parts[1])
        if not 1 <= month <= 12:
            raise SystemExit(f"error: --period {text!r} is not a month like 2014-11")
        start = datetime(year, month, 1, tzinfo=LOCAL)
        nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LOCAL)
        return start, nxt
    day = _when(text, option="--period")
    return day, day + timedelta(days=1)


def cmd_ranking(args: argparse.Namespace, target: Target) -> int:
    req = routing_svc.GetRankingRequest(
        level=RANK_LEVELS[args.level],
        indicator_id=args.by,
        formula_version=args.formula_version,
    )
    start, end = period_bounds(args.period) if args.period else (None, None)
    start = _when(args.start, option="--from") if args.start else start
    end = _when(args.end, option="--to") if args.end else end
    if start is not None:
        req.start_time.FromDatetime(start)
    if end is not None:
        req.end_time.FromDatetime(end)
    if args.within:
        with connect.channel(target(args, "registry")) as ch:
            req.unit_code, _ = resolve_unit(ch, args.within)
    with connect.channel(target(args, "routing")) as ch:
        try:
            reply = routing_service_pb2_grpc.RoutingServiceStub(ch).GetRanking(req, timeout=30)
        except grpc.RpcError as exc:
            raise SystemExit(f"error: {exc.details()}") from None  # type: ignore[attr-defined]
    print(ranking_table(reply, args.level))
    return 0


def ranking_table(reply: routing_svc.GetRankingResponse, level: str) -> str:
    start = reply.start_time.ToDatetime().replace(tzinfo=UTC).astimezone(LOCAL)
    end = reply.end_time.ToDatetime().replace(tzinfo=UTC).astimezone(LOCAL)
    since = "the beginning" if start.year <= 1970 else start.strftime("%Y-%m-%d %H:%M")
    order = "lower is better" if reply.lower_is_better else "higher is better"
    lines = [
        f"{level} ranking by {reply.indicator_id} ({order}), requests received from {since} "
        f"to {end.strftime('%Y-%m-%d %H:%M')} (UTC+8), formulas v{reply.formula_version}",
        f"  {'rank':>4}  {pad('unit', 34)}{'value':>8}   {'of':>11}   formula",
    ]
    for e in reply.entries:
        i = e.indicator
        rank = str(e.rank) if e.rank else "-"
        unit = pad(f"{e.unit_name} ({e.unit_code})", 34)
        lines.append(
            f"  {rank:>4}  {unit}{percent(i.numerator, i.denominator):>8}   "
            f"{f'{i.numerator}/{i.denominator}':>11}   {i.formula_id}"
        )
    if not reply.entries:
        lines.append("  (no unit of this level has cases in the period)")
    return "\n".join(lines)


# --- queue -------------------------------------------------------------------------------


def _enum_value(enum: object, prefix: str, value: str) -> int:
    try:
        return int(enum.Value(prefix + value.upper()))  # type: ignore[attr-defined]
    except ValueError:
        names = [n.removeprefix(prefix).lower() for n in enum.keys()[1:]]  # type: ignore[attr-defined]
        raise SystemExit(f"unknown value {value!r}; one of: {', '.join(names)}") from None


def cmd_queue(args: argparse.Namespace, target: Target) -> int:
    with connect.channel(target(args, "registry")) as ch:
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
    with connect.channel(target(args, "routing")) as ch:
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
