"""API keys: one per client application, each mapped to a hotline identity — the intake
channel its cases come in by and who is calling (the actor intake and routing record).

A key reads `o311_<id>_<secret>`; the id names it in listings and on revocation, and
only the SHA-256 of the whole key is stored. `create_key` returns the key once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from lianxin.intake.v1 import resources_pb2 as intake_res
from services.common.timeutil import utcnow
from services.open311 import store

KEY = re.compile(r"^o311_([a-z0-9]{10})_[A-Za-z0-9_-]{43}$")
NAME = re.compile(r"^[\w .:@-]{1,100}$")
DEFAULT_CHANNEL = intake_res.CHANNEL_OPEN311


class KeyProblem(ValueError):
    """A key cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class Identity:
    """Who calls intake for a client application's requests."""

    key_id: str
    name: str
    channel: int
    actor: str


def channel_name(channel: int) -> str:
    return intake_res.Channel.Name(channel).removeprefix("CHANNEL_").lower()


def channel_value(name: str) -> int:
    try:
        value = intake_res.Channel.Value("CHANNEL_" + name.strip().upper())
    except ValueError:
        value = 0
    if not value:
        names = ", ".join(n.removeprefix("CHANNEL_").lower() for n in intake_res.Channel.keys()[1:])
        raise KeyProblem(f"unknown channel {name!r}; one of: {names}")
    return value


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    conn: Connection, *, name: str, channel: int = DEFAULT_CHANNEL, actor: str = ""
) -> tuple[str, dict[str, Any]]:
    """A new key for the application `name`; returns (the key, its stored row)."""
    name = name.strip()
    if not NAME.match(name):
        raise KeyProblem("name must be 1 to 100 letters, digits, spaces or . : @ _ -")
    actor = actor.strip() or f"open311:{name.replace(' ', '-')}"
    if len(actor) > 100 or not actor.isascii() or not actor.isprintable():
        raise KeyProblem("actor must be at most 100 printable ASCII characters")
    key_id = secrets.token_hex(5)
    key = f"o311_{key_id}_{secrets.token_urlsafe(32)}"
    row = {
        "id": key_id,
        "name": name,
        "channel": channel,
        "actor": actor,
        "secret_sha256": digest(key),
        "prefix": key[:15],
        "created_at": utcnow(),
        "revoked_at": None,
    }
    store.add_key(conn, row=row)
    return key, row


def identify(conn: Connection, key: str) -> Identity | None:
    """The identity of a valid, unrevoked key; None otherwise."""
    if not KEY.match(key):
        return None
    row = store.key_by_hash(conn, secret_sha256=digest(key))
    if row is None or row.revoked_at is not None:
        return None
    return Identity(key_id=row.id, name=row.name, channel=row.channel, actor=row.actor)


def revoke_key(conn: Connection, *, key_id: str, now: datetime | None = None) -> Any:
    row = store.revoke_key(conn, key_id=key_id.strip(), now=now or utcnow())
    if row is None:
        raise KeyProblem(f"no key {key_id!r}")
    return row
