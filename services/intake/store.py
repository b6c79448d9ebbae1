"""intake's tables and queries (SQLAlchemy Core)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from services.common.bus import Staged, bus_tables, insert_ignore_stmt, stage
from services.common.errors import AlreadyExists
from services.common.validate import LIKE_ESCAPE, like_prefix
from services.intake import domain

CLOSED = 6  # lianxin.routing.v1.CASE_STATUS_CLOSED

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", Integer, nullable=False),
    Column("external_ref", String(128), nullable=False),
    Column("reporter_name", String(100), nullable=False, default=""),
    Column("reporter_phone", String(32), nullable=False, default=""),
    Column("reporter_staff_id", String(64), nullable=False, default=""),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("address", String(500), nullable=False, default=""),
    Column("category", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("grid_code", String(32), nullable=False, default=""),
    Column("assigned_unit_code", String(64), nullable=False, default=""),
    Column("assigned_unit_name", String(100), nullable=False, default=""),
    Column("level", Integer, nullable=False, default=0),
    Column("deadline_time", DateTime(timezone=True), nullable=True),
    Column("result", Text, nullable=False, default=""),
    Column("filing_error", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # When the case closed (from routing's transitions; None while not closed), and when
    # the retention job anonymised its reporter (anonymise_reporters). 0004.
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("reporter_erased_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("channel", "external_ref", name="uq_cases_channel_ref"),
)
Index("ix_cases_assigned_unit", cases.c.assigned_unit_code)
Index("ix_cases_grid", cases.c.grid_code)
Index("ix_cases_closed_at", cases.c.closed_at)

attachments = Table(
    "attachments",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("id", String(8), primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
)
Index("ix_attachments_sha256", attachments.c.sha256)

# `seq` orders every status change intake has applied: WatchCases streams by it and its
# cursors are positions in it (rows are never deleted, so it only grows). `seq` order is
# commit order, also with several replicas on PostgreSQL: see `apply_transition`.
timeline = Table(
    "timeline",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("transition", Integer, nullable=False),
    Column("unit_code", String(64), nullable=False, default=""),
    Column("unit_name", String(100), nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("time", DateTime(timezone=True), nullable=False),
    UniqueConstraint("event_id", name="uq_timeline_event"),
    sqlite_autoincrement=True,
)
Index("ix_timeline_case", timeline.c.case_id, timeline.c.version)

outbox, inbox = bus_tables(metadata)


@dataclass(frozen=True)
class NewCase:
    """A submission ready to store: the case row, its attachment rows, its event."""

    row: dict[str, Any]
    attachments: list[dict[str, Any]]
    event: Staged

    @property
    def key(self) -> tuple[int, str]:
        return self.row["channel"], self.row["external_ref"]


class RowView:
    """Attribute access to a dict, so fresh rows and stored rows read the same way."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def submit_cases(
    conn: Connection, *, items: list[NewCase]
) -> list[tuple[Any, list[Any], bool] | AlreadyExists]:
    """Store a batch of submissions with one statement per table. A submission whose
    (channel, external_ref) exists — stored before or earlier in this batch — creates
    nothing: with the same content (`domain.content_of`) it gets the existing case, with
    other content an `AlreadyExists` naming that case. Returns (case, attachments,
    created) or the error, per item."""
    existing = {(r.channel, r.external_ref): r for r in _by_refs(conn, {it.key for it in items})}
    fresh: dict[tuple[int, str], NewCase] = {}
    for it in items:
        if it.key not in existing and it.key not in fresh:
            fresh[it.key] = it
    if fresh:
        conn.execute(insert(cases), [it.row for it in fresh.values()])
        att_rows = [a for it in fresh.values() for a in it.attachments]
        if att_rows:
            conn.execute(insert(attachments), att_rows)
        stage(conn, outbox, [it.event for it in fresh.values()])
    old_atts = get_attachments(conn, case_ids=[r.id for r in existing.values()])
    out: list[tuple[Any, list[Any], bool] | AlreadyExists] = []
    for it in items:
        if it.key in existing:
            row = existing[it.key]
            found: tuple[Any, list[Any], bool] = (row, old_atts[row.id], False)
        else:
            first = fresh[it.key]
            row = RowView(first.row)
            found = (row, [RowView(a) for a in first.attachments], first is it)
        if found[2]:
            out.append(found)
            continue
        mine = domain.content_of(RowView(it.row), [RowView(a) for a in it.attachments])
        differs = domain.content_differences(domain.content_of(row, found[1]), mine)
        out.append(_conflict(row, differs) if differs else found)
    return out


def _conflict(row: Any, differs: list[str]) -> AlreadyExists:
    return AlreadyExists(
        f"case {row.id} already exists for this channel and external_ref with other "
        f"content ({', '.join(differs)}); nothing was changed",
        reason="EXTERNAL_REF_CONFLICT",
        metadata={
            "case_id": row.id,
            "channel": str(row.channel),
            "external_ref": row.external_ref,
            "differing_fields": ",".join(differs),
        },
    )


