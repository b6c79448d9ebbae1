"""`lianxin registry …`: the grid map's base data from the command line.

    lianxin registry import persons 台账.xlsx [--partial] [--dry-run]
    lianxin registry audit 370402003 [--kind household_without_person] [--limit 50]
    lianxin registry search 张胜 [--unit 370402003]
    lianxin registry summary 370402003001
    lianxin registry building 370402003001001-B001
    lianxin registry person p-0190… [--full --purpose "入户走访" --jurisdiction 370402003]

Who is calling is stated with --actor/--permissions/--jurisdiction (or LIANXIN_ACTOR,
LIANXIN_PERMISSIONS, LIANXIN_JURISDICTION); `import` asks for `registry:import` itself.
These become request metadata today and a bearer token once authentication lands.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import grpc

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.cli import connect
from services.common import auth

Target = Callable[[argparse.Namespace, str], str]
KINDS = {
    "units": res.IMPORT_KIND_UNITS,
    "grids": res.IMPORT_KIND_UNITS,
    "buildings": res.IMPORT_KIND_BUILDINGS,
    "households": res.IMPORT_KIND_HOUSEHOLDS,
    "persons": res.IMPORT_KIND_PERSONS,
}
TAG_WORDS = {
    res.PERSON_TAG_ELDERLY_LIVING_ALONE: "独居老人",
    res.PERSON_TAG_DISABLED: "残疾人",
    res.PERSON_TAG_UNEMPLOYED: "失业人员",
    res.PERSON_TAG_RETIRED: "退休人员",
    res.PERSON_TAG_LOW_INCOME: "低保户",
    res.PERSON_TAG_JOB_SEEKER: "求职人员",
    res.PERSON_TAG_MIGRANT_WORKER: "农民工",
}
BAR = 30


def _finding_kind(word: str) -> int:
    try:
        return int(res.FindingKind.Value("FINDING_KIND_" + word.upper()))
    except ValueError:
        names = [n.removeprefix("FINDING_KIND_").lower() for n in res.FindingKind.keys()[1:]]
        raise SystemExit(f"unknown kind {word!r}; one of: {', '.join(names)}") from None


def _metadata(args: argparse.Namespace, *extra_permissions: str) -> tuple[tuple[str, str], ...]:
    perms = [p for p in (args.permissions or "").split(",") if p.strip()]
    return auth.metadata_for(
        args.actor or f"cli:{getpass.getuser()}",
        permissions=[*perms, *extra_permissions],
        jurisdiction=args.jurisdiction or "",
        purpose=getattr(args, "purpose", "") or "",
    )


def _stub(args: argparse.Namespace, target: Target) -> tuple[grpc.Channel, RegistryServiceStub]:
    channel = connect.channel(
        target(args, "registry"),
        options=[
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ],
    )
    return channel, RegistryServiceStub(channel)


# --- import ------------------------------------------------------------------------------


class ProgressBar:
    """A one-line text bar on stderr: `writing  [#########.........]  45%  225,000/500,000`.
    Not a terminal: one line per stage instead."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.stage = ""

    def show(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            if self.stage and self.tty:
                self.stream.write("\n")
            self.stage = stage
            if not self.tty:
                self.stream.write(f"{stage} {total:,} rows\n")
        if not self.tty:
            return
        share = done / total if total else 1.0
        filled = int(BAR * share)
        self.stream.write(
            f"\r{stage:<11}[{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%}  {done:,}/{total:,}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.stage and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def print_report(report: res.ImportReport, *, limit: int = 20) -> None:
    kind = res.ImportKind.Name(report.kind).removeprefix("IMPORT_KIND_").lower()
    state = "written" if report.written else "NOT written"
    print(
        f"{kind}: {report.total_rows:,} rows — {report.inserted:,} new, {report.updated:,} "
        f"changed, {report.unchanged:,} unchanged, {report.rejected_count:,} rejected ({state})"
    )
    for r in list(report.rejected)[:limit]:
        problems = "; ".join(f"{p.field}: {p.description}" for p in r.problems)
        print(f"  row {r.row} {r.key}: {problems}")
    if report.rejected_count > limit:
        print(f"  … and {report.rejected_count - limit:,} more rejected rows")


def cmd_import(args: argparse.Namespace, target: Target) -> int:
    path = Path(args.file)
    request = svc.ImportDataRequest(
        kind=KINDS[args.kind],
        file_name=path.name,
        content=path.read_bytes(),
        allow_partial=args.partial,
        validate_only=args.dry_run,
    )
    bar = ProgressBar()
    report = None
    channel, stub = _stub(args, target)
    try:
        for msg in stub.ImportData(request, metadata=_metadata(args, auth.REGISTRY_IMPORT)):
            if msg.HasField("report"):
                report = msg.report
            else:
                bar.show(msg.progress.stage, msg.progress.done, msg.progress.total)
    except grpc.RpcError as err:
        bar.close()
        if report is not None:
            print_report(report)
        if err.code() == grpc.StatusCode.INVALID_ARGUMENT and report is not None:
            return 1  # the report said it all
        raise
    finally:
        channel.close()
    bar.close()
    if report is not None:
        print_report(report)
    return 0 if report is not None and (report.written or args.dry_run) else 1


# --- audit -------------------------------------------------------------------------------


def cmd_audit(args: argparse.Namespace, target: Target) -> int:
    kind = _finding_kind(args.kind) if args.kind else 0
    channel, stub = _stub(args, target)
    findings: list[res.Finding] = []
    token = ""
    with channel:
        while True:
            reply = stub.AuditCoverage(
                svc.AuditCoverageRequest(
                    unit_code=args.unit,
                    kind=kind,
                    page_size=min(args.limit, 1000) or 100,
                    page_token=token,
                ),
                metadata=_metadata(args),
                timeout=120,
            )
            findings.extend(reply.findings)
            token = reply.next_page_token
            if not token or len(findings) >= args.limit:
                break
    u = reply.unit
    print(f"coverage audit of {u.name} ({u.code}), {reply.unit_area_square_metres / 1e6:,.3f} km²")
    print(
        f"  land in no grid   {reply.uncovered_area_square_metres:>14,.0f} m²\n"
        f"  land in 2+ grids  {reply.overlap_area_square_metres:>14,.0f} m²"
    )
    for c in reply.counts:
        name = res.FindingKind.Name(c.kind).removeprefix("FINDING_KIND_").lower()
        print(f"  {name:<28}{c.count:>10,}")
    for f in findings[: args.limit]:
        name = res.FindingKind.Name(f.kind).removeprefix("FINDING_KIND_").lower()
        print(f"{name:<28} {f.subject:<36} {f.description}")
    total = sum(c.count for c in reply.counts if not kind or c.kind == kind)
    if total > args.limit:
        print(f"(showing {args.limit} of {total:,}; --limit N for more)")
    if args.geojson:
        features = [
            {
                "type": "Feature",
                "properties": {
                    "kind": res.FindingKind.Name(f.kind),
                    "subject": f.subject,
                    "area_m2": f.area_square_metres,
                },
                "geometry": json.loads(f.geojson),
            }
            for f in findings
            if f.geojson
        ]
        Path(args.geojson).write_text(
            json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
            encoding="utf-8",
        )
        print(f"wrote {len(features)} land findings to {args.geojson}")
    return 0


# --- views -------------------------------------------------------------------------------


def _tags(tags: Iterable[int]) -> str:
    return "、".join(TAG_WORDS.get(t, str(t)) for t in tags)


def _person_line(p: res.Person) -> str:
    tags = f"  [{_tags(p.tags)}]" if p.tags else ""
    return (
        f"{p.name:<6} {p.gender} {p.age:>3}岁  {p.id_number}  {p.phone or '-':<13} "
        f"{p.relation or '':<4} {p.id}{tags}"
    )


def cmd_search(args: argparse.Namespace, target: Target) -> int:
    channel, stub = _stub(args, target)
    with channel:
        reply = stub.SearchRegistry(
            svc.SearchRegistryRequest(
                query=args.query,
                unit_code=args.unit or "",
                page_size=args.page_size,
                page_token=args.page_token or "",
            ),
            metadata=_metadata(args),
            timeout=30,
        )
    for h in reply.hits:
        if h.HasField("person"):
            print(f"person    {_person_line(h.person)}  {h.address}")
        else:
            b = h.building
            print(f"building  {b.code:<24} {b.name:<6} {b.address}  grid {b.grid_code or '-'}")
    if not reply.hits:
        print("nothing found")
    if reply.next_page_token:
        print(f"(more: --page-token {reply.next_page_token})")
    return 0


def cmd_summary(args: argparse.Namespace, target: Target) -> int:
    channel, stub = _stub(args, target)
    with channel:
        r = stub.GetAreaSummary(
            svc.GetAreaSummaryRequest(unit_code=args.unit), metadata=_metadata(args), timeout=30
        )
    print(f"{r.unit.name} ({r.unit.code})")
    print(
        f"  grids {r.grids:,}  buildings {r.buildings:,}  households {r.households:,}  "
        f"population {r.population:,}"
    )
    print("  " + "  ".join(f"{TAG_WORDS[t.tag]} {t.count:,}" for t in r.tag_counts))
    if r.cases.available:
        print(f"  open cases {r.cases.open:,}, overdue {r.cases.overdue:,}")
    else:
        print(f"  cases: unavailable ({r.cases.unavailable_reason})")
    return 0


def _view(args: argparse.Namespace) -> int:
    return res.PERSONAL_DATA_VIEW_FULL if args.full else res.PERSONAL_DATA_VIEW_MASKED


def cmd_building(args: argparse.Namespace, target: Target) -> int:
    channel, stub = _stub(args, target)
    with channel:
        r = stub.GetBuildingView(
            svc.GetBuildingViewRequest(code=args.code, view=_view(args)),
            metadata=_metadata(args),
            timeout=30,
        )
    b = r.building
    print(
        f"{b.code} {b.name} {b.address}  grid {b.grid_code or '-'}  "
        f"({b.location.latitude:.6f}, {b.location.longitude:.6f})"
    )
    for hv in r.households:
        h = hv.household
        print(f"  {h.address}  ({h.resident_count} residents)")
        for p in hv.residents:
            print(f"    {_person_line(p)}")
    return 0


def cmd_person(args: argparse.Namespace, target: Target) -> int:
    channel, stub = _stub(args, target)
    with channel:
        r = stub.GetPersonView(
            svc.GetPersonViewRequest(person_id=args.person_id, view=_view(args)),
            metadata=_metadata(args),
            timeout=30,
        )
    print(_person_line(r.person))
    if r.person.birth_date:
        print(f"  born {r.person.birth_date}")
    print(f"  home {r.household.address or '(no household)'}  grid {r.household.grid_code or '-'}")
    for m in r.household_members:
        print(f"  with {_person_line(m)}")
    for c in r.cases:
        status = res_status(c.status) if r.case_status_available else "?"
        print(f"  case {c.case_id} {c.category} {status}{' overdue' if c.overdue else ''}")
    return 0


def res_status(status: int) -> str:
    from lianxin.routing.v1 import resources_pb2 as routing_res

    return routing_res.CaseStatus.Name(status).removeprefix("CASE_STATUS_").lower()


# --- wiring ------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction, target: Target) -> None:
    """Add this area's subcommands to `sub`; `target(args, service)` gives a service address."""
    area = sub.add_parser(
        "registry",
        help="the grid map's base data: import, audit, search, views",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--actor", default=os.environ.get("LIANXIN_ACTOR", ""), help="who you are")
    who.add_argument(
        "--permissions",
        default=os.environ.get("LIANXIN_PERMISSIONS", ""),
        help="comma list, e.g. pii:read",
    )
    who.add_argument(
        "--jurisdiction",
        default=os.environ.get("LIANXIN_JURISDICTION", ""),
        help="unit code prefix you act for",
    )
    cmds = area.add_subparsers(dest="registry_command", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace, Target], int], help_: str) -> Any:
        p = cmds.add_parser(name, help=help_, parents=[who])
        p.set_defaults(func=lambda args: fn(args, target))
        return p

    p = add("import", cmd_import, "import units, buildings, households or persons from a file")
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("file", help="GeoJSON (units, buildings), CSV or XLSX (households, persons)")
    p.add_argument("--partial", action="store_true", help="write the valid rows anyway")
    p.add_argument("--dry-run", action="store_true", help="validate only")

    p = add("audit", cmd_audit, "coverage audit of a unit: gaps, overlaps, what is missing")
    p.add_argument("unit", help="unit code, e.g. 370402003")
    p.add_argument("--kind", help="only findings of this kind, e.g. uncovered_land")
    p.add_argument("--limit", type=int, default=50, help="findings to list (50)")
    p.add_argument("--geojson", help="write land findings (gaps, overlaps) to this file")

    p = add("search", cmd_search, "find persons and buildings")
    p.add_argument("query", help="part of a name or address, or 4+ trailing digits")
    p.add_argument("--unit", help="only in this unit")
    p.add_argument("--page-size", type=int, default=20)
    p.add_argument("--page-token")

    p = add("summary", cmd_summary, "a unit at a glance")
    p.add_argument("unit")

    for name, fn, what in (
        ("building", cmd_building, "a building with its households and residents"),
        ("person", cmd_person, "a person with household and cases"),
    ):
        p = add(name, fn, what)
        p.add_argument("code" if name == "building" else "person_id")
        p.add_argument("--full", action="store_true", help="unmasked (needs pii:read)")
        p.add_argument("--purpose", default="", help="why (required with --full)")
