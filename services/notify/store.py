"""notify's tables and queries (SQLAlchemy Core).

`reporters` is notify's own copy of who reported each case (from `case.received`), so the
citizen can be told without reading intake's database. `deliveries` holds one row per
(event, recipient, channel): the unique constraint, together with the inbox row written in
the same transaction, makes a redelivered event create nothing new. `delivery_attempts`
keeps every try. `subscriptions` are the hotline systems' webhooks (deleted ones are kept,
marked, so an idempotent create is never replayed into a new one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    false,
    func,
    insert,
    select,
    update,
)

from lianxin.notify.v1 import resources_pb2 as res
from services.common.bus import bus_tables, insert_ignore, insert_ignore_many

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()

reporters = Table(
    "reporters",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, default=""),
    Column("phone", String(32), nullable=False, default=""),
    Column("staff_id", String(64), nullable=False, default=""),
    Column("channel", Integer, nullable=False),
    Column("external_ref", String(128), nullable=False, default=""),
    Column("address", String(500), nullable=False, default=""),
    Column("category", String(64), nullable=False, default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # --- 0003: the traceparent of the case's first trace; each step's spans link to it.
    Column("origin_traceparent", String(100), nullable=True),
    # --- 0004: when the case closed (None while open), when the retention job erased the
    # reporter (erase_reporters).
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("erased_at", DateTime(timezone=True), nullable=True),
)
Index("ix_reporters_closed_at", reporters.c.closed_at)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("case_id", String(36), nullable=False, default=""),
    Column("recipient_kind", String(16), nullable=False),
    Column("recipient_id", String(64), nullable=False),
    Column("recipient_name", String(100), nullable=False, default=""),
    Column("address", String(500), nullable=False, default=""),
    Column("channel", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("template_version", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    # Attempts made before the last RetryDelivery: the retry budget counts from here.
    Column("retry_base", Integer, nullable=False, default=0, server_default="0"),
    Column("urgent", Boolean, nullable=False, default=False, server_default=false()),
    Column("subscription_id", String(36), nullable=False, default="", server_default=""),
    # JSON: the structured part of a webhook (empty object for other channels).
    Column("data", Text, nullable=False, default="{}", server_default="{}"),
    UniqueConstraint(
        "event_id", "recipient_kind", "recipient_id", "channel", name="uq_deliveries_once"
    ),
)
Index("ix_deliveries_case", deliveries.c.case_id, deliveries.c.id)
Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_deliveries_sms_sent", deliveries.c.channel, deliveries.c.address, deliveries.c.sent_at)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("delivery_id", String(36), nullable=False),
    Column("number", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Integer, nullable=False),
    Column("error", Text, nullable=False, default=""),
    PrimaryKeyConstraint("delivery_id", "number"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(128), nullable=True),
    Column("hotline", Integer, nullable=False),
    Column("webhook_url", String(2000), nullable=False, default=""),
    Column("unit_code", String(64), nullable=False, default=""),
    Column("case_channels", String(200), nullable=False, default=""),  # "1,3"
    Column("event_types", Text, nullable=False, default=""),  # "case.closed,case.resolved"
    Column("secret", String(200), nullable=False),
    Column("previous_secret", String(200), nullable=False, default=""),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("secret_rotated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("request_id", name="uq_subscriptions_request"),
)

outbox, inbox = bus_tables(metadata)

RETRYABLE = (res.DELIVERY_STATUS_PENDING, res.DELIVERY_STATUS_FAILED)


# --- reporters ---------------------------------------------------------------------------


# The hot path's statements, built once (executing one with parameters skips building a
# statement object per call).
_PROCESSED = select(inbox.c.event_id).where(
    inbox.c.consumer == bindparam("consumer"), inbox.c.event_id == bindparam("event_id")
)
_GET_REPORTER = select(reporters).where(reporters.c.case_id == bindparam("case_id"))
_GET_DELIVERY = select(deliveries).where(deliveries.c.id == bindparam("delivery_id"))
_LAST_ATTEMPTS = (
    select(delivery_attempts.c.delivery_id, func.max(delivery_attempts.c.number))
    .where(delivery_attempts.c.delivery_id.in_(bindparam("ids", expanding=True)))
    .group_by(delivery_attempts.c.delivery_id)
)
_INSERT_ATTEMPT = insert(delivery_attempts)
_MARK_SENT = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        # By the key: `status + 0` keeps SQLite off the status index (every due delivery).
        (deliveries.c.status + 0).in_(RETRYABLE),
    )
    .values(
        status=res.DELIVERY_STATUS_SENT,
        attempts=deliveries.c.attempts + 1,
        sent_at=bindparam("now"),
        last_error="",
    )
    .returning(deliveries.c.id)
)
_MARK_FAILED = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("delivery_id"), deliveries.c.status.in_(RETRYABLE))
    .values(
        status=bindparam("new_status"),
        attempts=deliveries.c.attempts + 1,
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_attempt_at"),
    )
)


def processed(conn: Connection, *, consumer: str, event_id: str) -> bool:
    """True when `consumer` has already applied the event (a redelivery)."""
    return (
        conn.execute(_PROCESSED, {"consumer": consumer, "event_id": event_id}).first() is not None
    )


def remember_reporter(conn: Connection, *, row: dict[str, Any]) -> bool:
    """Keep the first announcement of a case's reporter; True when it was new."""
    return insert_ignore(conn, reporters, row)


