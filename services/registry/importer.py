"""Bulk import (一口采集): units, grids and buildings from GeoJSON; households and persons
from the CSV or XLSX ledgers a community office keeps, with their Chinese column headers.

Two steps:
1. `read()` — no database: the file is parsed and every row checked on its own (ID number
   check digit and birth date, phone, tags, geometry validity, duplicates in the file).
   A file that cannot be read at all (not JSON, a required column missing) raises
   InvalidArgument at once.
2. `apply(conn, batch, …)` — inside one transaction: rows are checked against what is
   stored (parents, buildings, households), compared with the stored rows by natural key
   (unit code, building code, "<building>/<unit>/<room>", ID number) and only new or
   changed rows are written. Re-importing a file changes nothing. When any row is rejected
   and `allow_partial` is off, nothing is written: the report lists every rejected row
   with its reasons. What depends on what changed is brought along in the same
   transaction: buildings' grids after a grid changed, households' and persons' units,
   the search entries, and one `registry.<kind>_imported` event in the outbox.

Ledger columns (a header may carry a leading * as templates mark required ones):

    households  楼栋编码*  单元  室号*  户主姓名
    persons     姓名*  公民身份号码* (or 身份证号/身份证号码)  性别  出生日期
                联系电话 (or 手机号码)  楼栋编码  单元  室号  与户主关系  人员类别  所属社区

人员类别 lists tags separated by 、 , ; or spaces: 独居老人 残疾人 失业人员 退休人员 低保户
(低收入) 求职人员 农民工 — see TAG_LABELS for every accepted word.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import Connection, bindparam, insert, select, update

from lianxin.events.v1 import event_pb2
from lianxin.registry.v1 import resources_pb2 as res
from services.common import bus
from services.common.errors import InvalidArgument
from services.common.ids import uuid7
from services.common.pii import mask_id_number
from services.registry import geo, idcard, store
from services.registry.gridmap import GridMap

Progress = Callable[[str, int, int], None]

MAX_REPORTED = 1000
SQLITE_CACHE_KIB = 256 * 1024
PROGRESS_EVERY = 5000
INSERT_CHUNK = 10_000  # rows per driver call (and per progress step) when writing
BULK_ROWS = 20_000  # a load this big into an empty table builds its indexes afterwards
LEVELS: dict[str, int] = {
    "district": res.UNIT_LEVEL_DISTRICT,
    "street": res.UNIT_LEVEL_STREET,
    "community": res.UNIT_LEVEL_COMMUNITY,
    "grid": res.UNIT_LEVEL_GRID,
}
DEFAULT_TYPE_NAMES = {
    res.UNIT_LEVEL_DISTRICT: "区",
    res.UNIT_LEVEL_STREET: "街道",
    res.UNIT_LEVEL_COMMUNITY: "社区",
    res.UNIT_LEVEL_GRID: "网格",
}
# A child may stick out of its parent by this much (degrees, ~1 cm) and still be inside.
COVER_TOLERANCE = 1e-7

CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{9,11}$")
TAG_SPLIT = re.compile(r"[、,，;；/\s]+")

TAG_LABELS: dict[str, int] = {
    "独居老人": res.PERSON_TAG_ELDERLY_LIVING_ALONE,
    "空巢独居老人": res.PERSON_TAG_ELDERLY_LIVING_ALONE,
    "独居": res.PERSON_TAG_ELDERLY_LIVING_ALONE,
    "残疾人": res.PERSON_TAG_DISABLED,
    "残疾": res.PERSON_TAG_DISABLED,
    "失业人员": res.PERSON_TAG_UNEMPLOYED,
    "失业": res.PERSON_TAG_UNEMPLOYED,
    "退休人员": res.PERSON_TAG_RETIRED,
    "退休": res.PERSON_TAG_RETIRED,
    "低保户": res.PERSON_TAG_LOW_INCOME,
    "低保": res.PERSON_TAG_LOW_INCOME,
    "低收入": res.PERSON_TAG_LOW_INCOME,
    "低收入家庭": res.PERSON_TAG_LOW_INCOME,
    "求职人员": res.PERSON_TAG_JOB_SEEKER,
    "求职": res.PERSON_TAG_JOB_SEEKER,
    "求职者": res.PERSON_TAG_JOB_SEEKER,
    "农民工": res.PERSON_TAG_MIGRANT_WORKER,
    "进城务工人员": res.PERSON_TAG_MIGRANT_WORKER,
    "外出务工": res.PERSON_TAG_MIGRANT_WORKER,
}
# The word each tag is written with (the first one listed above).
TAG_NAMES: dict[int, str] = {}
for _label, _tag in TAG_LABELS.items():
    TAG_NAMES.setdefault(_tag, _label)

HOUSEHOLD_COLUMNS: dict[str, str] = {
    "楼栋编码": "building_code",
    "单元": "unit_number",
    "单元号": "unit_number",
    "室号": "room",
    "房号": "room",
    "门牌号": "room",
    "户主姓名": "head_name",
    "户主": "head_name",
}
PERSON_COLUMNS: dict[str, str] = {
    "姓名": "name",
    "公民身份号码": "id_number",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "性别": "gender",
    "出生日期": "birth_date",
    "联系电话": "phone",
    "手机号码": "phone",
    "手机号": "phone",
    "楼栋编码": "building_code",
    "单元": "unit_number",
    "单元号": "unit_number",
    "室号": "room",
    "房号": "room",
    "门牌号": "room",
    "与户主关系": "relation",
    "人员类别": "tags",
    "人员标签": "tags",
    "所属社区": "unit_code",
    "所属网格": "unit_code",
}
REQUIRED = {
    res.IMPORT_KIND_HOUSEHOLDS: ("building_code", "room"),
    res.IMPORT_KIND_PERSONS: ("name", "id_number"),
}
KIND_WORDS = {
    res.IMPORT_KIND_UNITS: "units",
    res.IMPORT_KIND_BUILDINGS: "buildings",
    res.IMPORT_KIND_HOUSEHOLDS: "households",
    res.IMPORT_KIND_PERSONS: "persons",
}


def tags_to_list(bits: int) -> list[int]:
    return [t for t in TAG_NAMES if bits & (1 << (t - 1))]


def tags_to_bits(tags: Sequence[int]) -> int:
    out = 0
    for t in tags:
        out |= 1 << (t - 1)
    return out


@dataclass
class Rejection:
    row: int
    key: str
    problems: list[tuple[str, str]]


@dataclass
class Batch:
    """A file read and checked row by row, waiting for `apply()`."""

    kind: int
    file_name: str
    total: int
    rows: list[dict[str, Any]]  # valid so far; "_row" is the row number
    rejected: list[Rejection] = field(default_factory=list)
    label: dict[str, str] = field(default_factory=dict)  # field → header as in the file


@dataclass
class Outcome:
    report: res.ImportReport
    grid_map: GridMap | None = None  # the new map, when units changed
    staged: bool = False  # an event was written to the outbox


def _noop(stage: str, done: int, total: int) -> None:
    return None


class _Ticker:
    """Calls `progress` every PROGRESS_EVERY rows and at the end of a stage."""

    def __init__(self, progress: Progress, stage: str, total: int) -> None:
        self.progress, self.stage, self.total, self.done = progress, stage, total, 0
        progress(stage, 0, total)

    def step(self, n: int = 1) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += n
        if self.done // PROGRESS_EVERY != before or self.done >= self.total:
            self.progress(self.stage, min(self.done, self.total), self.total)


# --- reading -----------------------------------------------------------------------------


def guess_format(file_name: str) -> int:
    lower = file_name.lower()
    if lower.endswith((".geojson", ".json")):
        return res.IMPORT_FORMAT_GEOJSON
    if lower.endswith(".csv"):
        return res.IMPORT_FORMAT_CSV
    if lower.endswith(".xlsx"):
        return res.IMPORT_FORMAT_XLSX
    return res.IMPORT_FORMAT_UNSPECIFIED


def read(
    *,
    kind: int,
    fmt: int,
    file_name: str,
    content: bytes,
    progress: Progress = _noop,
    today: date | None = None,
) -> Batch:
    """Parse `content` and check each row on its own. Raises InvalidArgument when the
    file as a whole cannot be used."""
    fmt = fmt or guess_format(file_name)
    v: list[tuple[str, str]] = []
    if kind not in KIND_WORDS:
        v.append(("kind", "must be one of UNITS, BUILDINGS, HOUSEHOLDS, PERSONS"))
    if not content:
        v.append(("content", "is empty"))
    geojson_kinds = (res.IMPORT_KIND_UNITS, res.IMPORT_KIND_BUILDINGS)
    if kind in geojson_kinds and fmt != res.IMPORT_FORMAT_GEOJSON:
        v.append(("format", "units and buildings are imported from GeoJSON"))
    if kind not in geojson_kinds and fmt not in (res.IMPORT_FORMAT_CSV, res.IMPORT_FORMAT_XLSX):
        v.append(("format", "households and persons are imported from CSV or XLSX"))
    if v:
        raise InvalidArgument(v)
    if kind == res.IMPORT_KIND_UNITS:
        return read_units(_features(content), file_name=file_name, progress=progress)
    if kind == res.IMPORT_KIND_BUILDINGS:
        return read_buildings(_features(content), file_name=file_name, progress=progress)
    headers, rows = _table(fmt, content)
    if kind == res.IMPORT_KIND_HOUSEHOLDS:
        return _read_ledger(
            kind, headers, rows, HOUSEHOLD_COLUMNS, _household_row, file_name, progress, today
        )
    return _read_ledger(
        kind, headers, rows, PERSON_COLUMNS, _person_row, file_name, progress, today
    )


def _features(content: bytes) -> list[Any]:
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument([("content", f"is not JSON: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InvalidArgument([("content", "must be a GeoJSON FeatureCollection")])
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidArgument([("content", "features must be a list")])
    return features


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# --- units -------------------------------------------------------------------------------


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
    stored = {r.code: r for r in store.all_units(conn)}
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
    for batch_rows in store.chunks(clean[: len(new)], store.INSERT_BATCH):
        conn.execute(insert(store.units), list(batch_rows))
        tick.step(len(batch_rows))
    if changed:
        u = store.units
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
        grid_map = GridMap(store.all_units(conn))
        _regrid_buildings(conn, grid_map)
    return len(new), len(changed), len(rows) - len(new) - len(changed), grid_map


def _regrid_buildings(conn: Connection, grid_map: GridMap) -> None:
    """After grids changed: every building's grid again, and what depends on it."""
    b = store.buildings
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
    b, h, p = store.buildings, store.households, store.persons
    for chunk in store.chunks(building_codes, store.IN_CHUNK):
        keys = list(chunk)
        grid_of = select(b.c.grid_code).where(b.c.code == h.c.building_code).scalar_subquery()
        conn.execute(update(h).where(h.c.building_code.in_(keys)).values(unit_code=grid_of))
        hh = select(h.c.id).where(h.c.building_code.in_(keys))
        unit_of = select(h.c.unit_code).where(h.c.id == p.c.household_id).scalar_subquery()
        conn.execute(update(p).where(p.c.household_id.in_(hh)).values(unit_code=unit_of))


