"""The demo district: read and check the packaged file, load it once into an empty registry.

The file (data/demo-370402.json, made by data/make_demo.py) is a GeoJSON FeatureCollection,
one Feature per unit with properties code, name, level (district/street/community/grid),
type_name and parent_code, plus two foreign members: "departments" and "staff". It is
checked whole before anything is written: codes unique and nested (a child's code extends
its parent's, a grid's is its community's plus three digits), levels one apart, geometries
valid Polygons or MultiPolygons, every unit covered by its parent, staff pointing at units,
departments and grids that exist.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import Connection

from lianxin.registry.v1 import resources_pb2 as res
from services.registry import domain, store

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


def load_file(path: Path) -> DemoData:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DemoDataError(f"{path}: cannot read: {exc}") from exc
    try:
        return parse(doc)
    except DemoDataError as exc:
        raise DemoDataError(f"{path}: {exc}") from exc


def parse(doc: dict[str, Any]) -> DemoData:
    """Rows for every table, or DemoDataError listing what is wrong."""
    problems: list[str] = []
    units: dict[str, dict[str, Any]] = {}
    geoms: dict[str, Any] = {}
    for i, f in enumerate(doc.get("features", [])):
        p = f.get("properties") or {}
        code = str(p.get("code", ""))
        where = f"features[{i}] ({code or 'no code'})"
        if not code or code in units:
            problems.append(f"{where}: code missing or repeated")
            continue
        if not p.get("name") or not p.get("type_name"):
            problems.append(f"{where}: name and type_name are required")
        if p.get("level") not in domain.LEVELS:
            problems.append(f"{where}: level must be one of {', '.join(domain.LEVELS)}")
            continue
        try:
            geom = shape(f["geometry"])
        except Exception as exc:
            problems.append(f"{where}: unreadable geometry ({exc})")
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            problems.append(f"{where}: geometry must be a non-empty Polygon or MultiPolygon")
            continue
        if not geom.is_valid:
            problems.append(f"{where}: invalid geometry ({shapely.is_valid_reason(geom)})")
            continue
        lat, lon = domain.inside_point(geom)
        geoms[code] = geom
        units[code] = {
            "code": code,
            "name": str(p.get("name", "")),
            "level": domain.LEVELS[p["level"]],
            "type_name": str(p.get("type_name", "")),
            "parent_code": str(p.get("parent_code") or ""),
            "boundary_geojson": json.dumps(f["geometry"], separators=(",", ":")),
            "centroid_lat": lat,
            "centroid_lon": lon,
        }
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
                "skills": store.skills_json(skills),
            }
        )
        staff_grids.extend({"staff_id": sid, "grid_code": g} for g in sorted(set(grids)))

    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"… and {more} more"] if more > 0 else [])
        raise DemoDataError("; ".join(shown))
    return DemoData(list(units.values()), staff, staff_grids, departments)


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
    """Write the demo in the caller's transaction unless there are units; True if written."""
    if not store.is_empty(conn):
        return False
    store.insert_all(
        conn,
        unit_rows=data.units,
        staff_rows=data.staff,
        staff_grid_rows=data.staff_grids,
        department_rows=data.departments,
    )
    return True
