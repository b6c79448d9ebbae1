"""Queries per resource: units, staff and departments; buildings, households and persons;
the access log; cases of persons."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    exists,
    func,
    insert,
    select,
)

from services.registry.store.helpers import IN_CHUNK, INSERT_BATCH, _like_escape, chunks, under
from services.registry.store.tables import (
    access_log,
    buildings,
    departments,
    households,
    person_cases,
    persons,
    staff,
    staff_grids,
    units,
)

# --- units, staff, departments -----------------------------------------------------------


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
        for batch in chunks(rows, INSERT_BATCH):
            conn.execute(insert(table), list(batch))


def all_units(conn: Connection) -> list[Any]:
    return list(conn.execute(select(units).order_by(units.c.code)))


def get_unit(conn: Connection, *, code: str) -> Any:
    return conn.execute(select(units).where(units.c.code == code)).first()


def units_under(conn: Connection, *, prefix: str) -> list[Any]:
    return list(
        conn.execute(select(units).where(under(units.c.code, prefix)).order_by(units.c.code))
    )


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


# --- buildings, households, persons ------------------------------------------------------


def get_building(conn: Connection, *, code: str) -> Any:
    return conn.execute(select(buildings).where(buildings.c.code == code)).first()


def get_household(conn: Connection, *, household_id: str) -> Any:
    return conn.execute(select(households).where(households.c.id == household_id)).first()


def get_person(conn: Connection, *, person_id: str) -> Any:
    return conn.execute(select(persons).where(persons.c.id == person_id)).first()


def households_of_building(conn: Connection, *, building_code: str) -> list[Any]:
    return list(
        conn.execute(
            select(households)
            .where(households.c.building_code == building_code)
            .order_by(households.c.unit_number, households.c.room, households.c.id)
        )
    )


def persons_of_households(conn: Connection, *, household_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {h: [] for h in household_ids}
    for chunk in chunks(household_ids, IN_CHUNK):
        rows = conn.execute(
            select(persons)
            .where(persons.c.household_id.in_(list(chunk)))
            .order_by(persons.c.household_id, persons.c.id)
        )
        for r in rows:
            out[r.household_id].append(r)
    return out


def count_households(conn: Connection, *, building_codes: list[str]) -> dict[str, int]:
    out = dict.fromkeys(building_codes, 0)
    for chunk in chunks(building_codes, IN_CHUNK):
        rows = conn.execute(
            select(households.c.building_code, func.count())
            .where(households.c.building_code.in_(list(chunk)))
            .group_by(households.c.building_code)
        )
        out.update({code: n for code, n in rows})
    return out


def count_persons(conn: Connection, *, household_ids: list[str]) -> dict[str, int]:
    out = dict.fromkeys(household_ids, 0)
    for chunk in chunks(household_ids, IN_CHUNK):
        rows = conn.execute(
            select(persons.c.household_id, func.count())
            .where(persons.c.household_id.in_(list(chunk)))
            .group_by(persons.c.household_id)
        )
        out.update({hid: n for hid, n in rows})
    return out


def buildings_by_code(conn: Connection, *, codes: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in chunks(sorted(set(codes)), IN_CHUNK):
        for r in conn.execute(select(buildings).where(buildings.c.code.in_(list(chunk)))):
            out[r.code] = r
    return out


# --- the access log ----------------------------------------------------------------------


def log_access(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append `rows` to the access log's hash chain (services/registry/accesslog.py)."""
    from services.registry import accesslog

    accesslog.append(conn, rows)


def list_access(
    conn: Connection, *, subject_id: str, actor: str, before_id: int | None, limit: int
) -> list[Any]:
    q = select(access_log).order_by(access_log.c.id.desc()).limit(limit)
    if subject_id:
        q = q.where(access_log.c.subject_id == subject_id)
    if actor:
        q = q.where(access_log.c.actor == actor)
    if before_id is not None:
        q = q.where(access_log.c.id < before_id)
    return list(conn.execute(q))


# --- cases of persons --------------------------------------------------------------------


def persons_with_phone(conn: Connection, *, phone: str) -> list[Any]:
    if not phone:
        return []
    tail = phone[-4:]
    return list(
        conn.execute(
            select(persons.c.id, persons.c.name).where(
                persons.c.phone_tail == tail, persons.c.phone == phone
            )
        )
    )


def link_case(
    conn: Connection, *, person_ids: list[str], case_id: str, category: str, received_at: datetime
) -> None:
    from services.common.bus import insert_ignore

    for pid in person_ids:
        insert_ignore(
            conn,
            person_cases,
            {
                "person_id": pid,
                "case_id": case_id,
                "category": category,
                "received_at": received_at,
            },
        )


def cases_of_person(conn: Connection, *, person_id: str, limit: int) -> list[Any]:
    return list(
        conn.execute(
            select(person_cases)
            .where(person_cases.c.person_id == person_id)
            .order_by(person_cases.c.received_at.desc(), person_cases.c.case_id.desc())
            .limit(limit)
        )
    )