def _by_refs(conn: Connection, keys: set[tuple[int, str]]) -> list[Any]:
    """The cases with these (channel, external_ref) keys: one query per channel, written
    `channel = ? AND external_ref IN (…)` so that the unique index serves it (a row-value
    `(channel, external_ref) IN (…)` scans the whole table on SQLite)."""
    refs: dict[int, list[str]] = {}
    for channel, ref in keys:
        refs.setdefault(channel, []).append(ref)
    out: list[Any] = []
    for channel, values in refs.items():
        out.extend(
            conn.execute(
                select(cases).where(cases.c.channel == channel, cases.c.external_ref.in_(values))
            )
        )
    return out


def find_by_ref(conn: Connection, *, channel: int, external_ref: str) -> Any:
    return conn.execute(
        select(cases).where(cases.c.channel == channel, cases.c.external_ref == external_ref)
    ).first()


def referenced_blobs(conn: Connection, digests: list[str]) -> set[str]:
    """Which of `digests` an attachment row names (for the blob sweep)."""
    if not digests:
        return set()
    return set(
        conn.execute(
            select(attachments.c.sha256).where(attachments.c.sha256.in_(digests)).distinct()
        ).scalars()
    )


def get_case(conn: Connection, *, case_id: str) -> Any:
    return conn.execute(select(cases).where(cases.c.id == case_id)).first()


def get_attachments(conn: Connection, *, case_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {cid: [] for cid in case_ids}
    if case_ids:
        rows = conn.execute(
            select(attachments)
            .where(attachments.c.case_id.in_(case_ids))
            .order_by(attachments.c.case_id, attachments.c.id)
        )
        for r in rows:
            out[r.case_id].append(r)
    return out


def get_timeline(conn: Connection, *, case_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(timeline)
            .where(timeline.c.case_id == case_id)
            .order_by(timeline.c.version, timeline.c.time)
        )
    )


def list_cases(
    conn: Connection,
    *,
    channel: int,
    status: int,
    unit_code: str,
    after_id: str,
    limit: int,
    category: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Any]:
    q = select(cases).order_by(cases.c.id.desc()).limit(limit)
    if channel:
        q = q.where(cases.c.channel == channel)
    if status:
        q = q.where(cases.c.status == status)
    if category:
        q = q.where(cases.c.category == category)
    if start is not None:
        q = q.where(cases.c.created_at >= start)
    if end is not None:
        q = q.where(cases.c.created_at < end)
    if unit_code:
        prefix = like_prefix(unit_code)
        q = q.where(
            or_(
                cases.c.assigned_unit_code.like(prefix, escape=LIKE_ESCAPE),
                cases.c.grid_code.like(prefix, escape=LIKE_ESCAPE),
            )
        )
    if after_id:
        q = q.where(cases.c.id < after_id)
    return list(conn.execute(q))


def list_status_changes(
    conn: Connection,
    *,
    start: datetime | None,
    end: datetime | None,
    channel: int,
    after_seq: int,
    limit: int,
) -> list[Any]:
    """Timeline rows in the period, in `seq` order, after `after_seq`."""
    q = select(timeline).where(timeline.c.seq > after_seq).order_by(timeline.c.seq).limit(limit)
    if start is not None:
        q = q.where(timeline.c.time >= start)
    if end is not None:
        q = q.where(timeline.c.time < end)
    if channel:
        q = q.join(cases, cases.c.id == timeline.c.case_id).where(cases.c.channel == channel)
    return list(conn.execute(q))


# --- appending to the timeline on PostgreSQL ----------------------------------------------
# With several intake processes on one database, `seq` values are taken at insert time but
# become visible at commit: a transaction that took seq 10 may commit after the one that
# took 11, and a stream that read 11 in between would have moved past 10 for good. So
# every transaction that appends takes one transaction-level advisory lock before its
# first timeline row: appends are serialised, each gets its `seq` values after the previous
# append committed (PostgreSQL releases a transaction's locks after its commit is visible:
# CommitTransaction's ProcArrayEndTransaction comes first), and `seq` order is commit order.
# The same statement queues a NOTIFY (sent at commit, once per transaction) that wakes the
# WatchCases streams of every replica (watch.TimelineListener).
# The lock is taken once per transaction, and the consumer's events arrive in groups of
# up to 64 per transaction (services/common/db.py), so it costs one statement per group.
# A group that holds rows another replica's appender needs (an inbox row of a redelivered
# event, a case the retention job locked) while it waits for the lock is a deadlock that
# PostgreSQL detects after `deadlock_timeout` (one transaction fails, the other goes on);
# the writer then runs the failed group's jobs one by one.
TIMELINE_LOCK = 0x6C78_696E_7461_6B65  # "lxintake": intake's database has no other user
TIMELINE_CHANNEL = "lianxin_intake_timeline"
_LOCK_AND_NOTIFY = select(
    func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)),
    func.pg_notify(literal(TIMELINE_CHANNEL), literal("")),
)
_APPENDING = "lianxin_timeline_appending"  # conn.info: the transaction holding the lock


