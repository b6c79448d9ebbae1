"""The event path: JetStream stream, transactional outbox and relay, inbox-guarded consumers.

Producers write the business row and an outbox row in one transaction (`stage()`); the
`OutboxRelay` publishes outbox rows in order with `Nats-Msg-Id` = event id (JetStream
drops a duplicate inside the stream's window) and deletes them once JetStream has acked.
A crash between commit and publish only delays the event.

Consumers (`EventConsumer`) pull from a durable consumer, run the handler, and the
handler's effect is written with `(consumer, event id)` into the inbox table in the same
transaction (`apply()`); only then is the message acked. A redelivered event finds its
inbox row and has no second effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
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


def stage(conn: Connection, outbox: Table, items: list[Staged]) -> None:
    """Write events to the outbox inside the caller's transaction."""
    if not items:
        return
    now = datetime.now(UTC)
    conn.execute(
        insert(outbox),
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


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was new."""
    if conn.dialect.name == "postgresql":
        stmt: Any = pg_insert(table).values(values).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(table).values(values).on_conflict_do_nothing()
    # psycopg reports rowcount -1 for this statement unless SQLAlchemy is asked to keep it.
    return conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount == 1


def claim(conn: Connection, inbox: Table, consumer: str, event_id: str) -> bool:
    """Record (consumer, event id); False when it was already there (a redelivery)."""
    return insert_ignore(
        conn, inbox, {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    )


# --- NATS --------------------------------------------------------------------------------


async def connect(url: str, *, name: str) -> NATS:
    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=telemetry.nats_error_logger(url, name),
    )


async def ensure_stream(js: JetStreamContext, name: str) -> None:
    """Create the event stream (file storage, 2 min dedupe window) if it is missing."""
    config = StreamConfig(
        name=name, subjects=STREAM_SUBJECTS, storage=StorageType.FILE, duplicate_window=120.0
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except Exception:
            # Two services starting at once: the other one created it.
            await js.stream_info(name)


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
        while not stop.is_set():
            try:
                sent = await self.publish_pending()
            except Exception as exc:
                telemetry.RELAY_FAILURES.labels(self.service).inc()
                log.warning(
                    "%s outbox relay: publish failed (%s: %s); will retry",
                    self.service,
                    type(exc).__name__,
                    exc,
                )
                sent = 0
            if sent >= self.batch:
                continue
            self._wake.clear()
            await wait_any(self._wake, stop, timeout=self.poll_seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        o = self.outbox

        def load(conn: Connection) -> tuple[list[Any], int]:
            rows = conn.execute(
                select(o.c.seq, o.c.event_id, o.c.subject, o.c.payload, o.c.traceparent)
                .order_by(o.c.seq)
                .limit(self.batch)
            ).all()
            # Counting is only worth a query when the backlog is longer than one batch.
            backlog = (
                conn.execute(select(func.count()).select_from(o)).scalar_one()
                if len(rows) == self.batch
                else len(rows)
            )
            return list(rows), backlog

        rows, backlog = await self.db.read(load)
        self._backlog.set(backlog)
        if not rows:
            return 0

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
        done, failed = [], []
        for row, f in zip(rows, futures, strict=True):
            if f.cancelled():
                failed.append(TimeoutError(f"no ack from JetStream for {row.event_id}"))
            elif f.exception() is not None:
                failed.append(f.exception())
            else:
                done.append(row.seq)
                self._published(row.subject)
        if done:
            await self.db.write(lambda conn: conn.execute(delete(o).where(o.c.seq.in_(done))))
            self._backlog.set(backlog - len(done))
        if failed:
            raise failed[0]
        return len(done)


async def wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Wait until any of `events` is set, or `timeout` passes."""
    tasks = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


# --- consumers ---------------------------------------------------------------------------


class RetryLater(Exception):
    """Raised by a handler when a dependency is down: the event comes back after `delay`."""

    def __init__(self, message: str, delay: float = 2.0) -> None:
        super().__init__(message)
        self.delay = delay


Effect = Callable[[Connection], Any]
Apply = Callable[[Effect], Awaitable[bool]]
Handler = Callable[[event_pb2.Event, Apply], Awaitable[None]]


class EventConsumer:
    """A durable pull consumer whose handler's effects happen once per event."""

    def __init__(
        self,
        *,
        name: str,
        db: Database,
        js: JetStreamContext,
        inbox: Table,
        stream: str,
        filter_subject: str | Sequence[str],
        handler: Handler,
        ack_wait: float = 30.0,
        batch: int = 64,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.db = db
        self.js = js
        self.inbox = inbox
        self.stream = stream
        self.filter_subject = filter_subject
        self.handler = handler
        self.ack_wait = ack_wait
        self.batch = batch
        self.on_applied = on_applied
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        subjects = (
            [self.filter_subject]
            if isinstance(self.filter_subject, str)
            else list(self.filter_subject)
        )
        config = ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=1024,
            **(
                {"filter_subject": subjects[0]}
                if len(subjects) == 1
                else {"filter_subjects": subjects}
            ),
        )
        # Create or update the durable consumer (its filter may have changed), then bind.
        await self.js.add_consumer(self.stream, config)
        self._sub = await self.js.pull_subscribe_bind(durable=self.name, stream=self.stream)

    async def run(self, stop: asyncio.Event) -> None:
        assert self._sub is not None, "start() first"
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                # A fetch waits up to 5 s for messages; shutdown does not wait for it (a
                # message fetched but not acked is simply delivered again later).
                fetch = asyncio.ensure_future(self._sub.fetch(self.batch, timeout=5.0))
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    return
                try:
                    msgs = fetch.result()
                except TimeoutError:
                    continue
                except Exception as exc:
                    log.warning("%s: fetch failed (%s)", self.name, exc)
                    await wait_any(stop, timeout=0.5)
                    continue
                await asyncio.gather(*(self._process(m) for m in msgs))
        finally:
            stopping.cancel()

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # the connection may already be closing
                log.debug("%s: unsubscribe failed", self.name, exc_info=True)
            self._sub = None

    async def _process(self, msg: Msg) -> None:
        try:
            event = event_pb2.Event.FromString(msg.data)
        except Exception:
            log.error("%s: unreadable event on %s; terminated", self.name, msg.subject)
            telemetry.EVENTS_CONSUMED.labels(self.name, "unreadable", "rejected").inc()
            await msg.term()
            return
        applied: list[bool] = []

        async def apply(effect: Effect) -> bool:
            def job(conn: Connection) -> bool:
                if not claim(conn, self.inbox, self.name, event.id):
                    return False
                effect(conn)
                return True

            ok = await self.db.write(job)
            applied.append(ok)
            return ok

        with telemetry.consumer_span(self.name, msg.subject, msg.headers, event) as span:
            try:
                await self.handler(event, apply)
            except RetryLater as exc:
                log.warning("%s: %s: retry in %.1fs (%s)", self.name, event.type, exc.delay, exc)
                telemetry.EVENTS_CONSUMED.labels(self.name, event.type, "retry").inc()
                await msg.nak(delay=exc.delay)
                return
            except Exception as exc:
                telemetry.span_failed(span, exc)
                delay = min(30.0, 0.5 * 2 ** min(msg.metadata.num_delivered, 6))
                log.exception(
                    "%s: %s %s failed; retry in %.1fs", self.name, event.type, event.id, delay
                )
                telemetry.EVENTS_CONSUMED.labels(self.name, event.type, "retry").inc()
                await msg.nak(delay=delay)
                return
        outcome = "applied" if any(applied) else ("duplicate" if applied else "ignored")
        telemetry.EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
        await msg.ack_sync()
        if self.on_applied is not None and any(applied):
            self.on_applied()
