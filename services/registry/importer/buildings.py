"""Buildings from GeoJSON: reading, locating each in its grid, writing, and the search
entries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, bindparam, update

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
from services.registry.importer.units import _propagate_grids
from services.registry.importer.vocabulary import CODE
from services.registry.store import helpers, records, search, tables


def read_buildings(
    features: list[Any], *, file_name: str = "", progress: Progress = _noop
) -> Batch:
    batch = Batch(res.IMPORT_KIND_BUILDINGS, file_name, len(features), [])
    seen: dict[str, int] = {}
    tick = _Ticker(progress, "reading", len(features))
    for i, f in enumerate(features):
        tick.step()
        problems: list[tuple[str, str]] = []
        p = (f.get("properties") if isinstance(f, dict) else None) or {}
        if not isinstance(p, dict):
            p = {}
        if not isinstance(f, dict) or f.get("type") != "Feature":
            problems.append(("type", "must be a GeoJSON Feature"))
        code = _text(p.get("code"))
        if not CODE.match(code):
            problems.append(
                ("properties.code", "is required: letters, digits, - and _ (at most 64)")
            )
        elif code in seen:
            problems.append(("properties.code", f"repeats feature {seen[code]}"))
        address = _text(p.get("address"))
        if not address or len(address) > 300:
            problems.append(("properties.address", "is required, at most 300 characters"))
        name = _text(p.get("name"))
        if len(name) > 100:
            problems.append(("properties.name", "must be at most 100 characters"))
        geom = None
        try:
            geom = geo.read_geometry(
                f.get("geometry") if isinstance(f, dict) else None,
                allowed=("Point", *geo.POLYGONAL),
            )
        except geo.GeometryError as exc:
            problems.append(("geometry", str(exc)))
        if code and code not in seen:
            seen[code] = i
        if problems:
            batch.rejected.append(Rejection(i, code, problems))
            continue
        assert geom is not None
        if geom.geom_type == "Point":
            lat, lon, footprint = round(geom.y, 7), round(geom.x, 7), ""
        else:
            lat, lon = geo.inside_point(geom)
            footprint = json.dumps(f["geometry"], separators=(",", ":"))
        batch.rows.append(
            {
                "_row": i,
                "_grid": _text(p.get("grid_code")),
                "code": code,
                "name": name,
                "address": address,
                "lat": lat,
                "lon": lon,
                "footprint_geojson": footprint,
            }
        )
    return batch


BUILDING_FIELDS = ("name", "address", "lat", "lon", "footprint_geojson", "grid_code")


def _apply_buildings(conn: Connection, batch: Batch, ctx: _Context) -> tuple[int, int, int]:
    grid_map = GridMap(records.all_units(conn), fast=False)
    rows = batch.rows
    grids = grid_map.locate_many([r["lat"] for r in rows], [r["lon"] for r in rows])
    tick = _Ticker(ctx.progress, "validating", len(rows))
    accepted = []
    for r, g in zip(rows, grids, strict=True):
        tick.step()
        if r["_grid"] and r["_grid"] != g:
            where = f"grid {g}" if g else "no grid"
            batch.rejected.append(
                Rejection(
                    r["_row"],
                    r["code"],
                    [("properties.grid_code", f"is {r['_grid']}, but the point lies in {where}")],
                )
            )
            continue
        r["grid_code"] = g
        accepted.append(r)
    if ctx.stop_here(batch):
        return 0, 0, 0
    t = tables.buildings
    stored = helpers.lookup(conn, list(t.c), t.c.code, (r["code"] for r in accepted))
    new = [r for r in accepted if r["code"] not in stored]
    changed = [
        r
        for r in accepted
        if r["code"] in stored
        and any(getattr(stored[r["code"]], f) != r[f] for f in BUILDING_FIELDS)
    ]
    now = ctx.now
    tick = _Ticker(ctx.progress, "writing", len(new) + len(changed))
    was_empty = helpers.is_table_empty(conn, t)
    stamps = {"created_at": now, "updated_at": now}
    for chunk in helpers.chunks(new, helpers.INSERT_BATCH):
        helpers.bulk_insert(conn, t, chunk, keys=BUILDING_KEYS, extra=stamps)
        tick.step(len(chunk))
    renamed = [
        r["code"]
        for r in changed
        if (r["name"], r["address"]) != (stored[r["code"]].name, stored[r["code"]].address)
    ]
    search.search_forget(conn, t, renamed)
    if changed:
        conn.execute(
            update(t)
            .where(t.c.code == bindparam("b_code"))
            .values({f: bindparam(f) for f in (*BUILDING_FIELDS, "updated_at")}),
            [
                {"b_code": r["code"], "updated_at": now, **{f: r[f] for f in BUILDING_FIELDS}}
                for r in changed
            ],
        )
        tick.step(len(changed))
        moved = [
            r["code"]
            for r in changed
            if r["grid_code"] != stored[r["code"]].grid_code
            or r["address"] != stored[r["code"]].address
        ]
        _propagate_grids(conn, moved)
    if was_empty and new:
        search.search_rebuild(conn, t)
    else:
        search.search_learn(conn, t, [r["code"] for r in new] + renamed)
    return len(new), len(changed), len(accepted) - len(new) - len(changed)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


BUILDING_KEYS = ("code", "name", "address", "lat", "lon", "footprint_geojson", "grid_code")