def _before_timeline_append(conn: Connection) -> None:
    """Take the timeline's append lock (and queue the notification) once per transaction;
    SQLite has one writer process, whose one writer thread already serialises appends."""
    if conn.dialect.name != "postgresql":
        return
    tx = conn.get_transaction()
    if tx is not None and conn.info.get(_APPENDING) is tx:
        return
    conn.execute(_LOCK_AND_NOTIFY, {"key": TIMELINE_LOCK})
    conn.info[_APPENDING] = conn.get_transaction()  # begun by now, if it was not before


def apply_transition(conn: Connection, *, event_id: str, row: dict[str, Any]) -> None:
    """Record one status change in the timeline and, when it is the newest, on the case."""
    apply_transitions(conn, [{**row, "event_id": event_id}])


_TIMELINE_COLUMNS = (
    "event_id",
    "case_id",
    "version",
    "status",
    "transition",
    "unit_code",
    "unit_name",
    "note",
    "time",
)
# The case takes its newest change (a change older than the stored version is history
# only). closed_at is the first time it closed: kept while it stays closed, cleared when a
# later step reopens it.
_UPDATE_CASE = (
    update(cases)
    .where(and_(cases.c.id == bindparam("b_id"), cases.c.version < bindparam("b_version")))
    .values(
        status=bindparam("b_status"),
        grid_code=bindparam("b_grid_code"),
        assigned_unit_code=bindparam("b_unit_code"),
        assigned_unit_name=bindparam("b_unit_name"),
        level=bindparam("b_level"),
        deadline_time=bindparam("b_deadline_time"),
        result=bindparam("b_result"),
        filing_error=bindparam("b_filing_error"),
        version=bindparam("b_version"),
        updated_at=bindparam("b_time"),
        closed_at=case(
            (
                bindparam("b_status", type_=Integer) == CLOSED,
                func.coalesce(
                    cases.c.closed_at, bindparam("b_closed_at", type_=cases.c.closed_at.type)
                ),
            ),
            else_=None,
        ),
    )
)


def apply_transitions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Record status changes (each with its `event_id`) in the timeline, one statement,
    and each case's newest of them on the case, one statement."""
    if not rows:
        return
    _before_timeline_append(conn)
    conn.execute(
        insert_ignore_stmt(conn, timeline), [{k: r[k] for k in _TIMELINE_COLUMNS} for r in rows]
    )
    by_case: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_case.setdefault(r["case_id"], []).append(r)
    updates = []
    for changes in by_case.values():
        changes.sort(key=lambda r: r["version"])
        newest = changes[-1]
        # Closed since when, as far as these changes say: the first of the closed run
        # they end with (the stored closed_at, if any, still wins).
        closed_at = None
        for r in reversed(changes):
            if r["status"] != CLOSED:
                break
            closed_at = r["time"]
        updates.append(
            {
                "b_id": newest["case_id"],
                "b_version": newest["version"],
                "b_status": newest["status"],
                "b_grid_code": newest["grid_code"],
                "b_unit_code": newest["unit_code"],
                "b_unit_name": newest["unit_name"],
                "b_level": newest["level"],
                "b_deadline_time": newest["deadline_time"],
                "b_result": newest["result"],
                "b_filing_error": newest["filing_error"],
                "b_time": newest["time"],
                "b_closed_at": closed_at,
            }
        )
    conn.execute(_UPDATE_CASE, updates)


# --- retention (services/common/retention.py runs it) -------------------------------------
# Once a case has been closed longer than `reporter_retention_days`, the reporter's name and
# phone are erased. The case stays (category, place, text, timeline, figures), and so does
# the staff id of a grid worker who reported it (work data, not the citizen's). Not reached
# from here: the case.received events in JetStream (kept until `stream_max_age_seconds`,
# which should be below the retention period) and registry's person_cases links.

ERASED = {"reporter_name": "", "reporter_phone": ""}


def anonymise_reporters(
    conn: Connection, *, closed_before: datetime, now: datetime, limit: int
) -> list[str]:
    """Anonymise the reporters of up to `limit` cases closed before `closed_before` and not
    anonymised yet (oldest first); returns their case ids. Replicas running it at once
    skip each other's rows (SKIP LOCKED on PostgreSQL; SQLite has one writer)."""
    due = (
        conn.execute(
            select(cases.c.id)
            .where(
                cases.c.status == CLOSED,
                cases.c.closed_at < closed_before,
                cases.c.reporter_erased_at.is_(None),
            )
            .order_by(cases.c.closed_at, cases.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if due:
        conn.execute(
            update(cases)
            .where(cases.c.id.in_(due), cases.c.reporter_erased_at.is_(None))
            .values(**ERASED, reporter_erased_at=now)
        )
    return list(due)
