"""notify's queries on hotline systems' webhook subscriptions (the table is in store.py;
what a valid subscription is, in subscriptions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from services.common.bus import insert_ignore
from services.notify.store import subscriptions


def create_subscription(conn: Connection, *, row: dict[str, Any]) -> tuple[Any, bool]:
    """Insert a subscription; with a request id seen before, the first one and False.

    Two replicas creating one request id at the same moment: the later insert waits for
    the earlier commit and does nothing (ON CONFLICT), and finds the first one."""
    if row.get("request_id"):
        existing = get_subscription_by_request(conn, request_id=row["request_id"])
        if existing is not None:
            return existing, False
        if not insert_ignore(conn, subscriptions, row):
            return get_subscription_by_request(conn, request_id=row["request_id"]), False
    else:
        conn.execute(insert(subscriptions).values(row))
    return get_subscription(conn, subscription_id=row["id"], with_deleted=True), True


_GET_SUBSCRIPTION = select(subscriptions).where(subscriptions.c.id == bindparam("id"))
_GET_LIVE_SUBSCRIPTION = _GET_SUBSCRIPTION.where(subscriptions.c.deleted_at.is_(None))


def get_subscription(conn: Connection, *, subscription_id: str, with_deleted: bool = False) -> Any:
    """By id (read for every webhook sent: the statement is built once)."""
    q = _GET_SUBSCRIPTION if with_deleted else _GET_LIVE_SUBSCRIPTION
    return conn.execute(q, {"id": subscription_id}).first()


def get_subscription_by_request(conn: Connection, *, request_id: str) -> Any:
    return conn.execute(
        select(subscriptions).where(subscriptions.c.request_id == request_id)
    ).first()


def active_subscriptions(conn: Connection) -> list[Any]:
    """Every live subscription, oldest first (ids are UUIDv7)."""
    return list(
        conn.execute(
            select(subscriptions)
            .where(subscriptions.c.deleted_at.is_(None))
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        )
    )


def list_subscriptions(conn: Connection, *, hotline: int, after_id: str, limit: int) -> list[Any]:
    q = (
        select(subscriptions)
        .where(subscriptions.c.deleted_at.is_(None))
        .order_by(subscriptions.c.id)
        .limit(limit)
    )
    if hotline:
        q = q.where(subscriptions.c.hotline == hotline)
    if after_id:
        q = q.where(subscriptions.c.id > after_id)
    return list(conn.execute(q))


def delete_subscription(conn: Connection, *, subscription_id: str, now: datetime) -> bool:
    return (
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, subscriptions.c.deleted_at.is_(None))
            .values(deleted_at=now, updated_at=now)
        ).rowcount
        == 1
    )


def rotate_secret(
    conn: Connection, *, subscription_id: str, secret: str, now: datetime, grace_until: datetime
) -> Any:
    """The new secret signs from now; the old one too until `grace_until`."""
    row = get_subscription(conn, subscription_id=subscription_id)
    if row is None:
        return None
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(
            secret=secret,
            previous_secret=row.secret,
            previous_secret_until=grace_until,
            secret_rotated_at=now,
            updated_at=now,
        )
    )
    return get_subscription(conn, subscription_id=subscription_id)


def set_webhook_url(conn: Connection, *, subscription_id: str, url: str, now: datetime) -> None:
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(webhook_url=url, updated_at=now)
    )
