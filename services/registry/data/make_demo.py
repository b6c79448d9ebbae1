"""Writes demo-370402.json: a fictitious but plausible 市中区 for demos and tests.

    .venv/bin/python -m services.registry.data.make_demo

The map is a rectangular tessellation: the district is cut into streets, each street into
communities (or villages), each community into a rows × cols block of grids numbered in
reading order from its north-west corner (001, 002, …). Every cut is a coordinate written
below, so children share their parent's edges exactly: no gaps, no overlaps. The file is a
GeoJSON FeatureCollection (one Feature per unit, opens in any GIS tool) with two foreign
members, "departments" and "staff". Names and phone numbers are made up.

Next to it, the demo's base data as a district would import it (made with
services.registry.generate.populate, seeded): demo-370402-buildings.geojson,
demo-370402-households.csv and demo-370402-persons.csv — a few buildings per grid, their
households and residents, every one recorded (the audit of the demo finds nothing).

The article's places are where it puts them: 龙山路街道 with 辛庄、龙山、檀香社区 (the first
story), the inspection sites of the second (檀香苑、华西小区、龙宾路、文化四村、幸福小区、
公胜街, as the buildings of one grid each: ARTICLE_PLACES), 光明路街道 with 长乐社区 and
东塔村 (its party-branch story), 税郭镇 with its villages.

Fixed points the demo story relies on: 张胜起's home (lat 34.8605, lon 117.5585) lies in
grid 370402003001001 of 辛庄社区, looked after by 韩丽源; the 辛庄社区 electrician is
`staff-xinzhuang-electrician`. 张胜起 himself (an elderly man living alone, phone
13806325566) lives in 辛庄路12号院3号楼 2单元301室 there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from shapely.geometry import shape

OUT = Path(__file__).parent / "demo-370402.json"
HOME = (34.8605, 117.5585)
ZHANG_BUILDING = "370402003001001-B001"
ZHANG = ["张胜起", "", "男", "1946-03-12", "13806325566", ZHANG_BUILDING, "2", "301", "户主"]

Box = tuple[float, float, float, float]

DISTRICT = ("370402", "市中区", (117.50, 34.82, 117.62, 34.90))

# (code, name, boxes (west, south, east, north)): the street is the union of its boxes
# (光明路街道 is L-shaped: its villages lie east of its city communities); the kind
# (街道 / 镇) is the name's ending.
STREETS: list[tuple[str, str, list[Box]]] = [
    ("370402001", "中心街街道", [(117.50, 34.82, 117.55, 34.90)]),
    ("370402003", "龙山路街道", [(117.55, 34.85, 117.58, 34.90)]),
    ("370402004", "光明路街道", [(117.55, 34.82, 117.58, 34.85), (117.58, 34.82, 117.62, 34.84)]),
    ("370402101", "税郭镇", [(117.58, 34.84, 117.62, 34.90)]),
]
# (code, name, box, lon cuts, lat cuts): its grids are the cells between the cuts. The
# street is the code's first nine digits; the kind (社区 / 村) is the name's ending.
COMMUNITIES: list[tuple[str, str, Box, list[float], list[float]]] = [
    ("370402001001", "文化社区", (117.50, 34.86, 117.55, 34.90), [117.525], [34.88]),
    ("370402001002", "幸福社区", (117.50, 34.82, 117.55, 34.86), [117.517, 117.534], []),
    ("370402003001", "辛庄社区", (117.55, 34.85, 117.58, 34.87), [117.565], [34.858]),
    ("370402003002", "龙山社区", (117.55, 34.87, 117.58, 34.885), [117.56, 117.57], []),
    ("370402003003", "檀香社区", (117.55, 34.885, 117.58, 34.90), [117.56, 117.57], []),
    ("370402004001", "长乐社区", (117.55, 34.82, 117.565, 34.85), [], [34.83, 34.84]),
    ("370402004002", "光明社区", (117.565, 34.82, 117.58, 34.85), [117.5725], [34.835]),
    # 东塔村 belongs to 光明路街道 (the article's party-branch story: 光明路街道东塔村党支部).
    ("370402004201", "东塔村", (117.58, 34.82, 117.62, 34.84), [117.593, 117.607], []),
    ("370402101001", "税郭社区", (117.58, 34.84, 117.62, 34.86), [117.593, 117.607], []),
    ("370402101202", "西塔村", (117.58, 34.86, 117.62, 34.90), [117.60], [34.88]),
]

# The places of the article's second story (the civilised-city inspection of 28 November:
# 檀香苑、华西小区、龙宾路、文化四村、幸福小区、公胜街) as the buildings of one grid each:
# grid code → the compound or road its buildings' addresses name instead of a made-up one.
ARTICLE_PLACES = {
    "370402003003003": "檀香苑",  # 檀香社区
    "370402004002003": "华西小区",  # 光明社区
    "370402004001001": "龙宾路157号院",  # 长乐社区
    "370402001001003": "文化四村",  # 文化社区
    "370402001002001": "幸福小区",  # 幸福社区
    "370402003002001": "公胜街46号院",  # 龙山社区
}

DEPARTMENTS = [
    ("370402-D-POWER", "市中区供电服务中心", "electrical"),
    ("370402-D-CITYMGMT", "市中区城市管理局", "city_management"),
    ("370402-D-SANITATION", "市中区环境卫生管理处", "sanitation"),
    ("370402-D-MUNICIPAL", "市中区市政工程管理处", "municipal_repair"),
    ("370402-D-HRSS", "市中区人力资源和社会保障局", "employment"),
]

NUMERALS = "一二三四五六七八九十"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢唐冯于董程曹袁邓许傅沈曾彭吕苏卢"
GIVEN = [
    "秀英", "桂兰", "志强", "海燕", "建华", "春梅", "立新", "玉珍", "文静", "晓东",
    "红霞", "国庆", "丽娟", "德明", "淑芬", "永刚", "爱华", "明亮", "凤琴", "振宇",
    "慧敏", "长林", "雪梅", "宏伟", "婷婷", "金山", "素云", "俊杰", "翠萍", "保国",
]  # fmt: skip


class Names:
    """Deterministic, distinct made-up names."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)
        self.i = 0

    def next(self) -> str:
        while True:
            name = SURNAMES[self.i % len(SURNAMES)] + GIVEN[(self.i * 7) % len(GIVEN)]
            self.i += 1
            if name not in self.taken:
                self.taken.add(name)
                return name


