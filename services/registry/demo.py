"""The demo district: read and check the packaged file, load it once into an empty registry.

The file (data/demo-370402.json, made by data/make_demo.py) is a GeoJSON FeatureCollection,
one Feature per unit with properties code, name, level (district/street/community/grid),
type_name and parent_code, plus two foreign members: "departments" and "staff". It is
checked whole before anything is written: codes unique and nested (a child's code extends
its parent's, a grid's is its community's plus three digits), levels one apart, geometries
valid Polygons or MultiPolygons, every unit covered by its parent, staff pointing at units,
departments and grids that exist.

Its buildings, households and persons are files next to it (`ledger_paths()`), read and
written by the importer in the same transaction as the units: the demo goes in whole or
not at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from lianxin.registry.v1 import resources_pb2 as res
from services.common.errors import InvalidArgument
from services.registry import domain, importer
from services.registry.importer.units import read_units
from services.registry.store import helpers, records

PHONE = re.compile(r"^1[3-9]\d{9}$")
MAX_PROBLEMS = 20


class DemoDataError(ValueError):
    """The demo file breaks one or more rules; nothing was written."""


@dataclass(frozen=True)
class DemoData:
    units: list[dict[str, Any]]
    staff: list[dict[str, Any]]
    staff_grids: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    # Buildings, households and persons, read and checked row by row (applied in order).
    ledgers: list[importer.Batch] = field(default_factory=list)


LEDGERS = (
    ("buildings.geojson", res.IMPORT_KIND_BUILDINGS),
    ("households.csv", res.IMPORT_KIND_HOUSEHOLDS),
    ("persons.csv", res.IMPORT_KIND_PERSONS),
)


def ledger_paths(path: Path) -> list[tuple[Path, int]]:
    """The demo's buildings, households and persons: files next to the demo file named
    <stem>-buildings.geojson, <stem>-households.csv, <stem>-persons.csv (when present)."""
    found = [(path.with_name(f"{path.stem}-{suffix}"), kind) for suffix, kind in LEDGERS]
    return [(p, kind) for p, kind in found if p.exists()]


def load_file(path: Path) -> DemoData:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        ledgers = []
        for ledger, kind in ledger_paths(path):
            ledgers.append(
                importer.read(kind=kind, fmt=0, file_name=ledger.name, content=ledger.read_bytes())
            )
    except (OSError, ValueError) as exc:
        raise DemoDataError(f"{path}: cannot read: {exc}") from exc
    except InvalidArgument as exc:
        raise DemoDataError(f"{path}: {exc.message}") from exc
    try:
        return parse(doc, ledgers=ledgers)
    except DemoDataError as exc:
        raise DemoDataError(f"{path}: {exc}") from exc


def parse(doc: dict[str, Any], *, ledgers: list[importer.Batch] | None = None) -> DemoData:
    """Rows for every table, or DemoDataError listing what is wrong."""
    problems: list[str] = []
    features = doc.get("features", [])
    batch = read_units(features if isinstance(features, list) else [])
    for r in batch.rejected:
        for name, description in r.problems:
            problems.append(f"features[{r.row}] ({r.key or 'no code'}): {name} {description}")
    units: dict[str, dict[str, Any]] = {}
    geoms: dict[str, Any] = {}
    for row in batch.rows:
        geoms[row["code"]] = row["_geom"]
        units[row["code"]] = {k: v for k, v in row.items() if not k.startswith("_")}
    for code, u in units.items():
        problems.extend(f"unit {code}: {m}" for m in _unit_problems(u, units, geoms))

    departments = [
        {k: str(d.get(k, "")) for k in ("code", "name", "district_code")}
        for d in doc.get("departments", [])
    ]
    dept_codes = {d["code"] for d in departments}
    if len(dept_codes) != len(departments):
        problems.append("departments: codes repeated")
    for d in departments:
        district = units.get(d["district_code"])
        if district is None or district["level"] != res.UNIT_LEVEL_DISTRICT:
            problems.append(f"department {d['code']}: {d['district_code']} is not a district")

    staff: list[dict[str, Any]] = []
    seen: set[str] = set()
    staff_grids: list[dict[str, Any]] = []
    for s in doc.get("staff", []):
        sid = str(s.get("id", ""))
        grids = [str(g) for g in s.get("grid_codes", [])]
        skills = [str(k) for k in s.get("skills", [])]
        if not sid or sid in seen:
            problems.append(f"staff {sid or '?'}: id missing or repeated")
        seen.add(sid)
        if s.get("role") not in domain.ROLES:
            problems.append(f"staff {sid}: role must be one of {', '.join(domain.ROLES)}")
            continue
        if not PHONE.match(str(s.get("phone", ""))):
            problems.append(f"staff {sid}: phone must be an 11-digit mobile number")
        if s.get("unit_code") not in units and s.get("unit_code") not in dept_codes:
            problems.append(f"staff {sid}: unit_code {s.get('unit_code')} does not exist")
        for g in grids:
            if units.get(g, {}).get("level") != res.UNIT_LEVEL_GRID:
                problems.append(f"staff {sid}: {g} is not a grid")
        staff.append(
            {
                "id": sid,
                "name": str(s.get("name", "")),
                "role": domain.ROLES[s["role"]],
                "phone": str(s.get("phone", "")),
                "unit_code": str(s.get("unit_code", "")),
                "skills": helpers.skills_json(skills),
            }
        )
        staff_grids.extend({"staff_id": sid, "grid_code": g} for g in sorted(set(grids)))

    for ledger in ledgers or []:
        for r in ledger.rejected:
            problems.append(f"{ledger.file_name} row {r.row}: {_say(r.problems)}")
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"… and {more} more"] if more > 0 else [])
        raise DemoDataError("; ".join(shown))
    return DemoData(list(units.values()), staff, staff_grids, departments, ledgers or [])


def _say(problems: list[tuple[str, str]]) -> str:
    return "; ".join(f"{f} {d}" for f, d in problems)


def _unit_problems(
    u: dict[str, Any], units: dict[str, dict[str, Any]], geoms: dict[str, Any]
) -> list[str]:
    code, level, parent_code = u["code"], u["level"], u["parent_code"]
    if level == res.UNIT_LEVEL_DISTRICT:
        return [] if not parent_code else ["a district has no parent"]
    parent = units.get(parent_code)
    if parent is None:
        return [f"parent {parent_code!r} does not exist"]
    out = []
    if parent["level"] != level - 1:
        out.append(f"parent {parent_code} is not one level up")
    if not code.startswith(parent_code) or code == parent_code:
        out.append(f"code does not extend its parent's ({parent_code})")
    if level == res.UNIT_LEVEL_GRID and not re.fullmatch(re.escape(parent_code) + r"\d{3}", code):
        out.append("a grid's code is its community's plus three digits")
    if not geoms[parent_code].covers(geoms[code]):
        out.append(f"boundary is not inside its parent {parent_code}")
    return out


def load_if_empty(conn: Connection, data: DemoData) -> bool:
    """Write the demo in the caller's transaction unless there are units; True if written.
    Replicas starting together on one PostgreSQL database take turns (a transaction-scoped
    advisory lock): the first loads, the others then find it loaded."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(370402)"))
    if not records.is_empty(conn):
        return False
    records.insert_all(
        conn,
        unit_rows=data.units,
        staff_rows=data.staff,
        staff_grid_rows=data.staff_grids,
        department_rows=data.departments,
    )
    now = datetime.now(UTC)
    for batch in data.ledgers:
        report = importer.apply(conn, batch, actor="system:demo", now=now).report
        if report.rejected_count:
            first = report.rejected[0]
            raise DemoDataError(
                f"{batch.file_name} row {first.row}: "
                + "; ".join(f"{p.field} {p.description}" for p in first.problems)
            )
    return True