# --- buildings ---------------------------------------------------------------------------


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
    grid_map = GridMap(store.all_units(conn), fast=False)
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
    t = store.buildings
    stored = store.lookup(conn, list(t.c), t.c.code, (r["code"] for r in accepted))
    new = [r for r in accepted if r["code"] not in stored]
    changed = [
        r
        for r in accepted
        if r["code"] in stored
        and any(getattr(stored[r["code"]], f) != r[f] for f in BUILDING_FIELDS)
    ]
    now = ctx.now
    tick = _Ticker(ctx.progress, "writing", len(new) + len(changed))
    was_empty = store.is_table_empty(conn, t)
    stamps = {"created_at": now, "updated_at": now}
    for chunk in store.chunks(new, store.INSERT_BATCH):
        store.bulk_insert(conn, t, chunk, keys=BUILDING_KEYS, extra=stamps)
        tick.step(len(chunk))
    renamed = [
        r["code"]
        for r in changed
        if (r["name"], r["address"]) != (stored[r["code"]].name, stored[r["code"]].address)
    ]
    store.search_forget(conn, t, renamed)
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
        store.search_rebuild(conn, t)
    else:
        store.search_learn(conn, t, [r["code"] for r in new] + renamed)
    return len(new), len(changed), len(accepted) - len(new) - len(changed)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


