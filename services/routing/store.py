"""routing's tables and queries (SQLAlchemy Core)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from services.common.bus import bus_tables

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("status", Integer, nullable=False),
    Column("level", Integer, nullable=False, default=0),
    Column("category", String(64), nullable=False),
    Column("channel", Integer, nullable=False, default=0),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("grid_code", String(32), nullable=False, default=""),
    Column("community_code", String(32), nullable=False, default=""),
    Column("street_code", String(32), nullable=False, default=""),
    Column("district_code", String(32), nullable=False, default=""),
    Column("assigned_unit_code", String(64), nullable=False, default=""),
    Column("assigned_unit_name", String(100), nullable=False, default=""),
    Column("assignee_staff_id", String(64), nullable=False, default=""),
    Column("deadline_time", DateTime(timezone=True), nullable=True),
    Column("result", Text, nullable=False, default=""),
    Column("filing_error", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_cases_assigned_unit_deadline", cases.c.assigned_unit_code, cases.c.deadline_time)

history = Table(
    "history",
    metadata,
    Column("case_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("transition", Integer, nullable=False),
    Column("from_status", Integer, nullable=False),
    Column("to_status", Integer, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("unit_code", String(64), nullable=False, default=""),
    Column("photos", JSON, nullable=False, default=list),
    Column("time", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("case_id", "sequence"),
)

requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("transition", Integer, nullable=False),
)

outbox, inbox = bus_tables(metadata)


def get_case(conn: Connection, *, case_id: str) -> Any:
    return conn.execute(select(cases).where(cases.c.id == case_id)).first()


def get_history(conn: Connection, *, case_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(history).where(history.c.case_id == case_id).order_by(history.c.sequence)
        )
    )


def insert_case(conn: Connection, *, row: dict[str, Any]) -> None:
    conn.execute(insert(cases).values(row))


def update_case(conn: Connection, *, case_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(values))


def insert_history(conn: Connection, *, row: dict[str, Any]) -> None:
    conn.execute(insert(history).values(row))


def seen_request(conn: Connection, *, request_id: str) -> Any:
    return conn.execute(select(requests).where(requests.c.request_id == request_id)).first()


def record_request(conn: Connection, *, request_id: str, case_id: str, transition: int) -> None:
    conn.execute(
        insert(requests).values(request_id=request_id, case_id=case_id, transition=transition)
    )


def work_queue(
    conn: Connection,
    *,
    unit_code: str,
    statuses: list[int],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Any]:
    """Open cases of a unit and the units below it, oldest deadline first."""
    prefix = unit_code.replace("%", "").replace("_", "") + "%"
    deadline_key = cases.c.deadline_time
    q = (
        select(cases)
        .where(cases.c.assigned_unit_code.like(prefix), cases.c.status.in_(statuses))
        .order_by(deadline_key, cases.c.id)
        .limit(limit)
    )
    if after is not None:
        after_deadline, after_id = after
        q = q.where(
            (deadline_key > after_deadline)
            | ((deadline_key == after_deadline) & (cases.c.id > after_id))
        )
    return list(conn.execute(q))