def get_reporter(conn: Connection, *, case_id: str) -> Any:
    return conn.execute(_GET_REPORTER, {"case_id": case_id}).first()


def note_closed(conn: Connection, *, case_id: str, closed: bool, time: datetime) -> None:
    """A case closed (the first time counts) or was reopened."""
    r = reporters
    value = func.coalesce(r.c.closed_at, time) if closed else None
    conn.execute(update(r).where(r.c.case_id == case_id).values(closed_at=value))


# --- retention (services/common/retention.py runs it) -------------------------------------
# Once a case has been closed longer than `reporter_retention_days`, notify's copy of its
# reporter loses name and phone, and so do the citizen's deliveries of that case that are
# done with (sent or dead; the texts carry neither). Staff recipients (work data) stay.


def erase_reporters(
    conn: Connection, *, closed_before: datetime, now: datetime, limit: int
) -> list[str]:
    """Erase up to `limit` reporters of cases closed before `closed_before`; their ids."""
    r, d = reporters, deliveries
    due = list(
        conn.execute(
            select(r.c.case_id)
            .where(r.c.closed_at < closed_before, r.c.erased_at.is_(None))
            .order_by(r.c.closed_at, r.c.case_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if due:
        conn.execute(
            update(r)
            .where(r.c.case_id.in_(due), r.c.erased_at.is_(None))
            .values(name="", phone="", erased_at=now)
        )
        conn.execute(
            update(d)
            .where(
                d.c.case_id.in_(due),
                d.c.recipient_kind == "citizen",
                d.c.status.in_([res.DELIVERY_STATUS_SENT, res.DELIVERY_STATUS_DEAD]),
            )
            .values(recipient_name="", address="")
        )
    return due


# --- deliveries --------------------------------------------------------------------------


def insert_deliveries(conn: Connection, *, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the rows that are not there yet (per event, recipient and channel), in one
    statement; returns those inserted."""
    new = insert_ignore_many(conn, deliveries, rows, "id")
    return [r for r in rows if r["id"] in new]


@dataclass(frozen=True)
class Planned:
    """What one case event leaves in notify: its deliveries, and for a close (True) or a
    reopen (False) the reporter's closed mark."""

    rows: list[dict[str, Any]]
    case_id: str
    closed: bool | None
    time: datetime


def write_planned(conn: Connection, items: list[Planned]) -> None:
    """The deliveries of many events in one statement, then their closed marks."""
    insert_deliveries(conn, rows=[r for p in items for r in p.rows])
    for p in items:
        if p.closed is not None:
            note_closed(conn, case_id=p.case_id, closed=p.closed, time=p.time)


def get_delivery(conn: Connection, *, delivery_id: str) -> Any:
    return conn.execute(_GET_DELIVERY, {"delivery_id": delivery_id}).first()


def case_channel(conn: Connection, *, case_id: str) -> int | None:
    """The intake channel of a case notify has heard of (None if it has not)."""
    return conn.execute(
        select(reporters.c.channel).where(reporters.c.case_id == case_id)
    ).scalar_one_or_none()


def get_attempts(conn: Connection, *, delivery_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.number)
        )
    )


def due_deliveries(conn: Connection, *, now: datetime, limit: int) -> list[Any]:
    return list(
        conn.execute(
            select(deliveries)
            .where(deliveries.c.status.in_(RETRYABLE), deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
    )


def sms_sent_since(
    conn: Connection, *, addresses: list[str], since: datetime
) -> dict[str, list[datetime]]:
    """When SMS went to each of `addresses` after `since` (for the per-number limit: one
    sent exactly a window ago no longer counts)."""
    out: dict[str, list[datetime]] = {a: [] for a in addresses}
    if not addresses:
        return out
    rows = conn.execute(
        select(deliveries.c.address, deliveries.c.sent_at).where(
            deliveries.c.channel == res.DELIVERY_CHANNEL_SMS,
            deliveries.c.address.in_(addresses),
            deliveries.c.sent_at > since,
        )
    )
    for address, sent_at in rows:
        out[address].append(sent_at)
    return out


def postpone(conn: Connection, *, delivery_id: str, until: datetime) -> bool:
    """Move a due delivery later without counting an attempt (quiet hours, rate limit)."""
    return (
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(RETRYABLE))
            .values(next_attempt_at=until)
        ).rowcount
        == 1
    )


def _attempts(conn: Connection, *, outcomes: list[tuple[str, int, str]], now: datetime) -> None:
    """An attempt row per (delivery id, outcome, error), numbered after each delivery's
    last one: one read and one insert for all."""
    if not outcomes:
        return
    last = dict(conn.execute(_LAST_ATTEMPTS, {"ids": sorted({o[0] for o in outcomes})}).all())
    rows = []
    for delivery_id, outcome, error in outcomes:
        last[delivery_id] = number = int(last.get(delivery_id) or 0) + 1
        rows.append(
            {
                "delivery_id": delivery_id,
                "number": number,
                "attempted_at": now,
                "outcome": outcome,
                "error": error,
            }
        )
    conn.execute(_INSERT_ATTEMPT, rows)


def mark_sent_many(conn: Connection, *, ids: list[str], now: datetime) -> set[str]:
    """Deliveries sent: SENT, an attempt each, in one update and one insert; the ids that
    were still due (an id done already, e.g. by another replica after a lease ran out, is
    left alone)."""
    if not ids:
        return set()
    sent = set(conn.execute(_MARK_SENT, {"ids": ids, "now": now}).scalars())
    done = [i for i in dict.fromkeys(ids) if i in sent]
    _attempts(conn, outcomes=[(i, res.DELIVERY_STATUS_SENT, "") for i in done], now=now)
    return sent


def mark_sent(conn: Connection, *, delivery_id: str, now: datetime) -> bool:
    return delivery_id in mark_sent_many(conn, ids=[delivery_id], now=now)


def mark_failed(
    conn: Connection,
    *,
    delivery_id: str,
    error: str,
    next_attempt_at: datetime,
    dead: bool,
    now: datetime,
) -> bool:
    status = res.DELIVERY_STATUS_DEAD if dead else res.DELIVERY_STATUS_FAILED
    ok = (
        conn.execute(
            _MARK_FAILED,
            {
                "delivery_id": delivery_id,
                "new_status": status,
                "error": error[:2000],
                "next_attempt_at": next_attempt_at,
            },
        ).rowcount
        == 1
    )
    if ok:
        _attempts(conn, outcomes=[(delivery_id, status, error[:2000])], now=now)
    return ok


def revive(conn: Connection, *, delivery_id: str, at: datetime) -> bool:
    """A FAILED or DEAD delivery back to PENDING with a fresh retry budget."""
    return (
        conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == delivery_id,
                deliveries.c.status.in_((res.DELIVERY_STATUS_FAILED, res.DELIVERY_STATUS_DEAD)),
            )
            .values(
                status=res.DELIVERY_STATUS_PENDING,
                next_attempt_at=at,
                retry_base=deliveries.c.attempts,
            )
        ).rowcount
        == 1
    )


def list_deliveries(
    conn: Connection,
    *,
    case_id: str,
    status: int,
    after_id: str,
    limit: int,
    case_channel: int = 0,
    recipient_id: str = "",
) -> list[Any]:
    """Newest first (ids are UUIDv7, so id order is creation order); `case_channel` and
    `recipient_id` narrow it to a caller's scope."""
    q = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
    if case_channel:
        of_channel = select(reporters.c.case_id).where(reporters.c.channel == case_channel)
        q = q.where(deliveries.c.case_id.in_(of_channel))
    if recipient_id:
        q = q.where(deliveries.c.recipient_id == recipient_id)
    if case_id:
        q = q.where(deliveries.c.case_id == case_id)
    if status:
        q = q.where(deliveries.c.status == status)
    if after_id:
        q = q.where(deliveries.c.id < after_id)
    return list(conn.execute(q))
