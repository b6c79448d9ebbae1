"""Who may do what on NATS: one user per service, allowed to publish only its own subjects.

`SERVICE_BUS` is the table (rules as data): the event subjects each service owns, the
durable consumers it binds and the core subjects it listens to. `permissions()` turns a
row into nats-server permissions, with the JetStream API narrowed to what the service
uses: the stream's info/create/update (every service makes sure the stream exists), its
own consumers' create/info/next-message and acks, and replies on its own inbox prefix
(`_INBOX_<user>`, see `bus.NatsAuth`) — no service can delete the stream, pull or ack
another service's consumer, or read another's replies.

`embedded_users(data_dir)` gives `lianxin up` a password per service, made once and
kept in `<data_dir>/nats/credentials.json` (mode 0600), plus `ops`, a user with every
right for an operator's tools (`nats` CLI). A cluster's NATS is configured the same way
from `permissions()` (README, "Transport security"; the chart values show it).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPS_USER = "ops"


@dataclass(frozen=True)
class BusRole:
    publishes: tuple[str, ...]  # subjects the service publishes (its events, core messages)
    consumers: tuple[str, ...]  # durable JetStream consumers it binds
    listens: tuple[str, ...] = ()  # core subjects it subscribes to
    publishes_deny: tuple[str, ...] = ()  # exceptions to `publishes`


# Kept equal to each service's events.py (CONSUMER, SUBJECTS) and app.py (listen) by
# tests/common/test_nats_auth.py.
SERVICE_BUS: dict[str, BusRole] = {
    "intake": BusRole(publishes=("lianxin.case.received",), consumers=("intake-read-model",)),
    "routing": BusRole(
        publishes=("lianxin.case.>",),
        publishes_deny=("lianxin.case.received",),  # intake's
        consumers=("routing",),
        listens=("lianxin.registry.>",),
    ),
    "registry": BusRole(publishes=("lianxin.registry.>",), consumers=("registry-cases",)),
    "notify": BusRole(
        publishes=("lianxin.notify.>", "lianxin.push.staff.>"),  # results; app push (core)
        consumers=("notify",),
        listens=("lianxin.registry.>",),
    ),
}


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user}"


def permissions(service: str, stream: str = "LIANXIN") -> dict[str, Any]:
    """nats-server `permissions` of a service's user."""
    role = SERVICE_BUS[service]
    js = [
        "$JS.API.INFO",
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.STREAM.CREATE.{stream}",
        f"$JS.API.STREAM.UPDATE.{stream}",
    ]
    for durable in role.consumers:
        js += [
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    publish: dict[str, list[str]] = {"allow": [*role.publishes, *js]}
    if role.publishes_deny:
        publish["deny"] = list(role.publishes_deny)
    return {
        "publish": publish,
        "subscribe": {"allow": [f"{inbox_prefix(service)}.>", *role.listens]},
    }


@dataclass(frozen=True)
class NatsUser:
    name: str
    password: str = field(repr=False)
    permissions: dict[str, Any] | None = None  # None: every right

    def config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"user": self.name, "password": self.password}
        if self.permissions is not None:
            entry["permissions"] = self.permissions
        return entry


def service_users(passwords: dict[str, str], stream: str = "LIANXIN") -> list[NatsUser]:
    """A user per service in `passwords` (with its permissions), and `ops` if there."""
    users = [
        NatsUser(name, passwords[name], permissions(name, stream))
        for name in SERVICE_BUS
        if name in passwords
    ]
    if OPS_USER in passwords:
        users.append(NatsUser(OPS_USER, passwords[OPS_USER]))
    return users


def credentials_file(data_dir: Path) -> Path:
    return data_dir / "nats" / "credentials.json"


def embedded_passwords(data_dir: Path) -> dict[str, str]:
    """Each service's (and ops's) NATS password: read from the data dir, made the first
    time (random, 256 bits), written owner-only."""
    path = credentials_file(data_dir)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        stored = {}
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{path}: unreadable NATS credentials ({exc}); remove it") from exc
    wanted = [*SERVICE_BUS, OPS_USER]
    if all(isinstance(stored.get(n), str) and stored[n] for n in wanted):
        os.chmod(path, 0o600)
        return {n: stored[n] for n in wanted}
    passwords = {n: stored.get(n) or secrets.token_urlsafe(32) for n in wanted}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(passwords, f, indent=2)
    tmp.replace(path)
    return passwords


def embedded_users(data_dir: Path, stream: str = "LIANXIN") -> list[NatsUser]:
    return service_users(embedded_passwords(data_dir), stream)
