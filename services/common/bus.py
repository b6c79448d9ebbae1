"""The event path: JetStream stream, transactional outbox and relay, inbox-guarded consumers.

Producers write the business row and an outbox row in one transaction (`stage()`); the
`OutboxRelay` publishes outbox rows in order with `Nats-Msg-Id` = event id (JetStream
drops a duplicate inside the stream's window) and deletes them once JetStream has acked.
A crash between commit and publish only delays the event.

Consumers (`services/common/consumer.py`) pull from a durable consumer, run the handler,
and the handler's effect is written with `(consumer, event id)` into the inbox table in
the same transaction; only then is the message acked. A redelivered event finds its inbox
row and has no second effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import (
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from lianxin.events.v1 import event_pb2
from services.common import telemetry
from services.common.db import Database
from services.common.ids import uuid7
from services.common.supervise import Backoff

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "lianxin."
STREAM_SUBJECTS = ["lianxin.case.>", "lianxin.registry.>", "lianxin.notify.>"]


# --- tables ------------------------------------------------------------------------------


def _outbox_columns() -> list[Any]:
    return [
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("traceparent", String(100), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ]


def _inbox_columns() -> list[Any]:
    return [
        Column("consumer", String(64), nullable=False),
        Column("event_id", String(36), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id"),
    ]


def bus_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and inbox tables, added to a service's own metadata."""
    return (
        Table("outbox", metadata, *_outbox_columns()),
        Table("inbox", metadata, *_inbox_columns()),
    )


def create_bus_tables_v1(op: Any) -> None:
    """For a service's first Alembic migration: the outbox and inbox tables as of v1."""
    op.create_table("outbox", *_outbox_columns())
    op.create_table("inbox", *_inbox_columns())


# --- events ------------------------------------------------------------------------------


def new_event(type_: str, *, source: str, case_id: str = "", **body: Any) -> event_pb2.Event:
    """An envelope with a fresh UUIDv7 id and the time now; `body` names one oneof field."""
    ev = event_pb2.Event(id=uuid7(), type=type_, source=source, case_id=case_id)
    ev.time.FromDatetime(datetime.now(UTC))
    for name, value in body.items():
        getattr(ev, name).CopyFrom(value)
    return ev


@dataclass(frozen=True)
class Staged:
    """An event ready to be written to the outbox, with the trace it was made under."""

    event: event_pb2.Event
    traceparent: str | None

    @property
    def subject(self) -> str:
        return SUBJECT_PREFIX + self.event.type


def staged(event: event_pb2.Event) -> Staged:
    """Capture the caller's trace context now (the writer thread has none)."""
    return Staged(event, telemetry.inject_headers().get("traceparent"))


_INSERT: dict[Table, Any] = {}


def _insert_stmt(table: Table) -> Any:
    stmt = _INSERT.get(table)
    if stmt is None:
        stmt = _INSERT[table] = insert(table)
    return stmt


def stage(conn: Connection, outbox: Table, items: list[Staged]) -> None:
    """Write events to the outbox inside the caller's transaction."""
    if not items:
        return
    now = datetime.now(UTC)
    conn.execute(
        _insert_stmt(outbox),
        [
            {
                "event_id": s.event.id,
                "subject": s.subject,
                "payload": s.event.SerializeToString(),
                "traceparent": s.traceparent,
                "created_at": now,
            }
            for s in items
        ],
    )


_INSERT_IGNORE: dict[tuple[str, Table], Any] = {}


def insert_ignore_stmt(conn: Connection, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for `table`, built once per dialect."""
    key = (conn.dialect.name, table)
    stmt = _INSERT_IGNORE.get(key)
    if stmt is None:
        make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = _INSERT_IGNORE[key] = make(table).on_conflict_do_nothing()
    return stmt


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was new."""
    # psycopg reports rowcount -1 for this statement unless SQLAlchemy is asked to keep it.
    result = conn.execute(
        insert_ignore_stmt(conn, table), values, execution_options={"preserve_rowcount": True}
    )
    return result.rowcount == 1


def insert_ignore_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], key: str
) -> set[Any]:
    """INSERT … ON CONFLICT DO NOTHING of many rows in one statement; the `key` column's
    values of the rows that were new."""
    if not rows:
        return set()
    stmt = insert_ignore_stmt(conn, table).returning(table.c[key])
    return set(conn.execute(stmt, rows).scalars())