def phone(staff_id: str) -> str:
    """A fictitious mobile number, stable per staff id: 13, 15 or 18 and nine digits."""
    h = int.from_bytes(hashlib.sha256(staff_id.encode()).digest()[:8], "big")
    return ("13", "15", "18")[h % 3] + f"{(h // 3) % 10**9:09d}"


def rect(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    """A GeoJSON Polygon, exterior ring counter-clockwise (RFC 7946)."""
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def kind(name: str) -> str:
    """街道, 镇, 社区 or 村: what the name ends with."""
    return next(k for k in ("街道", "镇", "社区", "村") if name.endswith(k))


def cells(bbox: Box, lon_cuts: list[float], lat_cuts: list[float]) -> list[Box]:
    """The rows × cols cells of `bbox`, in reading order from the north-west corner."""
    w, s, e, n = bbox
    xs = [w, *lon_cuts, e]
    ys = [n, *sorted(lat_cuts, reverse=True), s]
    return [
        (xs[c], ys[r + 1], xs[c + 1], ys[r]) for r in range(len(ys) - 1) for c in range(len(xs) - 1)
    ]


def union(boxes: list[Box]) -> dict[str, Any]:
    """The union of edge-sharing boxes as one GeoJSON Polygon, counter-clockwise."""
    from shapely import geometry, ops

    merged = ops.unary_union([geometry.box(*b) for b in boxes])
    ring = geometry.polygon.orient(merged, sign=1.0).exterior.coords
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def feature(
    code: str, name: str, level: str, type_name: str, parent: str, bbox: Box | list[Box]
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": code,
        "properties": {
            "code": code,
            "name": name,
            "level": level,
            "type_name": type_name,
            "parent_code": parent,
        },
        "geometry": union(bbox) if isinstance(bbox, list) else rect(*bbox),
    }


def build() -> dict[str, Any]:
    d_code, d_name, d_bbox = DISTRICT
    features = [feature(d_code, d_name, "district", "区", "", d_bbox)]
    names = Names({"韩丽源", "王建国"})
    staff: list[dict[str, Any]] = []

    def person(
        sid: str, name: str, role: str, unit: str, grids: list[str], skills: list[str]
    ) -> None:
        staff.append(
            {
                "id": sid,
                "name": name,
                "role": role,
                "phone": phone(sid),
                "unit_code": unit,
                "grid_codes": grids,
                "skills": skills,
            }
        )

    person(f"staff-cc-{d_code}", names.next(), "command_centre", d_code, [], [])
    for s_code, s_name, s_bbox in STREETS:
        features.append(feature(s_code, s_name, "street", kind(s_name), d_code, s_bbox))
        person(f"staff-cc-{s_code}", names.next(), "command_centre", s_code, [], [])
        for c_code, c_name, c_bbox, lon_cuts, lat_cuts in COMMUNITIES:
            if c_code[:9] != s_code:
                continue
            features.append(feature(c_code, c_name, "community", kind(c_name), s_code, c_bbox))
            grid_codes = []
            for i, g_bbox in enumerate(cells(c_bbox, lon_cuts, lat_cuts), start=1):
                g_code = f"{c_code}{i:03d}"
                g_name = f"{c_name}第{NUMERALS[i - 1]}网格"
                grid_codes.append(g_code)
                features.append(feature(g_code, g_name, "grid", "网格", c_code, g_bbox))
                if g_code == "370402003001001":
                    person("staff-hanliyuan", "韩丽源", "grid_manager", c_code, [g_code], [])
                else:
                    person(f"staff-gm-{g_code}", names.next(), "grid_manager", c_code, [g_code], [])
            person(f"staff-ga-{c_code}", names.next(), "grid_assistant", c_code, grid_codes, [])
    person(
        "staff-xinzhuang-electrician", "王建国", "unit_staff", "370402003001", [], ["electrical"]
    )
    person("staff-changle-plumber", names.next(), "unit_staff", "370402004001", [], ["plumbing"])
    departments = []
    for code, name, skill in DEPARTMENTS:
        departments.append({"code": code, "name": name, "district_code": d_code})
        person(f"staff-{code.lower()}", names.next(), "department_staff", code, [], [skill])
    return {
        "type": "FeatureCollection",
        "name": "lianxin-demo-370402",
        "description": "Fictitious demo district 市中区 for Lianxin; made by make_demo.py.",
        "features": features,
        "departments": departments,
        "staff": sorted(staff, key=lambda p: p["id"]),
    }


def dump(doc: dict[str, Any]) -> str:
    """JSON with one feature, department or staff member per line (diffs stay readable)."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    for key, value in doc.items():
        if isinstance(value, list):
            items = ",\n".join(f"  {one(v)}" for v in value)
            lines.append(f" {one(key)}: [\n{items}\n ],")
        else:
            lines.append(f" {one(key)}: {one(value)},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join([*lines, "}"]) + "\n"


def ledgers(doc: dict[str, Any]) -> tuple[dict[str, Any], list[list[str]], list[list[str]]]:
    """Buildings, households and persons of the demo grids, with 张胜起 at home."""
    from services.registry import generate, idcard

    by_code = {f["properties"]["code"]: f["properties"] for f in doc["features"]}
    grids = []
    for f in doc["features"]:
        p = f["properties"]
        if p["level"] == "grid":
            community = by_code[p["parent_code"]]
            street = by_code[community["parent_code"]]
            grids.append((p["code"], shape(f["geometry"]), street["name"] + community["name"]))
    n = len(grids)
    feats, households, persons = generate.populate(
        grids,
        buildings=2 * n,
        households=6 * n,
        persons=14 * n,
        rng=random.Random(370402),
        today=date(2026, 11, 1),
    )
    for f in feats:  # the article's places, where it puts them
        props = f["properties"]
        place = ARTICLE_PLACES.get(props["code"].split("-")[0])
        if place is not None:
            prefix = props["address"][: props["address"].index("社区") + 2]
            props["address"] = f"{prefix}{place}{props['name']}"
    home = next(f for f in feats if f["properties"]["code"] == ZHANG_BUILDING)
    home["properties"].update(name="3号楼", address="龙山路街道辛庄社区辛庄路12号院3号楼")
    home["geometry"] = {"type": "Point", "coordinates": [HOME[1], HOME[0]]}
    zhang = list(ZHANG)
    zhang[1] = idcard.make("370402", date(1946, 3, 12), 31)
    households.insert(0, [ZHANG_BUILDING, "2", "301", "张胜起"])
    persons.insert(0, [*zhang, "独居老人、退休人员"])
    return {"type": "FeatureCollection", "features": feats}, households, persons


def csv_text(headers: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(headers)
    w.writerows(rows)
    return out.getvalue()


def main() -> None:
    from services.registry import generate
    from services.registry.demo import parse  # validates; raises on any broken rule

    doc = build()
    parse(doc)
    OUT.write_text(dump(doc), encoding="utf-8")
    print(f"wrote {OUT} ({len(doc['features'])} units, {len(doc['staff'])} staff)")
    buildings, households, persons = ledgers(doc)
    stem = OUT.with_suffix("")
    Path(f"{stem}-buildings.geojson").write_text(dump(buildings), encoding="utf-8")
    Path(f"{stem}-households.csv").write_text(
        csv_text(generate.HOUSEHOLD_HEADERS, households), encoding="utf-8"
    )
    Path(f"{stem}-persons.csv").write_text(
        csv_text(generate.PERSON_HEADERS, persons), encoding="utf-8"
    )
    print(
        f"wrote {len(buildings['features'])} buildings, {len(households)} households, "
        f"{len(persons)} persons next to it"
    )


if __name__ == "__main__":
    main()
