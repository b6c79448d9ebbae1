"""A realistic, fictitious district for scale tests and benchmarks, written as the files
a district would import: units.geojson, buildings.geojson, households.csv, persons.csv.

    .venv/bin/python -m services.registry.generate OUT_DIR            # the full district:
        # 2,000 grids, 20,000 buildings, 150,000 households, 500,000 persons
    .venv/bin/python -m services.registry.generate OUT_DIR --small    # 8 grids, for tests

Deterministic for a seed. The land is a lattice of cells whose inner corners are jittered
(grids are irregular quadrilaterals sharing their corners exactly, so they tile the
district with no gap and no overlap); communities, streets and the district are unions of
their grids. Every building has households and every household persons, so the audit of
a generated district finds nothing. Persons get valid ID numbers (GB 11643 check digit),
unique mobile numbers, households of one to six, and the ledger tags in plausible shares
(elderly living alone only in one-person households of the over-65s, and so on).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon, mapping

from services.registry import idcard

HOUSEHOLD_HEADERS = ["楼栋编码", "单元", "室号", "户主姓名"]
PERSON_HEADERS = [
    "姓名",
    "公民身份号码",
    "性别",
    "出生日期",
    "联系电话",
    "楼栋编码",
    "单元",
    "室号",
    "与户主关系",
    "人员类别",
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉海燕玲丹宁鹏飞鑫"
    "波宇浩凯琳雪梅晨阳欣怡佳俊峰亮成林春兰淑珍凤云福德胜利庆祥"
)


def _words(text: str) -> list[str]:
    return text.split()


STREET_NAMES = _words("中心街 龙山路 光明路 文化路 永安 西王庄 齐村 孟庄 税郭 光明东")
ROADS = _words(
    "建设路 解放路 青檀路 振兴路 君山路 文化路 光明路 枣庄路 龙头路 新华路 学院路 和平路"
)
COMMUNITY_WORDS = _words(
    "辛庄 龙山 檀香 长乐 光明 幸福 文化 和谐 安居 福泉 东湖 西苑 南园 北辰 新城"
)


@dataclass(frozen=True)
class Layout:
    """streets_x × streets_y streets, each communities_x × communities_y communities, each
    grids_x × grids_y grids."""

    streets: tuple[int, int] = (5, 2)
    communities: tuple[int, int] = (2, 5)
    grids: tuple[int, int] = (5, 4)
    buildings: int = 20_000
    households: int = 150_000
    persons: int = 500_000
    # South-west corner and cell size in degrees (about 240 m × 250 m at 34.8° N).
    origin: tuple[float, float] = (117.45, 34.78)  # lon, lat
    cell: tuple[float, float] = (0.002626, 0.00226)
    district: tuple[str, str] = ("370402", "市中区")

    @property
    def grid_count(self) -> int:
        return (
            self.streets[0]
            * self.streets[1]
            * self.communities[0]
            * self.communities[1]
            * self.grids[0]
            * self.grids[1]
        )


FULL = Layout()
SMALL = Layout(
    streets=(1, 1), communities=(2, 1), grids=(2, 2), buildings=24, households=120, persons=300
)


def _feature(code: str, name: str, level: str, type_name: str, parent: str, geom: Any) -> dict:
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
        "geometry": mapping(shapely.set_precision(geom, 1e-7)),
    }


def units(layout: Layout, rng: random.Random) -> tuple[list[dict], list[tuple[str, Polygon, str]]]:
    """The unit features, and (grid code, polygon, address prefix) per grid."""
    sx, sy = layout.streets
    cx, cy = layout.communities
    gx, gy = layout.grids
    nx, ny = sx * cx * gx, sy * cy * gy
    x0, y0 = layout.origin
    dx, dy = layout.cell
    corner: dict[tuple[int, int], tuple[float, float]] = {}
    for i in range(nx + 1):
        for j in range(ny + 1):
            jx = 0.0 if i in (0, nx) else rng.uniform(-0.25, 0.25) * dx
            jy = 0.0 if j in (0, ny) else rng.uniform(-0.25, 0.25) * dy
            corner[i, j] = (round(x0 + i * dx + jx, 7), round(y0 + j * dy + jy, 7))

    def cell(i: int, j: int) -> Polygon:
        return Polygon([corner[i, j], corner[i + 1, j], corner[i + 1, j + 1], corner[i, j + 1]])

    d_code, d_name = layout.district
    features: list[dict] = []
    grids: list[tuple[str, Polygon, str]] = []
    street_geoms = []
    community_no = 0
    for s in range(sx * sy):
        si, sj = s % sx, s // sx
        s_code = f"{d_code}{s + 1:03d}"
        s_name = STREET_NAMES[s % len(STREET_NAMES)] + ("街道" if s < 8 else "镇")
        s_feats: list[dict] = []
        community_geoms = []
        for c in range(cx * cy):
            ci, cj = c % cx, c // cx
            c_code = f"{s_code}{c + 1:03d}"
            word = COMMUNITY_WORDS[community_no % len(COMMUNITY_WORDS)]
            c_name = f"{word}{'' if community_no < len(COMMUNITY_WORDS) else community_no}社区"
            community_no += 1
            cells = []
            for g in range(gx * gy):
                gi, gj = g % gx, gy - 1 - g // gx  # numbered from the north-west
                i = (si * cx + ci) * gx + gi
                j = (sj * cy + cj) * gy + gj
                poly = cell(i, j)
                cells.append(poly)
                g_code = f"{c_code}{g + 1:03d}"
                s_feats.append(
                    _feature(g_code, f"{c_name}第{g + 1}网格", "grid", "网格", c_code, poly)
                )
                grids.append((g_code, poly, f"{s_name}{c_name}"))
            c_geom = shapely.union_all(cells)
            community_geoms.append(c_geom)
            s_feats.insert(0, _feature(c_code, c_name, "community", "社区", s_code, c_geom))
        s_geom = shapely.union_all(community_geoms)
        street_geoms.append(s_geom)
        features.append(
            _feature(s_code, s_name, "street", s_name[-2:] if s < 8 else "镇", d_code, s_geom)
        )
        features.extend(s_feats)
    features.insert(
        0, _feature(d_code, d_name, "district", "区", "", shapely.union_all(street_geoms))
    )
    return features, grids


def _share(total: int, parts: int, rng: random.Random, spread: int) -> list[int]:
    """`total` split into `parts` counts of at least 1, varying by about ±spread."""
    base = total // parts
    counts = [base] * parts
    for i in range(total - base * parts):
        counts[i % parts] += 1
    for i in range(parts):  # move units between neighbours, keeping each ≥ 1
        j = rng.randrange(parts)
        move = rng.randint(0, spread)
        move = min(move, counts[i] - 1)
        counts[i] -= move
        counts[j] += move
    return counts


def _point_in(poly: Polygon, rng: random.Random) -> tuple[float, float]:
    minx, miny, maxx, maxy = poly.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(poly, x, y):
            return round(x, 7), round(y, 7)


class People:
    """Names, unique ID numbers and unique phones."""

    def __init__(self, rng: random.Random, region: str) -> None:
        self.rng = rng
        self.region = region
        self.ids: set[str] = set()
        self.phones: set[str] = set()

    def name(self, surname: str | None = None) -> str:
        r = self.rng
        given = r.choice(GIVEN) + (r.choice(GIVEN) if r.random() < 0.7 else "")
        return (surname or r.choice(SURNAMES)) + given

    def id_number(self, born: date, male: bool) -> str:
        """A number not given before (the birth date moves on a day when one is full)."""
        for attempt in range(10_000):
            seq = self.rng.randrange(0, 1000)
            if (seq % 2 == 1) != male:
                seq = (seq + 1) % 1000
            day = born + timedelta(days=attempt // 20)
            number = idcard.make(self.region, day, seq)
            if number not in self.ids:
                self.ids.add(number)
                return number
        raise RuntimeError("no ID number left")

    def phone(self) -> str:
        while True:
            p = self.rng.choice(("13", "15", "18", "17")) + f"{self.rng.randrange(10**9):09d}"
            if p not in self.phones:
                self.phones.add(p)
                return p


def populate(
    grids: list[tuple[str, Polygon, str]],
    *,
    buildings: int,
    households: int,
    persons: int,
    rng: random.Random,
    region: str = "370402",
    today: date = date(2026, 11, 1),
) -> tuple[list[dict], list[list[str]], list[list[str]]]:
    """Building features, household rows and person rows for `grids`."""
    people = People(rng, region)
    per_grid = _share(buildings, len(grids), rng, 2)
    b_feats: list[dict] = []
    b_keys: list[str] = []
    for (g_code, poly, prefix), n in zip(grids, per_grid, strict=True):
        road = rng.choice(ROADS)
        yard = rng.randint(1, 199)
        for k in range(1, n + 1):
            code = f"{g_code}-B{k:03d}"
            x, y = _point_in(poly, rng)
            geometry: dict[str, Any]
            if rng.random() < 0.5:
                w, h = 0.00009, 0.00005  # about 8 m × 5 m each way
                geometry = mapping(shapely.box(x - w, y - h, x + w, y + h))
            else:
                geometry = {"type": "Point", "coordinates": [x, y]}
            b_feats.append(
                {
                    "type": "Feature",
                    "id": code,
                    "properties": {
                        "code": code,
                        "name": f"{k}号楼",
                        "address": f"{prefix}{road}{yard}号院{k}号楼",
                    },
                    "geometry": geometry,
                }
            )
            b_keys.append(code)
    h_rows: list[list[str]] = []
    h_sizes = _share(persons, households, rng, 2)
    per_building = _share(households, len(b_keys), rng, 3)
    p_rows: list[list[str]] = []
    hi = 0
    for code, n in zip(b_keys, per_building, strict=True):
        stairs = 1 if n <= 6 else (2 if n <= 16 else 3)
        for k in range(n):
            unit = str(k % stairs + 1)
            idx = k // stairs
            room = f"{idx // 2 + 1}{idx % 2 + 1:02d}"
            size = h_sizes[hi]
            hi += 1
            members = _family(people, size, today, rng)
            h_rows.append([code, unit, room, members[0][0]])
            for name, number, gender, born, phone, relation, tags in members:
                p_rows.append(
                    [
                        name,
                        number,
                        gender,
                        born.isoformat(),
                        phone,
                        code,
                        unit,
                        room,
                        relation,
                        tags,
                    ]
                )
    return b_feats, h_rows, p_rows


def _family(
    people: People, size: int, today: date, rng: random.Random
) -> list[tuple[str, str, str, date, str, str, str]]:
    """A household: head first, then spouse, children, a parent."""

    def born(age_lo: int, age_hi: int) -> date:
        return today - timedelta(days=rng.randint(age_lo * 365 + 1, age_hi * 365 + 300))

    out = []
    head_age_hi = 90 if size == 1 else 75
    head_born = born(22, head_age_hi)
    male = rng.random() < 0.55
    surname = rng.choice(SURNAMES)
    plan = [("户主", head_born, male, surname)]
    if size >= 2:
        spouse_born = head_born + timedelta(days=rng.randint(-1500, 1500))
        if spouse_born > today - timedelta(days=20 * 365):
            spouse_born = today - timedelta(days=20 * 365 + rng.randint(30, 2000))
        plan.append(("配偶", spouse_born, not male, None))
    for _ in range(size - len(plan)):
        if rng.random() < 0.8 and (today - head_born).days > 40 * 365:
            child = head_born + timedelta(days=rng.randint(22 * 365, 38 * 365))
            if child > today - timedelta(days=200):
                child = today - timedelta(days=rng.randint(200, 4000))
            plan.append(("子女", child, rng.random() < 0.5, surname))
        else:
            parent = head_born - timedelta(days=rng.randint(20 * 365, 32 * 365))
            if parent < date(1931, 1, 1):
                parent = date(1931, 1, 1) + timedelta(days=rng.randint(0, 4000))
            plan.append(("父母", parent, rng.random() < 0.5, None))
    for relation, b, is_male, sur in plan:
        age = idcard.age_on(b, today)
        number = people.id_number(b, is_male)
        phone = people.phone() if age >= 16 else ""
        out.append(
            (
                people.name(sur),
                number,
                "男" if is_male else "女",
                b,
                phone,
                relation,
                _tags(age, alone=size == 1, rng=rng),
            )
        )
    return out


def _tags(age: int, *, alone: bool, rng: random.Random) -> str:
    tags = []
    if alone and age >= 65 and rng.random() < 0.6:
        tags.append("独居老人")
    if age >= 60 and rng.random() < 0.8:
        tags.append("退休人员")
    if rng.random() < 0.02:
        tags.append("残疾人")
    if 18 <= age < 60:
        r = rng.random()
        if r < 0.03:
            tags.append("失业人员")
            if rng.random() < 0.6:
                tags.append("求职人员")
        elif r < 0.045:
            tags.append("求职人员")
        if rng.random() < 0.04:
            tags.append("农民工")
    if rng.random() < 0.02:
        tags.append("低保户")
    return "、".join(tags)


def write(
    out: Path,
    layout: Layout = FULL,
    *,
    seed: int = 370402,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Path]:
    """Generate the district into `out`; the paths of the four files."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    unit_feats, grids = units(layout, rng)
    log(f"units: {len(unit_feats)} ({len(grids)} grids) in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    b_feats, h_rows, p_rows = populate(
        grids,
        buildings=layout.buildings,
        households=layout.households,
        persons=layout.persons,
        rng=rng,
        region=layout.district[0],
    )
    log(
        f"{len(b_feats)} buildings, {len(h_rows)} households, {len(p_rows)} persons "
        f"in {time.perf_counter() - t:.1f}s"
    )
    paths = {
        "units": out / "units.geojson",
        "buildings": out / "buildings.geojson",
        "households": out / "households.csv",
        "persons": out / "persons.csv",
    }
    for key, feats in (("units", unit_feats), ("buildings", b_feats)):
        doc = {"type": "FeatureCollection", "features": feats}
        paths[key].write_text(
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
    for key, headers, rows in (
        ("households", HOUSEHOLD_HEADERS, h_rows),
        ("persons", PERSON_HEADERS, p_rows),
    ):
        with paths[key].open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(headers)
            w.writerows(rows)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write the four files into")
    parser.add_argument("--small", action="store_true", help="8 grids (for tests)")
    parser.add_argument("--seed", type=int, default=370402)
    args = parser.parse_args(argv)
    paths = write(args.out, SMALL if args.small else FULL, seed=args.seed, log=print)
    for p in paths.values():
        print(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
