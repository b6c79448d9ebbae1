"""The area summary's counts and the coverage audit's SQL half (the land half is in
services/registry/audit.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    func,
    or_,
    select,
)

from services.registry.store.helpers import under
from services.registry.store.tables import buildings, households, persons, units


def area_counts(conn: Connection, *, prefix: str, tags: Sequence[int]) -> dict[str, Any]:
    """Grids, buildings, households, persons and persons per tag below `prefix`."""
    from lianxin.registry.v1 import resources_pb2 as res

    grids = conn.execute(
        select(func.count())
        .select_from(units)
        .where(units.c.level == res.UNIT_LEVEL_GRID, under(units.c.code, prefix))
    ).scalar_one()
    n_buildings = conn.execute(
        select(func.count()).select_from(buildings).where(under(buildings.c.grid_code, prefix))
    ).scalar_one()
    n_households = conn.execute(
        select(func.count()).select_from(households).where(under(households.c.unit_code, prefix))
    ).scalar_one()
    tag_sums = [
        func.coalesce(
            func.sum(case((persons.c.tags.op("&")(1 << (t - 1)) != 0, 1), else_=0)), 0
        ).label(f"t{t}")
        for t in tags
    ]
    row = conn.execute(
        select(func.count().label("population"), *tag_sums).where(
            under(persons.c.unit_code, prefix)
        )
    ).one()
    return {
        "grids": grids,
        "buildings": n_buildings,
        "households": n_households,
        "population": row.population,
        "tags": {t: int(getattr(row, f"t{t}")) for t in tags},
    }


# --- coverage audit (the SQL half; the land half is in audit.py) -------------------------


def buildings_without_grid(conn: Connection) -> list[Any]:
    return list(
        conn.execute(
            select(buildings.c.code, buildings.c.address, buildings.c.lat, buildings.c.lon)
            .where(buildings.c.grid_code == "")
            .order_by(buildings.c.code)
        )
    )


def _no_household(prefix: str) -> ColumnElement[bool]:
    return and_(
        buildings.c.grid_code != "",
        under(buildings.c.grid_code, prefix),
        ~exists().where(households.c.building_code == buildings.c.code),
    )


def _no_person(prefix: str) -> ColumnElement[bool]:
    return and_(
        under(households.c.unit_code, prefix),
        ~exists().where(persons.c.household_id == households.c.id),
    )


def _homeless(prefix: str, *, root: bool) -> ColumnElement[bool]:
    scope = under(persons.c.unit_code, prefix)
    if root:
        scope = or_(scope, persons.c.unit_code == "")
    return and_(persons.c.household_id.is_(None), scope)


def audit_counts(conn: Connection, *, prefix: str, root: bool) -> tuple[int, int, int]:
    """(buildings without household, households without person, persons without
    household) in the unit."""
    b = conn.execute(select(func.count()).select_from(buildings).where(_no_household(prefix)))
    h = conn.execute(select(func.count()).select_from(households).where(_no_person(prefix)))
    p = conn.execute(select(func.count()).select_from(persons).where(_homeless(prefix, root=root)))
    return b.scalar_one(), h.scalar_one(), p.scalar_one()


def buildings_without_household(
    conn: Connection, *, prefix: str, after: str, limit: int
) -> list[Any]:
    q = (
        select(buildings.c.code, buildings.c.address, buildings.c.grid_code)
        .where(_no_household(prefix), buildings.c.code > after)
        .order_by(buildings.c.code)
        .limit(limit)
    )
    return list(conn.execute(q))


def households_without_person(
    conn: Connection, *, prefix: str, after: str, limit: int
) -> list[Any]:
    q = (
        select(households.c.id, households.c.unit_code)
        .where(_no_person(prefix), households.c.id > after)
        .order_by(households.c.id)
        .limit(limit)
    )
    return list(conn.execute(q))


def persons_without_household(
    conn: Connection, *, prefix: str, root: bool, after: str, limit: int
) -> list[Any]:
    q = (
        select(persons.c.id, persons.c.name, persons.c.unit_code)
        .where(_homeless(prefix, root=root), persons.c.id > after)
        .order_by(persons.c.id)
        .limit(limit)
    )
    return list(conn.execute(q))
