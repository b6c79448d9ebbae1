"""The gateway's tables (SQLAlchemy Core): API keys, stored hashed, and media URLs.

A key is shown once, when it is created; only its SHA-256 is stored (keys are 32 random
bytes, so a fast hash is enough: there is nothing to guess from). `prefix` is kept so
that an operator can tell keys apart in a listing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from services.common.bus import insert_ignore

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("channel", Integer, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# media_url sent with a request: intake stores files, not links, so the gateway keeps them.
media = Table(
    "media",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("media_url", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def add_key(conn: Connection, *, row: dict[str, Any]) -> None:
    conn.execute(insert(api_keys), [row])


def key_by_hash(conn: Connection, *, secret_sha256: str) -> Any:
    return conn.execute(select(api_keys).where(api_keys.c.secret_sha256 == secret_sha256)).first()


def list_keys(conn: Connection) -> list[Any]:
    return list(conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)))


def revoke_key(conn: Connection, *, key_id: str, now: datetime) -> Any:
    """Revoke a key (idempotent); returns its row, or None when there is no such key."""
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()


def add_media(conn: Connection, *, case_id: str, key_id: str, url: str, now: datetime) -> None:
    """The first URL sent for a case stays (a retry does not change it)."""
    insert_ignore(
        conn, media, {"case_id": case_id, "key_id": key_id, "media_url": url, "created_at": now}
    )


def media_of(conn: Connection, *, case_ids: list[str]) -> dict[str, str]:
    if not case_ids:
        return {}
    rows = conn.execute(select(media).where(media.c.case_id.in_(case_ids)))
    return {r.case_id: r.media_url for r in rows}
