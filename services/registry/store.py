"""registry's tables and queries (SQLAlchemy Core)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    exists,
    func,
    insert,
    select,
)

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()

units = Table(
    "units",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", Integer, nullable=False),
    Column("type_name", String(16), nullable=False),
    Column("parent_code", String(32), nullable=False, default=""),
    Column("boundary_geojson", Text, nullable=False, default=""),
    Column("centroid_lat", Float, nullable=True),
    Column("centroid_lon", Float, nullable=True),
)
Index("ix_units_parent", units.c.parent_code, units.c.code)
Index("ix_units_level", units.c.level, units.c.code)

staff = Table(
    "staff",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", Integer, nullable=False),
    Column("phone", String(32), nullable=False, default=""),
    Column("unit_code", String(32), nullable=False, default=""),
    # A JSON array of strings, e.g. ["electrical"]; matched by its quoted token.
    Column("skills", Text, nullable=False, default="[]"),
)
Index("ix_staff_unit", staff.c.unit_code)

staff_grids = Table(
    "staff_grids",
    metadata,
    Column("staff_id", String(64), ForeignKey("staff.id"), primary_key=True),
    Column("grid_code", String(32), primary_key=True),
)
Index("ix_staff_grids_grid", staff_grids.c.grid_code)

departments = Table(
    "departments",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("district_code", String(32), nullable=False),
)

INSERT_BATCH = 500


def skills_json(skills: list[str]) -> str:
    return json.dumps(skills, ensure_ascii=False)


def is_empty(conn: Connection) -> bool:
    return conn.execute(select(func.count()).select_from(units)).scalar_one() == 0


def insert_all(
    conn: Connection,
    *,
    unit_rows: list[dict[str, Any]],
    staff_rows: list[dict[str, Any]],
    staff_grid_rows: list[dict[str, Any]],
    department_rows: list[dict[str, Any]],
) -> None:
    """Batched inserts inside the caller's transaction."""
    for table, rows in (
        (units, unit_rows),
        (departments, department_rows),
        (staff, staff_rows),
        (staff_grids, staff_grid_rows),
    ):
        for i in range(0, len(rows), INSERT_BATCH):
            conn.execute(insert(table), rows[i : i + INSERT_BATCH])


def all_units(conn: Connection) -> list[Any]:
    return list(conn.execute(select(units).order_by(units.c.code)))


def get_unit(conn: Connection, *, code: str) -> Any:
    return conn.execute(select(units).where(units.c.code == code)).first()


def list_units(
    conn: Connection, *, parent_code: str, level: int, after_code: str, limit: int
) -> list[Any]:
    q = select(units).order_by(units.c.code).limit(limit)
    if parent_code:
        q = q.where(units.c.parent_code == parent_code)
    if level:
        q = q.where(units.c.level == level)
    if after_code:
        q = q.where(units.c.code > after_code)
    return list(conn.execute(q))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_staff(
    conn: Connection,
    *,
    grid_code: str,
    unit_code: str,
    role: int,
    skill: str,
    after_id: str,
    limit: int,
) -> list[Any]:
    q = select(staff).order_by(staff.c.id).limit(limit)
    if grid_code:
        q = q.where(
            exists().where(
                staff_grids.c.staff_id == staff.c.id, staff_grids.c.grid_code == grid_code
            )
        )
    if unit_code:
        q = q.where(staff.c.unit_code == unit_code)
    if role:
        q = q.where(staff.c.role == role)
    if skill:
        token = _like_escape(json.dumps(skill, ensure_ascii=False))
        q = q.where(staff.c.skills.like(f"%{token}%", escape="\\"))
    if after_id:
        q = q.where(staff.c.id > after_id)
    return list(conn.execute(q))


def grids_of_staff(conn: Connection, *, staff_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {sid: [] for sid in staff_ids}
    if staff_ids:
        rows = conn.execute(
            select(staff_grids)
            .where(staff_grids.c.staff_id.in_(staff_ids))
            .order_by(staff_grids.c.staff_id, staff_grids.c.grid_code)
        )
        for r in rows:
            out[r.staff_id].append(r.grid_code)
    return out


def list_departments(conn: Connection, *, after_code: str, limit: int) -> list[Any]:
    q = select(departments).order_by(departments.c.code).limit(limit)
    if after_code:
        q = q.where(departments.c.code > after_code)
    return list(conn.execute(q))
