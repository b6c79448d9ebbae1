"""Inbox-guarded consumers: a durable JetStream pull consumer whose handler's effects happen
once per event.

`EventConsumer` fetches a batch, runs the handler of each message, and writes each
handler's effect together with its `(consumer, event id)` inbox row; only then is the
message acked. The effects of a fetched batch go to the writer together
(`Database.write_batched`): one transaction for what is waiting, one inbox statement for
all its events, and effects that are `Batched` of one kind written together with one
statement per table (intake's read model does so). A redelivered event finds its inbox row
and has no second effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Connection, Table

from lianxin.events.v1 import event_pb2
from services.common import telemetry
from services.common.bus import insert_ignore_many, no_heartbeat, wait_any
from services.common.db import Database
from services.common.supervise import Backoff

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """Raised by a handler when a dependency is down: the event comes back after `delay`."""

    def __init__(self, message: str, delay: float = 2.0) -> None:
        super().__init__(message)
        self.delay = delay


Effect = Callable[[Connection], Any]
Apply = Callable[[Effect], Awaitable[bool]]
Handler = Callable[[event_pb2.Event, Apply], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """An effect that can be written together with others of its kind: `write(conn,
    items)` writes them all, one statement per table. The events of one writer group
    whose effects are `Batched` with the same `write` (in a row) get one call."""

    write: Callable[[Connection, list[Any]], None]
    item: Any

    def __call__(self, conn: Connection) -> None:
        self.write(conn, [self.item])


def apply_group(
    conn: Connection, *, inbox: Table, consumer: str, items: list[tuple[str, Effect]]
) -> list[bool]:
    """The effects of one consumer's events waiting in one writer group: one inbox
    statement for all, then the effects of the events that are new (a redelivery, or the
    same event twice in the group, has none), in order, consecutive `Batched` effects of
    one kind in one call. True per item whose effect was written."""
    now = datetime.now(UTC)
    rows = [{"consumer": consumer, "event_id": e, "processed_at": now} for e in dict(items)]
    new = insert_ignore_many(conn, inbox, rows, key="event_id")
    out: list[bool] = []
    run: list[Batched] = []

    def flush() -> None:
        if run:
            run[0].write(conn, [b.item for b in run])
            run.clear()

    for event_id, effect in items:
        first = event_id in new
        new.discard(event_id)
        out.append(first)
        if not first:
            continue
        if isinstance(effect, Batched):
            if run and run[0].write != effect.write:  # (bound methods: equal, not the same)
                flush()
            run.append(effect)
        else:
            flush()
            effect(conn)
    flush()
    return out


class EventConsumer:
    """A durable pull consumer whose handler's effects happen once per event.

    `run()` binds to the durable consumer (creating or updating it), then fetches and
    processes batches until `stop`. It survives what NATS does to it: a fetch or an ack
    that times out while the server restarts, a connection that is reconnecting, a
    consumer that vanished with a wiped store (it is created again). Nothing a message
    does ends the loop: a handler's error naks the message with back-off, a lost ack only
    means the event comes again and finds its inbox row. What is left (say, the database
    failing every fetch round) ends `run()` with the error, for the `Supervisor` to log
    and restart.
    """

    # Fetch rounds in a row that may fail (other than an empty fetch) before the
    # subscription is bound again from scratch.
    REBIND_AFTER = 5

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
        self.heartbeat: Callable[[], None] = no_heartbeat
        self._sub: JetStreamContext.PullSubscription | None = None
        self._apply_group = self._write_group  # one key for the writer's batching

    def _config(self) -> ConsumerConfig:
        subjects = (
            [self.filter_subject]
            if isinstance(self.filter_subject, str)
            else list(self.filter_subject)
        )
        return ConsumerConfig(
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

    async def start(self) -> None:
        """Create or update the durable consumer (its filter may have changed), then bind."""
        await self._unbind()
        await self.js.add_consumer(self.stream, self._config())
        self._sub = await self.js.pull_subscribe_bind(durable=self.name, stream=self.stream)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(base=0.25, cap=5.0)
        stopping = asyncio.ensure_future(stop.wait())
        failures = 0
        try:
            while not stop.is_set():
                if self._sub is None or failures >= self.REBIND_AFTER:
                    try:
                        await self.start()
                    except Exception as exc:
                        failures += 1
                        self._log_failure(failures, "binding", exc)
                        await wait_any(stop, timeout=backoff.next())
                        continue
                    if failures:
                        log.info("%s: bound to the durable consumer again", self.name)
                    failures = 0
                assert self._sub is not None
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
                    # Nothing to fetch; while the connection is down it says nothing, and
                    # the round is no heartbeat.
                    if self.js._nc.is_connected:
                        self.heartbeat()
                    continue
                except Exception as exc:
                    failures += 1
                    self._log_failure(failures, "fetch", exc)
                    await wait_any(stop, timeout=backoff.next())
                    continue
                if failures:
                    log.info("%s: fetching again", self.name)
                failures = 0
                backoff.reset()
                await asyncio.gather(*(self._process(m) for m in msgs))
                self.heartbeat()
        finally:
            stopping.cancel()

    def _log_failure(self, failures: int, what: str, exc: BaseException) -> None:
        if failures == 1 or failures % 20 == 0:
            log.warning(
                "%s: %s failed (%s: %s; %d in a row); retrying with back-off",
                self.name,
                what,
                type(exc).__name__,
                exc,
                failures,
            )

    async def _unbind(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:  # the connection may be closing or reconnecting
                log.debug("%s: unsubscribe failed", self.name, exc_info=True)

    async def stop(self) -> None:
        await self._unbind()

    async def _process(self, msg: Msg) -> None:
        """Handle one message; never raises (the loop must go on)."""
        try:
            await self._handle(msg)
        except Exception as exc:
            # An ack, nak or term that did not reach the server (it restarts, the link is
            # cut): the message comes back after ack_wait and the inbox decides.
            log.warning(
                "%s: could not settle a message on %s (%s: %s); it will be redelivered",
                self.name,
                msg.subject,
                type(exc).__name__,
                exc,
            )

    async def _handle(self, msg: Msg) -> None:
        try:
            event = event_pb2.Event.FromString(msg.data)
        except Exception:
            log.error("%s: unreadable event on %s; terminated", self.name, msg.subject)
            telemetry.EVENTS_CONSUMED.labels(self.name, "unreadable", "rejected").inc()
            await msg.term()
            return
        applied: list[bool] = []

        async def apply(effect: Effect) -> bool:
            ok = bool(await self.db.write_batched(self._apply_group, (event.id, effect)))
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
        if self.on_applied is not None and any(applied):
            self.on_applied()
        # The effect is committed with its inbox row: a plain ack is enough (an ack lost
        # with a restarting server only brings the event back as a duplicate).
        await msg.ack()

    def _write_group(self, conn: Connection, items: list[tuple[str, Effect]]) -> list[bool]:
        return apply_group(conn, inbox=self.inbox, consumer=self.name, items=items)
