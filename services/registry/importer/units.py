"""Units and grids from GeoJSON: reading, the hierarchy and boundary checks against the
stored units, writing, and the grids this brings to buildings, households and persons."""

from __future__ import annotations

import json
import re
from typing import Any

import shapely
from sqlalchemy import Connection, bindparam, insert, select, update

from lianxin.registry.v1 import resources_pb2 as res
from services.registry import geo
from services.registry.gridmap import GridMap
from services.registry.importer.batch import (
    Batch,
    Progress,
    Rejection,
    _Context,
    _noop,
    _text,
    _Ticker,
)
from services.registry.importer.vocabulary import DEFAULT_TYPE_NAMES, LEVELS
from services.registry.store import helpers, records, tables

# A child may stick out of its parent by this much (degrees, ~1 cm) and still be inside.
COVER_TOLERANCE = 1e-7


def read_units(features: list[Any], *, file_name: str = "", progress: Progress = _noop) -> Batch:
    batch = Batch(res.IMPORT_KIND_UNITS, file_name, len(features), [])
    seen: dict[str, int] = {}
    tick = _Ticker(progress, "reading", len(features))
    for i, f in enumerate(features):
        tick.step()
        problems: list[tuple[str, str]] = []
        p = (f.get("properties") if isinstance(f, dict) else None) or {}
        if not isinstance(p, dict):
            p = {}
        code = _text(p.get("code"))
        if not isinstance(f, dict) or f.get("type") != "Feature":
            problems.append(("type", "must be a GeoJSON Feature"))
        if not code:
            problems.append(("properties.code", "is required"))
        elif not code.isdigit() or len(code) > 32:
            problems.append(("properties.code", "must be digits (at most 32)"))
        elif code in seen:
            problems.append(("properties.code", f"repeats feature {seen[code]}"))
        name = _text(p.get("name"))
        if not name or len(name) > 100:
            problems.append(("properties.name", "is required, at most 100 characters"))
        level = LEVELS.get(_text(p.get("level")))
        if level is None:
            problems.append(("properties.level", f"must be one of {', '.join(LEVELS)}"))
        type_name = _text(p.get("type_name")) or DEFAULT_TYPE_NAMES.get(level or 0, "")
        if len(type_name) > 16:
            problems.append(("properties.type_name", "must be at most 16 characters"))
        geom = None
        try:
            geom = geo.read_geometry(
                f.get("geometry") if isinstance(f, dict) else None, allowed=geo.POLYGONAL
            )
        except geo.GeometryError as exc:
            problems.append(("geometry", str(exc)))
        if code and code not in seen:
            seen[code] = i
        if problems:
            batch.rejected.append(Rejection(i, code, problems))
            continue
        assert geom is not None and level is not None
        lat, lon = geo.inside_point(geom)
        batch.rows.append(
            {
                "_row": i,
                "_geom": geom,
                "code": code,
                "name": name,
                "level": level,
                "type_name": type_name,
                "parent_code": _text(p.get("parent_code")),
                "boundary_geojson": json.dumps(f["geometry"], separators=(",", ":")),
                "centroid_lat": lat,
                "centroid_lon": lon,
            }
        )
    return batch


UNIT_FIELDS = ("name", "level", "type_name", "parent_code", "boundary_geojson")


