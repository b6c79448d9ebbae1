"""routing's tables and queries (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)

from services.common.bus import bus_tables

MIGRATIONS = Path(__file__).parent / "migrations"

# Sorts after every real deadline, so cases without one come last in a queue.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

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
    # --- 0002: the three-level workflow, SLA clocks, dispositions, duplicates ---------
    Column("community_name", String(100), nullable=False, default="", server_default=""),
    Column("street_name", String(100), nullable=False, default="", server_default=""),
    Column("district_name", String(100), nullable=False, default="", server_default=""),
    # SLA clock of the current deadline: when each stage is due, and whether it fired.
    # `next_due_at` is the earliest stage not fired yet (NULL: no clock runs), so the
    # scheduler finds due cases with one indexed range scan.
    Column("reminder_at", DateTime(timezone=True), nullable=True),
    Column("escalate_at", DateTime(timezone=True), nullable=True),
    Column("next_due_at", DateTime(timezone=True), nullable=True),
    Column("reminded", Boolean, nullable=False, default=False, server_default=false()),
    Column("overdue", Boolean, nullable=False, default=False, server_default=false()),
    Column("supervised", Boolean, nullable=False, default=False, server_default=false()),
    Column("pending_extension_hours", Float, nullable=True),
    Column("disposition", Integer, nullable=False, default=0, server_default=text("0")),
    Column("satisfaction", Integer, nullable=False, default=0, server_default=text("0")),
    Column("rework_count", Integer, nullable=False, default=0, server_default=text("0")),
    Column("reopen_count", Integer, nullable=False, default=0, server_default=text("0")),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("merged_into", String(36), nullable=True),
    # --- 0003: the W3C traceparent of the case's first trace (filing); later steps link
    # to it, so a case's whole story is found from any of its traces.
    Column("origin_traceparent", String(100), nullable=True),
)
Index("ix_cases_assigned_unit_deadline", cases.c.assigned_unit_code, cases.c.deadline_time)
Index("ix_cases_next_due_at", cases.c.next_due_at)
Index("ix_cases_category_created_at", cases.c.category, cases.c.created_at)
Index("ix_cases_merged_into", cases.c.merged_into)
Index("ix_cases_grid_code_created_at", cases.c.grid_code, cases.c.created_at)

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
    # --- 0002 ----------------------------------------------------------------------
    Column("level", Integer, nullable=False, default=0, server_default=text("0")),
    Column("deadline_time", DateTime(timezone=True), nullable=True),
    Column("disposition", Integer, nullable=False, default=0, server_default=text("0")),
    Column("satisfaction", Integer, nullable=False, default=0, server_default=text("0")),
    Column("assisting_units", JSON, nullable=True),
    PrimaryKeyConstraint("case_id", "sequence"),
)
Index("ix_history_unit_code", history.c.unit_code)

# 协办: units or departments assisting the lead unit of a case (一口受理、分口办理).
assisting = Table(
    "assisting",
    metadata,
    Column("case_id", String(36), nullable=False),
    Column("unit_code", String(64), nullable=False),
    Column("unit_name", String(100), nullable=False, default=""),
    PrimaryKeyConstraint("case_id", "unit_code"),
)
Index("ix_assisting_unit_code", assisting.c.unit_code)

requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("transition", Integer, nullable=False),
)

outbox, inbox = bus_tables(metadata)


def get_case(conn: Connection, *, case_id: str, for_update: bool = False) -> Any:
    """A case; `for_update` locks its row on PostgreSQL (SQLite has one writer anyway)."""
    q = select(cases).where(cases.c.id == case_id)
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


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


# --- co-handling -------------------------------------------------------------------------


def get_assisting(conn: Connection, *, case_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(assisting).where(assisting.c.case_id == case_id).order_by(assisting.c.unit_code)
        )
    )


def assisting_of(conn: Connection, *, case_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {cid: [] for cid in case_ids}
    if case_ids:
        rows = conn.execute(
            select(assisting.c.case_id, assisting.c.unit_code)
            .where(assisting.c.case_id.in_(list(case_ids)))
            .order_by(assisting.c.unit_code)
        )
        for r in rows:
            out[r.case_id].append(r.unit_code)
    return out


def set_assisting(conn: Connection, *, case_id: str, units: Iterable[tuple[str, str]]) -> None:
    """Replace the assisting units of a case with `units` ((code, name) pairs)."""
    conn.execute(delete(assisting).where(assisting.c.case_id == case_id))
    rows = [{"case_id": case_id, "unit_code": c, "unit_name": n} for c, n in units]
    if rows:
        conn.execute(insert(assisting), rows)


# --- duplicates --------------------------------------------------------------------------


def duplicate_candidates(
    conn: Connection,
    *,
    category: str,
    since: datetime,
    statuses: Sequence[int],
    box: tuple[float, float, float, float],
    exclude_id: str,
) -> list[Any]:
    """Open cases of `category` received since `since` whose point lies in `box`
    (south, west, north, east), oldest first; not themselves merged into another."""
    south, west, north, east = box
    return list(
        conn.execute(
            select(cases)
            .where(
                cases.c.category == category,
                cases.c.created_at >= since,
                cases.c.status.in_(list(statuses)),
                cases.c.merged_into.is_(None),
                cases.c.latitude.between(south, north),
                cases.c.longitude.between(west, east),
                cases.c.id != exclude_id,
            )
            .order_by(cases.c.created_at, cases.c.id)
        )
    )


def followers(conn: Connection, *, case_id: str) -> list[Any]:
    """Cases merged into `case_id`, oldest first."""
    return list(
        conn.execute(
            select(cases).where(cases.c.merged_into == case_id).order_by(cases.c.created_at)
        )
    )


# --- the SLA scheduler -------------------------------------------------------------------


def due_cases(conn: Connection, *, now: datetime, limit: int) -> list[str]:
    return list(
        conn.execute(
            select(cases.c.id)
            .where(cases.c.next_due_at <= now)
            .order_by(cases.c.next_due_at, cases.c.id)
            .limit(limit)
        ).scalars()
    )


def next_due(conn: Connection) -> datetime | None:
    return conn.execute(select(func.min(cases.c.next_due_at))).scalar_one_or_none()


# --- work queues -------------------------------------------------------------------------


def _prefix(unit_code: str) -> str:
    return unit_code.replace("%", "").replace("_", "") + "%"


def work_queue(
    conn: Connection,
    *,
    unit_code: str,
    statuses: list[int],
    after: tuple[datetime, str] | None,
    limit: int,
    overdue_only: bool = False,
    supervised_only: bool = False,
    level: int = 0,
) -> list[Any]:
    """Open cases led by a unit or a unit below it, or that it (or a unit below) assists;
    oldest deadline first. Cases merged into another are followed there, not here."""
    prefix = _prefix(unit_code)
    deadline_key = func.coalesce(cases.c.deadline_time, literal(FAR_FUTURE, DateTime(True)))
    assists = exists().where(assisting.c.case_id == cases.c.id, assisting.c.unit_code.like(prefix))
    q = (
        select(cases, deadline_key.label("deadline_key"))
        .where(
            or_(cases.c.assigned_unit_code.like(prefix), assists),
            cases.c.status.in_(statuses),
            cases.c.merged_into.is_(None),
        )
        .order_by(deadline_key, cases.c.id)
        .limit(limit)
    )
    if overdue_only:
        q = q.where(cases.c.overdue.is_(True))
    if supervised_only:
        q = q.where(cases.c.supervised.is_(True))
    if level:
        q = q.where(cases.c.level == level)
    if after is not None:
        after_deadline, after_id = after
        q = q.where(
            or_(
                deadline_key > after_deadline,
                and_(deadline_key == after_deadline, cases.c.id > after_id),
            )
        )
    return list(conn.execute(q))


# --- statistics --------------------------------------------------------------------------


def is_area_code(unit_code: str) -> bool:
    """District, street, community and grid codes are digits; departments are not."""
    return unit_code.isdigit()


def stats_rows(
    conn: Connection, *, unit_code: str, start: datetime, end: datetime
) -> list[tuple[Any, list[Any]]]:
    """The cases of a unit received in [start, end), each with its history before `end`.

    A district, street or community counts the cases located in its area; a department
    counts the cases it led at some step."""
    q = select(cases.c.id, cases.c.created_at).where(
        cases.c.created_at >= start, cases.c.created_at < end
    )
    if is_area_code(unit_code):
        q = q.where(cases.c.grid_code.like(_prefix(unit_code)))
    else:
        q = q.where(
            exists().where(history.c.case_id == cases.c.id, history.c.unit_code == unit_code)
        )
    scope = q.subquery()
    rows = conn.execute(
        select(history)
        .join(scope, scope.c.id == history.c.case_id)
        .where(history.c.time < end)
        .order_by(history.c.case_id, history.c.sequence)
    )
    by_case: dict[str, list[Any]] = {
        r.id: [] for r in conn.execute(select(scope.c.id, scope.c.created_at))
    }
    for r in rows:
        by_case[r.case_id].append(r)
    return [(case_id, hist) for case_id, hist in by_case.items()]