# --- NATS --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NatsAuth:
    """How a process identifies itself to NATS: a user and password (each Lianxin service
    has its own, with permissions on its own subjects) and, for TLS, the CA that signs the
    servers' certificates and optionally a client certificate."""

    user: str = ""
    password: str = ""
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Reply subjects: `_INBOX_<service>` for a service with a user (its permissions allow
    # only its own, so no service reads another's replies or pulled messages).
    inbox_prefix: str = "_INBOX"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls_ca_file is None and self.tls_cert_file is None:
            return None
        ctx = ssl.create_default_context(cafile=str(self.tls_ca_file) if self.tls_ca_file else None)
        if self.tls_cert_file is not None:
            ctx.load_cert_chain(
                str(self.tls_cert_file), str(self.tls_key_file) if self.tls_key_file else None
            )
        return ctx


def seed_urls(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222,…` → each seed URL (a cluster: give every node)."""
    return [u.strip() for u in url.split(",") if u.strip()]


async def connect(url: str, *, name: str, auth: NatsAuth | None = None) -> NATS:
    """A connection that never gives up: every seed URL (`url` is comma-separated), and
    after a disconnect it reconnects to any of them, forever. A refused user or password
    at the first connect is a configuration error, not an outage: it raises at once
    (`nats.errors.AuthorizationError`) instead of being retried forever."""
    auth = auth or NatsAuth()
    extra: dict[str, Any] = {}
    if auth.user:
        extra.update(user=auth.user, password=auth.password)
    tls = auth.ssl_context()
    if tls is not None:
        extra["tls"] = tls
    log_error = telemetry.nats_error_logger(url, name)
    refused: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

    async def on_error(exc: Exception) -> None:
        denied = isinstance(exc, nats.errors.AuthorizationError) or (
            "authorization violation" in str(exc).lower()
        )
        if denied and not refused.done():
            refused.set_result(exc)
        await log_error(exc)

    nc = NATS()
    connecting = asyncio.ensure_future(
        nc.connect(
            servers=seed_urls(url),
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            error_cb=on_error,
            inbox_prefix=auth.inbox_prefix,
            **extra,
        )
    )
    await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
        with contextlib.suppress(Exception):
            await nc.close()
        raise nats.errors.AuthorizationError()
    refused.cancel()
    connecting.result()
    return nc


async def ensure_stream(
    js: JetStreamContext, name: str, *, attempts: int = 8, **limits: Any
) -> None:
    """`_ensure_stream`, tried again while JetStream does not answer in time (a cluster
    electing a leader, or creating the stream for another service that started at once)."""
    backoff = Backoff(base=0.5, cap=5.0)
    for attempt in range(1, attempts + 1):
        try:
            await _ensure_stream(js, name, **limits)
            return
        except nats.errors.TimeoutError as exc:
            if attempt == attempts:
                raise RuntimeError(f"stream {name}: JetStream did not answer ({exc})") from exc
            log.warning("stream %s: JetStream did not answer (try %d); again", name, attempt)
            await asyncio.sleep(backoff.next())


async def _ensure_stream(
    js: JetStreamContext,
    name: str,
    *,
    replicas: int = 1,
    max_age_seconds: float = 0.0,
    max_bytes: int = -1,
    discard: str = "old",
) -> None:
    """Create the event stream (file storage, 2 min dedupe window) if it is missing; if it
    exists with other limits (replicas, max age, max bytes, discard policy), update it.

    Only those four are changed on an existing stream: JetStream applies them in place
    (a replica count change re-replicates; lower limits drop the oldest events, which is
    what the operator asked for). Subjects and storage are never touched here. A server
    that cannot do what is asked (R3 on a single server) raises: the service then does not
    start, and its log says why, instead of running on a stream it was not configured for.
    """
    from nats.js.api import DiscardPolicy  # local: this function is the one place using it

    wanted = {
        "num_replicas": replicas,
        "max_age": float(max_age_seconds),
        "max_bytes": int(max_bytes),
        "discard": DiscardPolicy(discard),
    }
    config = StreamConfig(
        name=name,
        subjects=STREAM_SUBJECTS,
        storage=StorageType.FILE,
        duplicate_window=120.0,
        **wanted,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("created stream %s (%s)", name, wanted)
            return
        except Exception as exc:
            # Two services starting at once: the other one created it. If not, the server
            # refused the stream: say why.
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                raise RuntimeError(f"stream {name}: cannot create it with {wanted}: {exc}") from exc
    have = info.config
    current = {
        "num_replicas": have.num_replicas or 1,
        "max_age": float(have.max_age or 0.0),
        "max_bytes": -1 if have.max_bytes is None else int(have.max_bytes),
        "discard": have.discard or DiscardPolicy.OLD,
    }
    changed = {k: (current[k], v) for k, v in wanted.items() if current[k] != v}
    if not changed:
        return
    for key, value in wanted.items():
        setattr(have, key, value)
    try:
        await js.update_stream(have)
    except Exception as exc:
        raise RuntimeError(f"stream {name}: cannot apply {changed} (from → to): {exc}") from exc
    log.warning("stream %s updated: %s (from → to)", name, changed)


# --- the relay ---------------------------------------------------------------------------


class OutboxRelay:
    """Publishes outbox rows in order and deletes them after JetStream's ack."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        js: JetStreamContext,
        outbox: Table,
        batch: int = 256,
        poll_seconds: float = 1.0,
        ack_timeout: float = 10.0,
    ) -> None:
        self.service = service
        self.ack_timeout = ack_timeout
        self._published_by_type: dict[str, Any] = {}
        self.db = db
        self.js = js
        self.outbox = outbox
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._backlog = telemetry.OUTBOX_BACKLOG.labels(service)
        self.heartbeat: Callable[[], None] = no_heartbeat

    def kick(self) -> None:
        """Tell the relay there is something new (called after a commit that staged)."""
        self._wake.set()

    def _published(self, subject: str) -> None:
        child = self._published_by_type.get(subject)
        if child is None:
            child = self._published_by_type[subject] = telemetry.EVENTS_PUBLISHED.labels(
                self.service, subject.removeprefix(SUBJECT_PREFIX)
            )
        child.inc()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop`; a failed round (NATS or the database down) is retried with
        back-off, and logged when it starts failing and when it recovers."""
        backoff = Backoff(base=0.25, cap=10.0)
        failing = False
        while not stop.is_set():
            try:
                sent = await self.publish_pending()
            except Exception as exc:
                telemetry.RELAY_FAILURES.labels(self.service).inc()
                if not failing:
                    log.warning(
                        "%s outbox relay: publishing failed (%s: %s); retrying with back-off",
                        self.service,
                        type(exc).__name__,
                        exc,
                    )
                failing = True
                await wait_any(stop, timeout=backoff.next())
                continue
            if failing:
                log.info("%s outbox relay: publishing again", self.service)
                failing = False
                backoff.reset()
            self.heartbeat()
            if sent >= self.batch:
                continue
            self._wake.clear()
            await wait_any(self._wake, stop, timeout=self.poll_seconds)

    def _pending(self) -> Any:
        o = self.outbox
        return (
            select(o.c.seq, o.c.event_id, o.c.subject, o.c.payload, o.c.traceparent)
            .order_by(o.c.seq)
            .limit(self.batch)
        )

    def _count(self, conn: Connection, loaded: int) -> int:
        # Counting is only worth a query when the backlog is longer than one batch.
        if loaded < self.batch:
            return loaded
        return int(conn.execute(select(func.count()).select_from(self.outbox)).scalar_one())

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published.

        On PostgreSQL the batch is claimed: its rows are locked `FOR UPDATE SKIP LOCKED`
        in a transaction that deletes them once JetStream has acked, so replicas sharing
        the database publish disjoint batches, and a relay that dies mid-batch leaves its
        rows to the next (its transaction rolls back). SQLite has one writer process (the
        services refuse a second), so there one relay reads and deletes."""
        if self.db.engine.dialect.name == "postgresql":
            return await self._publish_claimed()
        o = self.outbox

        def load(conn: Connection) -> tuple[list[Any], int]:
            rows = conn.execute(self._pending()).all()
            return list(rows), self._count(conn, len(rows))

        rows, backlog = await self.db.read(load)
        self._backlog.set(backlog)
        if not rows:
            return 0
        done, failed = await self._publish(rows)
        if done:
            await self.db.write(lambda conn: conn.execute(delete(o).where(o.c.event_id.in_(done))))
            self._backlog.set(backlog - len(done))
        if failed:
            raise failed[0]
        return len(done)

    async def _publish_claimed(self) -> int:
        o = self.outbox
        conn = await asyncio.to_thread(self.db.engine.connect)
        try:

            def claim_batch() -> tuple[list[Any], int]:
                conn.begin()
                rows = conn.execute(self._pending().with_for_update(skip_locked=True)).all()
                return list(rows), self._count(conn, len(rows))

            rows, backlog = await asyncio.to_thread(claim_batch)
            self._backlog.set(backlog)
            if not rows:
                await asyncio.to_thread(conn.rollback)
                return 0
            done, failed = await self._publish(rows)

            def finish() -> None:
                if done:
                    conn.execute(delete(o).where(o.c.event_id.in_(done)))
                conn.commit()

            await asyncio.to_thread(finish)
            self._backlog.set(max(0, backlog - len(done)))
        finally:
            await asyncio.to_thread(conn.close)
        if failed:
            raise failed[0]
        return len(done)

    async def _publish(self, rows: list[Any]) -> tuple[list[str], list[BaseException]]:
        """Publish `rows`; the event ids JetStream acked, and the errors of the others."""
        # Pipelined: every message is on the wire before the first ack is awaited; the acks
        # come back on one reply subscription (no task or timer per message).
        futures: list[asyncio.Future[Any]] = []
        for row in rows:
            headers = {"Nats-Msg-Id": row.event_id}
            headers.update(telemetry.producer_span(row.subject, row.event_id, row.traceparent))
            futures.append(
                await self.js.publish_async(row.subject, bytes(row.payload), headers=headers)
            )
        _, late = await asyncio.wait(futures, timeout=self.ack_timeout)
        for f in late:
            f.cancel()  # frees its place among nats.py's pending publishes
        done: list[str] = []
        failed: list[BaseException] = []
        for row, f in zip(rows, futures, strict=True):
            if f.cancelled():
                failed.append(TimeoutError(f"no ack from JetStream for {row.event_id}"))
            elif (exc := f.exception()) is not None:
                failed.append(exc)
            else:
                done.append(row.event_id)
                self._published(row.subject)
        return done, failed


def no_heartbeat() -> None:
    """The default heartbeat: the `Supervisor` replaces it."""


async def wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Wait until any of `events` is set, or `timeout` passes."""
    tasks = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
