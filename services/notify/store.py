"""notify's tables and queries (SQLAlchemy Core).

`reporters` is notify's own copy of who reported each case (from `case.received`), so the
citizen can be told without reading intake's database. `deliveries` holds one row per
(event, recipient, channel): the unique constraint, together with the inbox row written in
the same transaction, makes a redelivered event create nothing new.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)

from lianxin.notify.v1 import resources_pb2 as res
from services.common.bus import bus_tables, insert_ignore

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
)

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
    UniqueConstraint(
        "event_id", "recipient_kind", "recipient_id", "channel", name="uq_deliveries_once"
    ),
)
Index("ix_deliveries_case", deliveries.c.case_id, deliveries.c.id)
Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)

outbox, inbox = bus_tables(metadata)

RETRYABLE = (res.DELIVERY_STATUS_PENDING, res.DELIVERY_STATUS_FAILED)


def processed(conn: Connection, *, consumer: str, event_id: str) -> bool:
    """True when `consumer` has already applied the event (a redelivery)."""
    return (
        conn.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer == consumer, inbox.c.event_id == event_id
            )
        ).first()
        is not None
    )


def remember_reporter(conn: Connection, *, row: dict[str, Any]) -> bool:
    """Keep the first announcement of a case's reporter; True when it was new."""
    return insert_ignore(conn, reporters, row)


def get_reporter(conn: Connection, *, case_id: str) -> Any:
    return conn.execute(select(reporters).where(reporters.c.case_id == case_id)).first()


def insert_deliveries(conn: Connection, *, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the rows that are not there yet (per event, recipient and channel)."""
    return [r for r in rows if insert_ignore(conn, deliveries, r)]


def due_deliveries(conn: Connection, *, now: datetime, limit: int) -> list[Any]:
    return list(
        conn.execute(
            select(deliveries)
            .where(deliveries.c.status.in_(RETRYABLE), deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
    )


def mark_sent(conn: Connection, *, delivery_id: str, now: datetime) -> bool:
    return (
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(RETRYABLE))
            .values(
                status=res.DELIVERY_STATUS_SENT,
                attempts=deliveries.c.attempts + 1,
                sent_at=now,
                last_error="",
            )
        ).rowcount
        == 1
    )


def mark_failed(
    conn: Connection, *, delivery_id: str, error: str, next_attempt_at: datetime, dead: bool
) -> bool:
    return (
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(RETRYABLE))
            .values(
                status=res.DELIVERY_STATUS_DEAD if dead else res.DELIVERY_STATUS_FAILED,
                attempts=deliveries.c.attempts + 1,
                last_error=error[:2000],
                next_attempt_at=next_attempt_at,
            )
        ).rowcount
        == 1
    )


def list_deliveries(
    conn: Connection, *, case_id: str, status: int, after_id: str, limit: int
) -> list[Any]:
    """Newest first (ids are UUIDv7, so id order is creation order)."""
    q = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
    if case_id:
        q = q.where(deliveries.c.case_id == case_id)
    if status:
        q = q.where(deliveries.c.status == status)
    if after_id:
        q = q.where(deliveries.c.id < after_id)
    return list(conn.execute(q))
