"""The coverage audit (区不漏地、地不漏房、房不漏户、户不漏人) of one unit.

Land, from the polygons: the unit minus the union of its grids is land no grid covers;
pairs of its grids whose interiors meet share land. Slivers smaller than MIN_AREA_M2 are
floating-point noise, not findings. A gap is reported under the smallest unit (community
or street) that holds it.

Buildings, households and persons, from the tables: buildings whose point lies in the
unit but in no grid (for a district — a unit without a parent — every building outside
all grids), buildings of its grids without households, households without persons, and
persons of the unit without a household (for a district also those the ledgers left
without any unit).

Counts cover every kind; findings come in pages ordered by kind, then subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from sqlalchemy import Connection

from lianxin.registry.v1 import resources_pb2 as res
from services.registry import geo
from services.registry.store import coverage, records

MIN_AREA_M2 = 1.0

KINDS = [
    res.FINDING_KIND_UNCOVERED_LAND,
    res.FINDING_KIND_OVERLAPPING_GRIDS,
    res.FINDING_KIND_BUILDING_OUTSIDE_GRIDS,
    res.FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD,
    res.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON,
    res.FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD,
]


@dataclass
class Audit:
    unit: Any  # the unit row
    counts: dict[int, int]
    unit_area_m2: float
    uncovered_area_m2: float
    overlap_area_m2: float
    findings: list[res.Finding] = field(default_factory=list)


def _fmt_area(m2: float) -> str:
    return f"{m2:,.0f} m²"


def run(
    conn: Connection, *, unit_code: str, kind: int, after: tuple[int, str], limit: int
) -> Audit | None:
    """The audit of `unit_code` (None when there is no such unit), with up to `limit`
    findings after `after` = (kind, subject), only of `kind` when it is set."""
    unit = records.get_unit(conn, code=unit_code)
    if unit is None:
        return None
    root = not unit.parent_code
    below = records.units_under(conn, prefix=unit_code)
    geoms = {u.code: shapely.from_geojson(u.boundary_geojson) for u in below if u.boundary_geojson}
    origin = (unit.centroid_lat or 0.0, unit.centroid_lon or 0.0)
    land = geoms.get(unit.code)
    grids = [u for u in below if u.level == res.UNIT_LEVEL_GRID and u.code in geoms]

    gaps = _gaps(land, [geoms[g.code] for g in grids], below, geoms, origin)
    overlaps = _overlaps([g.code for g in grids], [geoms[g.code] for g in grids], origin)
    outside = _outside(conn, land, root)
    b_none, h_none, p_none = coverage.audit_counts(conn, prefix=unit_code, root=root)
    counts = {
        res.FINDING_KIND_UNCOVERED_LAND: len(gaps),
        res.FINDING_KIND_OVERLAPPING_GRIDS: len(overlaps),
        res.FINDING_KIND_BUILDING_OUTSIDE_GRIDS: len(outside),
        res.FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD: b_none,
        res.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON: h_none,
        res.FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD: p_none,
    }
    out = Audit(
        unit=unit,
        counts=counts,
        unit_area_m2=geo.area_m2(land, origin=origin) if land is not None else 0.0,
        uncovered_area_m2=sum(f.area_square_metres for f in gaps),
        overlap_area_m2=sum(f.area_square_metres for f in overlaps),
    )
    after_kind, after_subject = after
    for k in KINDS:
        if len(out.findings) >= limit:
            break
        if (kind and k != kind) or k < after_kind or counts[k] == 0:
            continue
        start = after_subject if k == after_kind else ""
        want = limit - len(out.findings)
        if k == res.FINDING_KIND_UNCOVERED_LAND:
            page = [f for f in gaps if f.subject > start][:want]
        elif k == res.FINDING_KIND_OVERLAPPING_GRIDS:
            page = [f for f in overlaps if f.subject > start][:want]
        elif k == res.FINDING_KIND_BUILDING_OUTSIDE_GRIDS:
            page = [f for f in outside if f.subject > start][:want]
        else:
            page = _from_tables(conn, k, unit_code, root, start, want)
        out.findings.extend(page)
    return out


def _gaps(
    land: Any, grid_geoms: list[Any], below: list[Any], geoms: dict[str, Any], origin: Any
) -> list[res.Finding]:
    if land is None:
        return []
    covered = shapely.union_all(grid_geoms) if grid_geoms else None
    rest = land if covered is None else land.difference(covered)
    parts = [p for p in geo.polygons(rest) if geo.area_m2(p, origin=origin) >= MIN_AREA_M2]
    holders = [u for u in below if u.level < res.UNIT_LEVEL_GRID and u.code in geoms]
    # Deepest first: the smallest unit that holds the gap names it.
    holders.sort(key=lambda u: -u.level)
    out = []
    for i, part in enumerate(parts):
        probe = part.representative_point()
        owner = next((u for u in holders if geoms[u.code].covers(probe)), None)
        code = owner.code if owner is not None else ""
        area = geo.area_m2(part, origin=origin)
        where = f"{owner.name} ({code})" if owner is not None else "the unit"
        out.append(
            res.Finding(
                kind=res.FINDING_KIND_UNCOVERED_LAND,
                subject=f"{code}#{i + 1:04d}",
                description=f"{_fmt_area(area)} of {where} is in no grid",
                area_square_metres=round(area, 1),
                geojson=geo.dumps(part),
            )
        )
    out.sort(key=lambda f: f.subject)
    return out


def _overlaps(codes: list[str], grid_geoms: list[Any], origin: Any) -> list[res.Finding]:
    if len(grid_geoms) < 2:
        return []
    arr = np.asarray(grid_geoms, dtype=object)
    left, right = STRtree(arr).query(arr, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    # Interiors meet: more than a shared edge or corner.
    inner = shapely.relate_pattern(arr[left], arr[right], "T********")
    left, right = left[inner], right[inner]
    shared = shapely.intersection(arr[left], arr[right])
    out = []
    for a, b, g in zip(left.tolist(), right.tolist(), shared, strict=True):
        polys = shapely.union_all(geo.polygons(g)) if geo.polygons(g) else None
        if polys is None:
            continue
        area = geo.area_m2(polys, origin=origin)
        if area < MIN_AREA_M2:
            continue
        out.append(
            res.Finding(
                kind=res.FINDING_KIND_OVERLAPPING_GRIDS,
                subject=f"{codes[a]}/{codes[b]}",
                description=f"grids {codes[a]} and {codes[b]} share {_fmt_area(area)}",
                area_square_metres=round(area, 1),
                geojson=geo.dumps(polys),
            )
        )
    out.sort(key=lambda f: f.subject)
    return out


def _outside(conn: Connection, land: Any, root: bool) -> list[res.Finding]:
    rows = coverage.buildings_without_grid(conn)
    if not rows:
        return []
    if not root:
        if land is None:
            return []
        inside = shapely.intersects_xy(land, [r.lon for r in rows], [r.lat for r in rows])
        rows = [r for r, ok in zip(rows, np.atleast_1d(inside).tolist(), strict=True) if ok]
    return [
        res.Finding(
            kind=res.FINDING_KIND_BUILDING_OUTSIDE_GRIDS,
            subject=r.code,
            description=f"building {r.code} ({r.address}) at {r.lat:.6f}, {r.lon:.6f} "
            "lies in no grid",
        )
        for r in rows
    ]


def _from_tables(
    conn: Connection, kind: int, prefix: str, root: bool, after: str, limit: int
) -> list[res.Finding]:
    if kind == res.FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD:
        return [
            res.Finding(
                kind=kind,
                subject=r.code,
                description=f"building {r.code} ({r.address}) in grid {r.grid_code} "
                "has no household",
            )
            for r in coverage.buildings_without_household(
                conn, prefix=prefix, after=after, limit=limit
            )
        ]
    if kind == res.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON:
        return [
            res.Finding(
                kind=kind,
                subject=r.id,
                description=f"household {r.id} in grid {r.unit_code} has no person",
            )
            for r in coverage.households_without_person(
                conn, prefix=prefix, after=after, limit=limit
            )
        ]
    return [
        res.Finding(
            kind=kind,
            subject=r.id,
            # No name: the audit lists subjects, GetPersonView (audited) shows persons.
            description=f"person {r.id} of {r.unit_code or 'no unit'} has no household",
        )
        for r in coverage.persons_without_household(
            conn, prefix=prefix, root=root, after=after, limit=limit
        )
    ]
