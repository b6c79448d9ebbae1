"""routing's tables and queries (SQLAlchemy Core)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    bindparam,
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
from services.common.timeutil import aware
from services.common.validate import LIKE_ESCAPE, like_prefix

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
    # --- 0005: the spatial cell of the point (see `cell_of`), for the duplicate search --
    Column("cell", BigInteger, nullable=True),
    # --- 0007: while waiting to be located by hand, the buildings its address may mean --
    Column("location_candidates", JSON, nullable=True),
    # --- 0008: void and transfer ------------------------------------------------------
    Column("void_reason", Integer, nullable=False, default=0, server_default=text("0")),
    Column("transfer_destination", Integer, nullable=False, default=0, server_default=text("0")),
    Column("transferred_to", String(100), nullable=False, default="", server_default=""),
)
Index("ix_cases_assigned_unit_deadline", cases.c.assigned_unit_code, cases.c.deadline_time)
Index("ix_cases_next_due_at", cases.c.next_due_at)
Index("ix_cases_category_created_at", cases.c.category, cases.c.created_at)
Index("ix_cases_category_cell_created_at", cases.c.category, cases.c.cell, cases.c.created_at)
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

# Which history entry names which stored photo: the blob sweep keeps these files.
photo_refs = Table(
    "photo_refs",
    metadata,
    Column("sha256", String(64), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    PrimaryKeyConstraint("sha256", "case_id", "sequence"),
)

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

# Step requests already applied: a request_id is scoped to its case (0006).
requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("transition", Integer, nullable=False),
    PrimaryKeyConstraint("case_id", "request_id"),
)

outbox, inbox = bus_tables(metadata)


# The hot path's statements, built once: executing one with parameters skips building
# and cache-keying a new statement object per call (most of the writer's time otherwise).
_GET_CASE = select(cases).where(cases.c.id == bindparam("case_id"))
_GET_CASE_FOR_UPDATE = _GET_CASE.with_for_update()
_GET_HISTORY = (
    select(history).where(history.c.case_id == bindparam("case_id")).order_by(history.c.sequence)
)
_INSERT_CASE = insert(cases)
_EXISTING = select(cases.c.id).where(cases.c.id.in_(bindparam("ids", expanding=True)))
_UPDATE_CASE = update(cases).where(cases.c.id == bindparam("_case_id"))
_INSERT_HISTORY = insert(history)
_INSERT_PHOTO_REFS = insert(photo_refs)
_GET_ASSISTING = (
    select(assisting)
    .where(assisting.c.case_id == bindparam("case_id"))
    .order_by(assisting.c.unit_code)
)
_DELETE_ASSISTING = delete(assisting).where(assisting.c.case_id == bindparam("case_id"))
_INSERT_ASSISTING = insert(assisting)
_SEEN_REQUEST = select(requests).where(
    requests.c.case_id == bindparam("case_id"), requests.c.request_id == bindparam("request_id")
)
_INSERT_REQUEST = insert(requests)


def get_case(conn: Connection, *, case_id: str, for_update: bool = False) -> Any:
    """A case; `for_update` locks its row on PostgreSQL (SQLite has one writer anyway)."""
    q = _GET_CASE_FOR_UPDATE if for_update and conn.dialect.name == "postgresql" else _GET_CASE
    return conn.execute(q, {"case_id": case_id}).first()


def get_history(conn: Connection, *, case_id: str) -> list[Any]:
    return list(conn.execute(_GET_HISTORY, {"case_id": case_id}))


def insert_case(conn: Connection, *, row: dict[str, Any]) -> None:
    conn.execute(_INSERT_CASE, row)


def insert_cases(conn: Connection, *, rows: list[dict[str, Any]]) -> None:
    """Cases with the same columns, in one statement."""
    if rows:
        conn.execute(_INSERT_CASE, rows if len(rows) > 1 else rows[0])


def existing_ids(conn: Connection, ids: list[str]) -> set[str]:
    """Which of `ids` are stored cases."""
    if not ids:
        return set()
    return set(conn.execute(_EXISTING, {"ids": ids}).scalars())


def complete_row(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with every column of `cases`, the missing ones at their defaults (the row
    as it would read back after the insert)."""
    out = {}
    for c in cases.c:
        if c.name in row:
            out[c.name] = row[c.name]
        elif c.default is not None and c.default.is_scalar:
            out[c.name] = c.default.arg
        else:
            out[c.name] = None
    return out


def update_case(conn: Connection, *, case_id: str, values: dict[str, Any]) -> None:
    conn.execute(_UPDATE_CASE, {"_case_id": case_id, **values})


def insert_history(conn: Connection, *, row: dict[str, Any]) -> None:
    insert_histories(conn, rows=[row])


def insert_histories(conn: Connection, *, rows: list[dict[str, Any]]) -> None:
    """History rows (and the photos they name) in one statement each."""
    if not rows:
        return
    conn.execute(_INSERT_HISTORY, rows if len(rows) > 1 else rows[0])
    refs = [
        {"sha256": d, "case_id": row["case_id"], "sequence": row["sequence"]}
        for row in rows
        for d in sorted({p["sha256"] for p in row.get("photos") or ()})
    ]
    if refs:
        conn.execute(_INSERT_PHOTO_REFS, refs)


def referenced_photos(conn: Connection, digests: list[str]) -> set[str]:
    """Which of `digests` a history entry names (for the blob sweep)."""
    if not digests:
        return set()
    return set(
        conn.execute(
            select(photo_refs.c.sha256).where(photo_refs.c.sha256.in_(digests)).distinct()
        ).scalars()
    )