def _check_units(conn: Connection, batch: Batch) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows whose place in the hierarchy holds, parents first; and the stored units."""
    stored = {r.code: r for r in records.all_units(conn)}
    incoming = {r["code"]: r for r in batch.rows}
    rejected_codes = {r.key for r in batch.rejected if r.key}
    accepted: dict[str, dict[str, Any]] = {}
    geoms: dict[str, Any] = {}
    widened: dict[str, Any] = {}  # parents grown by the tolerance, prepared

    def geom_of(code: str) -> Any:
        if code not in geoms:
            geoms[code] = shapely.from_geojson(stored[code].boundary_geojson)
        return geoms[code]

    for row in sorted(batch.rows, key=lambda r: (r["level"], r["code"])):
        code, level, parent_code = row["code"], row["level"], row["parent_code"]
        problems: list[tuple[str, str]] = []
        old = stored.get(code)
        if old is not None and old.level != level:
            problems.append(("properties.level", f"{code} is stored as another level"))
        if level == res.UNIT_LEVEL_DISTRICT:
            if parent_code:
                problems.append(("properties.parent_code", "a district has no parent"))
        elif not parent_code:
            problems.append(("properties.parent_code", "is required below a district"))
        else:
            parent_level = (
                incoming[parent_code]["level"]
                if parent_code in incoming
                else (stored[parent_code].level if parent_code in stored else None)
            )
            if parent_code in rejected_codes or (
                parent_code in incoming and parent_code not in accepted
            ):
                problems.append(("properties.parent_code", f"parent {parent_code} was rejected"))
            elif parent_level is None:
                problems.append(
                    ("properties.parent_code", f"parent {parent_code!r} does not exist")
                )
            else:
                if parent_level != level - 1:
                    problems.append(
                        ("properties.parent_code", f"parent {parent_code} is not one level up")
                    )
                if not code.startswith(parent_code) or code == parent_code:
                    problems.append(
                        ("properties.code", f"does not extend its parent's ({parent_code})")
                    )
                elif level == res.UNIT_LEVEL_GRID and not re.fullmatch(
                    re.escape(parent_code) + r"\d{3}", code
                ):
                    problems.append(
                        ("properties.code", "a grid's code is its community's plus three digits")
                    )
                if parent_code not in widened:
                    parent_geom = (
                        accepted[parent_code]["_geom"]
                        if parent_code in accepted
                        else geom_of(parent_code)
                    )
                    widened[parent_code] = parent_geom.buffer(COVER_TOLERANCE)
                    shapely.prepare(widened[parent_code])
                if not widened[parent_code].covers(row["_geom"]):
                    problems.append(
                        ("geometry", f"boundary is not inside its parent {parent_code}")
                    )
        if problems:
            batch.rejected.append(Rejection(row["_row"], code, problems))
            continue
        accepted[code] = row
    return list(accepted.values()), stored


def _apply_units(
    conn: Connection, batch: Batch, ctx: _Context
) -> tuple[int, int, int, GridMap | None]:
    rows, stored = _check_units(conn, batch)
    if ctx.stop_here(batch):
        return 0, 0, 0, None
    new = [r for r in rows if r["code"] not in stored]
    changed = [
        r
        for r in rows
        if r["code"] in stored and any(getattr(stored[r["code"]], f) != r[f] for f in UNIT_FIELDS)
    ]
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in new + changed]
    tick = _Ticker(ctx.progress, "writing", len(clean))
    for batch_rows in helpers.chunks(clean[: len(new)], helpers.INSERT_BATCH):
        conn.execute(insert(tables.units), list(batch_rows))
        tick.step(len(batch_rows))
    if changed:
        u = tables.units
        stmt = (
            update(u)
            .where(u.c.code == bindparam("b_code"))
            .values({c: bindparam(c) for c in (*UNIT_FIELDS, "centroid_lat", "centroid_lon")})
        )
        cols = (*UNIT_FIELDS, "centroid_lat", "centroid_lon")
        conn.execute(
            stmt, [{"b_code": r["code"], **{c: r[c] for c in cols}} for r in clean[len(new) :]]
        )
        tick.step(len(changed))
    grid_map = None
    if new or changed:
        grid_map = GridMap(records.all_units(conn))
        _regrid_buildings(conn, grid_map)
    return len(new), len(changed), len(rows) - len(new) - len(changed), grid_map


def _regrid_buildings(conn: Connection, grid_map: GridMap) -> None:
    """After grids changed: every building's grid again, and what depends on it."""
    b = tables.buildings
    rows = list(conn.execute(select(b.c.code, b.c.lat, b.c.lon, b.c.grid_code)))
    codes = grid_map.locate_many([r.lat for r in rows], [r.lon for r in rows])
    moved = [
        {"b_code": r.code, "grid_code": g}
        for r, g in zip(rows, codes, strict=True)
        if g != r.grid_code
    ]
    if moved:
        conn.execute(
            update(b)
            .where(b.c.code == bindparam("b_code"))
            .values(grid_code=bindparam("grid_code")),
            moved,
        )
        _propagate_grids(conn, [m["b_code"] for m in moved])


def _propagate_grids(conn: Connection, building_codes: list[str]) -> None:
    """Households and persons of these buildings take the building's grid."""
    b, h, p = tables.buildings, tables.households, tables.persons
    for chunk in helpers.chunks(building_codes, helpers.IN_CHUNK):
        keys = list(chunk)
        grid_of = select(b.c.grid_code).where(b.c.code == h.c.building_code).scalar_subquery()
        conn.execute(update(h).where(h.c.building_code.in_(keys)).values(unit_code=grid_of))
        hh = select(h.c.id).where(h.c.building_code.in_(keys))
        unit_of = select(h.c.unit_code).where(h.c.id == p.c.household_id).scalar_subquery()
        conn.execute(update(p).where(p.c.household_id.in_(hh)).values(unit_code=unit_of))