# --- ledgers (CSV / XLSX) ----------------------------------------------------------------


def _table(fmt: int, content: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    if fmt == res.IMPORT_FORMAT_XLSX:
        return _xlsx(content)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidArgument([("content", "is neither UTF-8 nor GB18030 text")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise InvalidArgument([("content", "has no header row")]) from None
    except csv.Error as exc:
        raise InvalidArgument([("content", f"is not CSV: {exc}")]) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for values in reader:
                yield reader.line_num, list(values)
        except csv.Error as exc:
            raise InvalidArgument([(f"rows[{reader.line_num}]", f"is not CSV: {exc}")]) from None

    return headers, rows()


def _xlsx(content: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidArgument([("content", f"is not an XLSX workbook: {exc}")]) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        headers = [_text(h) for h in next(it)]
    except StopIteration:
        raise InvalidArgument([("content", "the first sheet is empty")]) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        for i, values in enumerate(it, start=2):
            yield i, list(values)
        wb.close()

    return headers, rows()


def _read_ledger(
    kind: int,
    headers: list[str],
    rows: Iterator[tuple[int, list[Any]]],
    columns: dict[str, str],
    check: Callable[..., tuple[dict[str, Any] | None, list[tuple[str, str]], str]],
    file_name: str,
    progress: Progress,
    today: date | None,
) -> Batch:
    where: dict[str, int] = {}
    label: dict[str, str] = {}
    for i, h in enumerate(headers):
        name = _text(h).lstrip("*＊").strip().replace(" ", "")
        target = columns.get(name)
        if target and target not in where:
            where[target], label[target] = i, name
    missing = [f for f in REQUIRED[kind] if f not in where]
    if missing:
        want = {f: next(h for h, t in columns.items() if t == f) for f in missing}
        raise InvalidArgument(
            [("content", f"the header row has no {want[f]} column") for f in missing]
        )
    materialised = list(rows)
    batch = Batch(kind, file_name, 0, [], label=label)
    keys: dict[str, int] = {}
    tick = _Ticker(progress, "reading", len(materialised))
    day = today or date.today()
    fields = list(where.items())
    # Every known field as stripped text ("" when absent); typed cells of a workbook
    # (numbers, dates) are passed along too, for the checks that care.
    blank = {f: "" for f in set(columns.values())}
    for line, values in materialised:
        tick.step()
        if not any(map(_text, values)):
            continue
        batch.total += 1
        n = len(values)
        cells = blank.copy()
        typed = False
        for f, i in fields:
            if i < n:
                v = values[i]
                if type(v) is str:
                    cells[f] = v.strip()
                else:
                    cells[f] = _text(v)
                    typed = typed or v is not None
        raw = {f: values[i] for f, i in fields if i < n} if typed else None
        row, problems, key = check(cells, raw, day)
        if key and key in keys and not problems:
            problems.append((_natural_key_field(kind), f"repeats row {keys[key]}"))
        if problems:
            shown = mask_id_number(key) if kind == res.IMPORT_KIND_PERSONS else key
            batch.rejected.append(
                Rejection(line, shown, [(label.get(f, f), d) for f, d in problems])
            )
            continue
        assert row is not None
        keys[key] = line
        row["_row"] = line
        batch.rows.append(row)
    return batch


def _natural_key_field(kind: int) -> str:
    return "id_number" if kind == res.IMPORT_KIND_PERSONS else "room"


def _household_key(
    cells: dict[str, str], problems: list[tuple[str, str]], *, required: bool
) -> str | None:
    building, unit, room = cells["building_code"], cells["unit_number"], cells["room"]
    if not required and not building and not room and not unit:
        return None
    if not CODE.match(building):
        problems.append(("building_code", "is required: letters, digits, - and _"))
    if len(unit) > 16 or "/" in unit:
        problems.append(("unit_number", "must be at most 16 characters, without /"))
    if not room or len(room) > 32 or "/" in room:
        problems.append(("room", "is required, at most 32 characters, without /"))
    return f"{building}/{unit}/{room}"


def _household_row(
    cells: dict[str, str], raw: dict[str, Any] | None, today: date
) -> tuple[dict[str, Any] | None, list[tuple[str, str]], str]:
    problems: list[tuple[str, str]] = []
    key = _household_key(cells, problems, required=True) or ""
    head = cells["head_name"]
    if len(head) > 100:
        problems.append(("head_name", "must be at most 100 characters"))
    if problems:
        return None, problems, key
    building, unit, room = key.split("/")
    return (
        {
            "id": key,
            "building_code": building,
            "unit_number": unit,
            "room": room,
            "head_name": head,
        },
        problems,
        key,
    )


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    text = text.replace("/", "-").replace(".", "-")
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _person_row(
    cells: dict[str, str], raw: dict[str, Any] | None, today: date
) -> tuple[dict[str, Any] | None, list[tuple[str, str]], str]:
    problems: list[tuple[str, str]] = []
    name = cells["name"]
    if not name or len(name) > 50:
        problems.append(("name", "is required, at most 50 characters"))
    number = cells["id_number"].upper()
    parsed = None
    if raw and isinstance(raw.get("id_number"), (int, float)) and len(number) >= 16:
        problems.append(
            ("id_number", "is stored as a number, which loses digits: format the column as text")
        )
    else:
        try:
            parsed = idcard.parse(number, today=today)
        except idcard.InvalidIdNumber as exc:
            problems.append(("id_number", str(exc)))
    gender = cells["gender"]
    if gender and parsed and gender not in (parsed.gender, parsed.gender + "性"):
        problems.append(("gender", f"says {gender}, the ID number says {parsed.gender}"))
    born_text = cells["birth_date"]
    if born_text and not (parsed and born_text == parsed.birth_date.isoformat()):
        born = _date(raw["birth_date"] if raw and "birth_date" in raw else born_text)
        if born is None:
            problems.append(("birth_date", "is not a date (YYYY-MM-DD)"))
        elif parsed and born != parsed.birth_date:
            problems.append(
                (
                    "birth_date",
                    f"is {born.isoformat()}, the ID number says {parsed.birth_date.isoformat()}",
                )
            )
    phone = cells["phone"]
    if not phone.isdigit():
        phone = re.sub(r"[\s-]", "", phone)
    if phone.startswith("+86"):
        phone = phone[3:]
    if phone and not (MOBILE.match(phone) or LANDLINE.match(phone)):
        problems.append(("phone", "must be an 11-digit mobile number or a landline with area code"))
    relation = cells["relation"]
    if len(relation) > 20:
        problems.append(("relation", "must be at most 20 characters"))
    tags = 0
    for word in TAG_SPLIT.split(cells["tags"]) if cells["tags"] else ():
        if not word:
            continue
        tag = TAG_LABELS.get(word)
        if tag is None:
            problems.append(
                ("tags", f"{word} is not a known category ({'、'.join(TAG_NAMES.values())})")
            )
        else:
            tags |= 1 << (tag - 1)
    household = _household_key(cells, problems, required=False)
    unit_code = cells["unit_code"]
    if unit_code and (not unit_code.isdigit() or len(unit_code) > 32):
        problems.append(("unit_code", "must be a unit code (digits)"))
    if problems or parsed is None:
        return None, problems, number
    return (
        {
            "id_number": parsed.number,
            "name": name,
            "phone": phone,
            "gender": parsed.gender,
            "birth_date": parsed.birth_date,
            "household_id": household,
            "relation": relation,
            "ledger_unit_code": unit_code,
            "tags": tags,
            "phone_tail": phone[-4:],
            "id_tail": parsed.number[-4:],
        },
        problems,
        parsed.number,
    )


def _apply_households(conn: Connection, batch: Batch, ctx: _Context) -> tuple[int, int, int]:
    b = store.buildings
    found = store.lookup(
        conn, [b.c.code, b.c.grid_code], b.c.code, (r["building_code"] for r in batch.rows)
    )
    tick = _Ticker(ctx.progress, "validating", len(batch.rows))
    accepted = []
    for r in batch.rows:
        tick.step()
        building = found.get(r["building_code"])
        if building is None:
            batch.rejected.append(
                Rejection(
                    r["_row"],
                    r["id"],
                    [(batch.label.get("building_code", "楼栋编码"), "no such building")],
                )
            )
            continue
        r["unit_code"] = building.grid_code
        accepted.append(r)
    if ctx.stop_here(batch):
        return 0, 0, 0
    h = store.households
    stored = store.lookup(conn, [h.c.id, h.c.head_name], h.c.id, (r["id"] for r in accepted))
    new = [r for r in accepted if r["id"] not in stored]
    changed = [
        r for r in accepted if r["id"] in stored and stored[r["id"]].head_name != r["head_name"]
    ]
    now = ctx.now
    tick = _Ticker(ctx.progress, "writing", len(new) + len(changed))
    bulk = len(new) >= BULK_ROWS and store.is_table_empty(conn, h)
    stamps = {"created_at": now, "updated_at": now}
    with store.indexes_deferred(conn, h, when=bulk):
        for chunk in store.chunks(new, INSERT_CHUNK):
            store.bulk_insert(conn, h, chunk, keys=HOUSEHOLD_KEYS, extra=stamps)
            tick.step(len(chunk))
    if changed:
        conn.execute(
            update(h)
            .where(h.c.id == bindparam("b_id"))
            .values(head_name=bindparam("head_name"), updated_at=bindparam("updated_at")),
            [{"b_id": r["id"], "head_name": r["head_name"], "updated_at": now} for r in changed],
        )
        tick.step(len(changed))
    return len(new), len(changed), len(accepted) - len(new) - len(changed)


PERSON_FIELDS = (
    "name",
    "phone",
    "household_id",
    "relation",
    "unit_code",
    "ledger_unit_code",
    "tags",
)
PERSON_KEYS = (
    "id",
    "id_number",
    "name",
    "phone",
    "gender",
    "birth_date",
    "household_id",
    "relation",
    "unit_code",
    "ledger_unit_code",
    "tags",
    "phone_tail",
    "id_tail",
)
HOUSEHOLD_KEYS = ("id", "building_code", "unit_number", "room", "head_name", "unit_code")
BUILDING_KEYS = ("code", "name", "address", "lat", "lon", "footprint_geojson", "grid_code")


def _apply_persons(conn: Connection, batch: Batch, ctx: _Context) -> tuple[int, int, int]:
    h, p = store.households, store.persons
    found = store.lookup(
        conn,
        [h.c.id, h.c.unit_code],
        h.c.id,
        (r["household_id"] for r in batch.rows if r["household_id"]),
    )
    homes = {k: r.unit_code for k, r in found.items()}
    units = {r.code for r in conn.execute(select(store.units.c.code))}
    tick = _Ticker(ctx.progress, "validating", len(batch.rows))
    accepted = []
    for r in batch.rows:
        tick.step()
        problems = []
        if r["household_id"] and r["household_id"] not in homes:
            problems.append(
                (
                    batch.label.get("room", "室号"),
                    f"no household {r['household_id']} (import households first)",
                )
            )
        if r["ledger_unit_code"] and r["ledger_unit_code"] not in units:
            problems.append((batch.label.get("unit_code", "所属社区"), "no such unit"))
        if problems:
            batch.rejected.append(Rejection(r["_row"], mask_id_number(r["id_number"]), problems))
            continue
        r["unit_code"] = homes[r["household_id"]] if r["household_id"] else r["ledger_unit_code"]
        accepted.append(r)
    if ctx.stop_here(batch):
        return 0, 0, 0
    stored = _stored_persons(conn, [r["id_number"] for r in accepted])
    new, changed = [], []
    ids = _person_ids()
    for r in accepted:
        old = stored.get(r["id_number"])
        if old is None:
            r["id"] = next(ids)
            new.append(r)
        elif any(getattr(old, f) != r[f] for f in PERSON_FIELDS):
            r["id"] = old.id
            changed.append(r)
    now = ctx.now
    tick = _Ticker(ctx.progress, "writing", len(new) + len(changed))
    was_empty = not stored and store.is_table_empty(conn, p)
    bulk = len(new) >= BULK_ROWS and was_empty
    stamps = {"created_at": now, "updated_at": now}
    with store.indexes_deferred(conn, p, when=bulk):
        for chunk in store.chunks(new, INSERT_CHUNK):
            store.bulk_insert(conn, p, chunk, keys=PERSON_KEYS, extra=stamps)
            tick.step(len(chunk))
    renamed = [r["id"] for r in changed if stored[r["id_number"]].name != r["name"]]
    store.search_forget(conn, p, renamed)
    for chunk in store.chunks(changed, store.INSERT_BATCH):
        conn.execute(
            update(p)
            .where(p.c.id == bindparam("b_id"))
            .values({f: bindparam(f) for f in (*PERSON_FIELDS, "phone_tail", "updated_at")}),
            [
                {
                    "b_id": r["id"],
                    "updated_at": now,
                    "phone_tail": r["phone_tail"],
                    **{f: r[f] for f in PERSON_FIELDS},
                }
                for r in chunk
            ],
        )
        tick.step(len(chunk))
    ctx.progress("indexing", 0, len(new) + len(renamed))
    if was_empty and new:
        store.search_rebuild(conn, p)
    else:
        store.search_learn(conn, p, [r["id"] for r in new] + renamed)
    ctx.progress("indexing", len(new) + len(renamed), len(new) + len(renamed))
    return len(new), len(changed), len(accepted) - len(new) - len(changed)


def _person_ids() -> Iterator[str]:
    """Fresh person ids, ordered by time: "p-" + the first 80 bits of a UUIDv7 made now
    (time in ms, sequence, random) + a 32-bit counter. A UUIDv7 per person would cost
    more than the rest of a row's insert."""
    base = uuid7().replace("-", "")[:20]
    return (f"p-{base}{i:08x}" for i in itertools.count())


def _stored_persons(conn: Connection, numbers: list[str]) -> dict[str, Any]:
    p = store.persons
    cols = [p.c.id, p.c.id_number, *(p.c[f] for f in PERSON_FIELDS)]
    return store.lookup(conn, cols, p.c.id_number, numbers)


# --- applying ----------------------------------------------------------------------------


@dataclass
class _Context:
    allow_partial: bool
    validate_only: bool
    progress: Progress
    now: datetime

    def stop_here(self, batch: Batch) -> bool:
        """After the checks: write nothing (a dry run, or rows rejected in strict mode)."""
        return self.validate_only or (bool(batch.rejected) and not self.allow_partial)


def apply(
    conn: Connection,
    batch: Batch,
    *,
    actor: str,
    allow_partial: bool = False,
    validate_only: bool = False,
    progress: Progress = _noop,
    now: datetime,
    import_id: str | None = None,
    traceparent: str | None = None,
) -> Outcome:
    """Check `batch` against the stored data and write it, inside the caller's
    transaction. Writes nothing when `validate_only`, or when a row is rejected and
    `allow_partial` is off."""
    # The writer may run a job twice (alone, after its group rolled back): start from the
    # rows as read every time.
    batch = replace(batch, rejected=list(batch.rejected))
    ctx = _Context(allow_partial, validate_only, progress, now)
    if conn.dialect.name == "sqlite":
        # Index pages of a big import stay in memory (the default cache is 2 MB).
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    grid_map = None
    if ctx.stop_here(batch):
        inserted = updated = unchanged = 0
        # Still look at the rows against the store, so the report is complete.
        _check_only(conn, batch)
    elif batch.kind == res.IMPORT_KIND_UNITS:
        inserted, updated, unchanged, grid_map = _apply_units(conn, batch, ctx)
    elif batch.kind == res.IMPORT_KIND_BUILDINGS:
        inserted, updated, unchanged = _apply_buildings(conn, batch, ctx)
    elif batch.kind == res.IMPORT_KIND_HOUSEHOLDS:
        inserted, updated, unchanged = _apply_households(conn, batch, ctx)
    else:
        inserted, updated, unchanged = _apply_persons(conn, batch, ctx)
    written = not ctx.stop_here(batch)
    if not written:
        inserted = updated = unchanged = 0
    report = res.ImportReport(
        import_id=import_id or uuid7(),
        kind=batch.kind,
        total_rows=batch.total,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        rejected_count=len(batch.rejected),
        written=written,
    )
    for r in sorted(batch.rejected, key=lambda r: r.row)[:MAX_REPORTED]:
        report.rejected.add(
            row=r.row,
            key=r.key,
            problems=[res.RowProblem(field=f, description=d) for f, d in r.problems],
        )
    staged = False
    if written and (inserted or updated):
        conn.execute(
            insert(store.import_runs).values(
                id=report.import_id,
                kind=batch.kind,
                actor=actor[:128],
                file_name=batch.file_name[:300],
                total_rows=batch.total,
                inserted=inserted,
                updated=updated,
                unchanged=unchanged,
                rejected=len(batch.rejected),
                written=True,
                finished_at=now,
            )
        )
        summary = res.ImportSummary(
            import_id=report.import_id,
            kind=batch.kind,
            inserted=inserted,
            updated=updated,
            rejected=len(batch.rejected),
            actor=actor,
        )
        event = bus.new_event(
            f"registry.{KIND_WORDS[batch.kind]}_imported",
            source="lianxin/registry",
            registry_imported=event_pb2.RegistryImported(summary=summary),
        )
        bus.stage(conn, store.outbox, [bus.Staged(event, traceparent)])
        staged = True
    return Outcome(report=report, grid_map=grid_map, staged=staged)


def _check_only(conn: Connection, batch: Batch) -> None:
    """The checks against the store without writing (for the report of a refused file)."""
    ctx = _Context(allow_partial=False, validate_only=True, progress=_noop, now=datetime.now())
    if batch.kind == res.IMPORT_KIND_UNITS:
        _check_units(conn, batch)
    elif batch.kind == res.IMPORT_KIND_BUILDINGS:
        _apply_buildings(conn, batch, ctx)
    elif batch.kind == res.IMPORT_KIND_HOUSEHOLDS:
        _apply_households(conn, batch, ctx)
    else:
        _apply_persons(conn, batch, ctx)