def seen_request(conn: Connection, *, case_id: str, request_id: str) -> Any:
    """The step this case's `request_id` was used for, if it was."""
    return conn.execute(_SEEN_REQUEST, {"case_id": case_id, "request_id": request_id}).first()


def record_request(conn: Connection, *, request_id: str, case_id: str, transition: int) -> None:
    conn.execute(
        _INSERT_REQUEST, {"request_id": request_id, "case_id": case_id, "transition": transition}
    )


# --- co-handling -------------------------------------------------------------------------


def get_assisting(conn: Connection, *, case_id: str) -> list[Any]:
    return list(conn.execute(_GET_ASSISTING, {"case_id": case_id}))


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
    conn.execute(_DELETE_ASSISTING, {"case_id": case_id})
    insert_assisting(conn, rows=[(case_id, c, n) for c, n in units])


def insert_assisting(conn: Connection, *, rows: list[tuple[str, str, str]]) -> None:
    """Assisting units of cases that have none yet: (case id, code, name), one statement."""
    if rows:
        conn.execute(
            _INSERT_ASSISTING,
            [{"case_id": case_id, "unit_code": c, "unit_name": n} for case_id, c, n in rows],
        )


# --- duplicates --------------------------------------------------------------------------


CELL_DEGREES = 0.001  # ~111 m north–south, ~91 m east–west here


def cell_of(lat: float, lon: float) -> int:
    """The spatial cell of a point: a square of CELL_DEGREES, one integer key."""
    return math.floor((lat + 90.0) / CELL_DEGREES) * 400_000 + math.floor(
        (lon + 180.0) / CELL_DEGREES
    )


def cells_covering(box: tuple[float, float, float, float]) -> list[int]:
    """Every cell that meets the box (south, west, north, east)."""
    south, west, north, east = box
    r0, r1 = (math.floor((v + 90.0) / CELL_DEGREES) for v in (south, north))
    c0, c1 = (math.floor((v + 180.0) / CELL_DEGREES) for v in (west, east))
    return [r * 400_000 + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]


def lock_cells(conn: Connection, cells: Iterable[tuple[str, int]]) -> None:
    """Serialise the duplicate search of a category in a cell ((category, cell) pairs)
    until the end of the transaction (PostgreSQL advisory locks, taken in one statement in
    a fixed order), so that two replicas filing neighbouring cases at once cannot both
    miss each other, and two transactions locking overlapping sets cannot deadlock.
    SQLite has one writer: nothing to do."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(category, c) for category, c in cells})
    if keys:
        conn.execute(_ADVISORY_LOCKS, {"keys": keys})


# One call per key as unnest yields them: in the array's (sorted) order.
_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"
)


def _lock_key(category: str, cell: int) -> int:
    digest = hashlib.blake2b(f"dup:{category}:{cell}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


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
    (south, west, north, east), oldest first; not themselves merged into another. The
    index on (category, cell, created_at) bounds the search by place and time, however
    many cases the category has. Sorted here, not in SQL: with an ORDER BY created_at
    SQLite prefers the (category, created_at) index, which reads every case of the
    category in the window wherever it is (tests/test_query_plans.py)."""
    south, west, north, east = box
    rows = list(
        conn.execute(
            select(cases).where(
                cases.c.category == category,
                cases.c.cell.in_(cells_covering(box)),
                cases.c.created_at >= since,
                cases.c.status.in_(list(statuses)),
                cases.c.merged_into.is_(None),
                cases.c.latitude.between(south, north),
                cases.c.longitude.between(west, east),
                cases.c.id != exclude_id,
            )
        )
    )
    return sorted(rows, key=lambda r: (aware(r.created_at), r.id))


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
    """A LIKE pattern for codes under `unit_code`: `%`, `_` and `\\` in it match
    themselves (use with `escape=LIKE_ESCAPE`)."""
    return like_prefix(unit_code)


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
    assists = exists().where(
        assisting.c.case_id == cases.c.id, assisting.c.unit_code.like(prefix, escape=LIKE_ESCAPE)
    )
    q = (
        select(cases, deadline_key.label("deadline_key"))
        .where(
            or_(cases.c.assigned_unit_code.like(prefix, escape=LIKE_ESCAPE), assists),
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
        q = q.where(cases.c.grid_code.like(_prefix(unit_code), escape=LIKE_ESCAPE))
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


def ranking_rows(
    conn: Connection, *, unit_code: str, start: datetime, end: datetime
) -> list[tuple[Any, list[Any]]]:
    """The cases located in an area received in [start, end) — each row with its grid,
    community and street codes and names — with its history before `end`."""
    scope = (
        select(
            cases.c.id,
            cases.c.grid_code,
            cases.c.community_code,
            cases.c.community_name,
            cases.c.street_code,
            cases.c.street_name,
        )
        .where(
            cases.c.created_at >= start,
            cases.c.created_at < end,
            cases.c.grid_code.like(_prefix(unit_code), escape=LIKE_ESCAPE),
        )
        .subquery()
    )
    out = {r.id: (r, []) for r in conn.execute(select(scope))}
    rows = conn.execute(
        select(history)
        .join(scope, scope.c.id == history.c.case_id)
        .where(history.c.time < end)
        .order_by(history.c.case_id, history.c.sequence)
    )
    for r in rows:
        out[r.case_id][1].append(r)
    return list(out.values())
