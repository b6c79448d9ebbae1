"""The sender: claims due deliveries, sends each, and records each outcome at once.

It sends continuously, at most `concurrency` at once. Whenever slots are free, a round
reads as many due deliveries as there are free slots (at most `batch`; PENDING, or FAILED
whose back-off has passed), puts off those that must wait (non-urgent SMS in the quiet
hours, the per-number SMS rate limit, counting the SMS still on their way — neither counts
an attempt) and **claims** the rest in one transaction: their `next_attempt_at` moves
`lease` seconds ahead, on the condition that it has not moved since they were read. A
claimed delivery is due for nobody else (another round, another replica) until its lease
runs out. Then each is sent in a task of its own — a slow receiver holds only its own slot
— and its outcome is committed as soon as its send returns: SENT, FAILED with the error
and the next attempt (exponential back-off with full jitter), or DEAD — the dead letter,
with its reason — after the retry budget or a permanent error. Outcomes that finish while
the writer is busy are committed together, the sent ones with one statement per table.
Each DEAD is published as `notify.dead` through the outbox; each SENT as
`notify.delivered` only with `publish_delivered` (nothing in Lianxin consumes it, and it
was ~6 events a case).

So a crash repeats only what was in flight — at most `concurrency` deliveries are between
their send and its committed outcome at any moment: such a delivery is due again when its
lease ends and is sent once more, with the same delivery id (the `Idempotency-Key` of
every HTTP delivery) for the receiver to drop. A delivery claimed but not yet sent is sent
once, after the lease. On stop, the sends under way finish and are recorded first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

from sqlalchemy import Connection, and_, or_, update

from lianxin.events.v1 import event_pb2
from lianxin.notify.v1 import resources_pb2 as res
from services.common import bus
from services.common.bus import wait_any
from services.common.db import Database
from services.common.supervise import Backoff
from services.common.timeutil import utcnow
from services.notify import domain, metrics, store
from services.notify.channels import SOURCE, Channel, Clock, PermanentError

log = logging.getLogger(__name__)


class Sender:
    """Sends due deliveries; see the module's docstring for the guarantees."""

    def __init__(
        self,
        *,
        db: Database,
        channels: Mapping[int, Channel],
        batch: int = 100,
        poll_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        concurrency: int = 32,
        publish_delivered: bool = False,
        max_attempts: int | None = None,
        retry: domain.RetryPolicy | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        quiet: tuple[dt_time, dt_time] | None = None,
        sms_limit: int = 0,
        sms_window: timedelta = timedelta(hours=1),
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.publish_delivered = publish_delivered
        # At most this many deliveries are between their send and its recorded outcome:
        # the most a crash can make go out twice.
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        retry = retry or domain.RetryPolicy()
        if max_attempts is not None:
            retry = domain.RetryPolicy(max_attempts, retry.base_seconds, retry.max_seconds)
        self.retry = retry
        self.clock = clock
        self.rng = rng or random.Random()
        self.quiet = quiet
        self.sms_limit = sms_limit
        self.sms_window = sms_window
        self.on_recorded = on_recorded
        self.heartbeat: Callable[[], None] = lambda: None  # set by the Supervisor
        self._wake = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], Any] = {}  # sends under way → their rows

    @property
    def available(self) -> frozenset[int]:
        return frozenset(self.channels)

    def kick(self) -> None:
        """Something new was recorded (called after the event's commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send continuously: whenever a slot is free and something is due, claim as many
        as there are free slots and start their sends. A slow receiver holds only its own
        slot (it used to hold up every delivery claimed after it, up to its timeout)."""
        backoff = Backoff(base=0.25, cap=10.0)
        failing = False
        # A round costs a read and a commit: while sends are under way, wait until half
        # the slots are free (or a poll interval has passed) rather than claim one by one.
        refill = max(1, self._concurrency // 2)
        last_round = 0.0
        try:
            while not stop.is_set():
                self._wake.clear()
                free = self._concurrency - len(self._inflight)
                waited = time.monotonic() - last_round
                if free <= 0:  # a finished send sets _wake
                    await wait_any(self._wake, stop, timeout=self.poll_seconds)
                    continue
                if free < refill and waited < self.poll_seconds:
                    await wait_any(self._wake, stop, timeout=self.poll_seconds - waited)
                    continue
                last_round = time.monotonic()
                limit = min(self.batch, free)
                try:
                    taken = await self._start_due(limit)
                except Exception as exc:
                    if not failing:
                        log.warning(
                            "notify sender: a round failed (%s: %s); retrying with back-off",
                            type(exc).__name__,
                            exc,
                        )
                    failing = True
                    await wait_any(stop, timeout=backoff.next())
                    continue
                if failing:
                    log.info("notify sender: sending again")
                    failing = False
                    backoff.reset()
                self.heartbeat()
                if taken >= limit:
                    continue  # more may be due
                await wait_any(self._wake, stop, timeout=self.poll_seconds)
        finally:
            # What was claimed is sent and recorded before the sender stops (each send
            # ends within its channel's timeout).
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)

    async def send_due(self) -> int:
        """One round: claim up to `batch` due deliveries (no more than free slots), send
        them and wait for their outcomes; returns how many were taken (sent, failed or put
        off)."""
        limit = min(self.batch, self._concurrency - len(self._inflight))
        taken = await self._start_due(limit)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        return taken

    async def _start_due(self, limit: int) -> int:
        """Claim up to `limit` due deliveries and start sending them (a task each);
        returns how many were taken (started or put off)."""
        if limit <= 0:
            return 0
        now = self.clock()
        # No more than free slots: a claimed delivery waiting for a slot could otherwise
        # outlive its lease under load and be claimed (and sent) again.
        rows = await self.db.read(lambda c: store.due_deliveries(c, now=now, limit=limit))
        if not rows:
            return 0
        later: dict[str, datetime] = {}
        for r in rows:
            at = domain.not_before(now, channel=r.channel, urgent=bool(r.urgent), quiet=self.quiet)
            if at > now:
                later[r.id] = at
        sms = [r for r in rows if r.channel == res.DELIVERY_CHANNEL_SMS and r.id not in later]
        if sms and self.sms_limit > 0:
            addresses = sorted({r.address for r in sms})
            since = now - self.sms_window
            sent = await self.db.read(
                lambda c: store.sms_sent_since(c, addresses=addresses, since=since)
            )
            # An SMS still on its way counts as sent now.
            for row in self._inflight.values():
                if row.channel == res.DELIVERY_CHANNEL_SMS and row.address in sent:
                    sent[row.address].append(now)
            later.update(
                domain.rate_limited(
                    sms, sent, limit=self.sms_limit, window=self.sms_window, now=now
                )
            )
        go = [r for r in rows if r.id not in later]
        claimed = await self.db.write(lambda conn: self._claim(conn, go, later, now))
        for r in go:
            if r.id in claimed:
                task = asyncio.create_task(self._send(r))
                self._inflight[task] = r
                task.add_done_callback(self._sent)
        return len(rows)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("notify sender: a send failed (%s: %s)", type(exc).__name__, exc)
        if self.on_recorded is not None:
            self.on_recorded()

    def _claim(
        self, conn: Connection, rows: list[Any], later: dict[str, datetime], now: datetime
    ) -> set[str]:
        """Put off `later`, lease `rows`; the ids leased (a row that moved is skipped)."""
        for delivery_id, at in later.items():
            store.postpone(conn, delivery_id=delivery_id, until=at)
        if not rows:
            return set()
        d = store.deliveries
        until = now + self.lease
        claimed: set[str] = set()
        # One statement for the batch: each row is leased only if it is still due as read.
        result = conn.execute(
            update(d)
            .where(
                # By the key: `status + 0` keeps SQLite off the status index, which would
                # read every due delivery (the whole backlog) for a batch of a few.
                d.c.id.in_([r.id for r in rows]),
                (d.c.status + 0).in_(store.RETRYABLE),
                or_(
                    *(and_(d.c.id == r.id, d.c.next_attempt_at == r.next_attempt_at) for r in rows)
                ),
            )
            .values(next_attempt_at=until)
            .returning(d.c.id)
        )
        claimed.update(result.scalars())
        return claimed

    async def _send(self, row: Any) -> None:
        async with self._slots:
            await self._send_and_record(row)

    async def _send_and_record(self, row: Any) -> None:
        error, permanent = await self._attempt(row)
        metrics.record_attempts([row], [(error, permanent)], self.clock())
        try:
            status, recorded = await self.db.write_batched(
                self._record_outcomes, (row, error, permanent)
            )
        except Exception as exc:
            # Not recorded: the lease runs out and the delivery is sent again (same id).
            log.warning(
                "delivery %s: outcome not recorded (%s: %s); it will be retried",
                row.id,
                type(exc).__name__,
                exc,
            )
            return
        if recorded:
            metrics.DELIVERIES.labels(
                domain.channel_label(row.channel), domain.status_label(status)
            ).inc()

    async def _attempt(self, row: Any) -> tuple[str | None, bool]:
        """(None, _) when sent, else (the error, whether it is permanent)."""
        channel = self.channels.get(row.channel)
        if channel is None:
            return f"no {domain.channel_label(row.channel)} channel is configured", True
        try:
            await channel.send(domain.outgoing(row))
        except PermanentError as exc:
            error, permanent = str(exc), True
        except Exception as exc:
            error, permanent = f"{type(exc).__name__}: {exc}", False
        else:
            return None, False
        error = domain.mask_phones(error)
        log.warning(
            "delivery %s to %s over %s failed: %s",
            row.id,
            domain.mask_address(row.recipient_kind, row.address),
            channel.name,
            error,
        )
        return error, permanent

    def _record_outcomes(
        self, conn: Connection, outcomes: list[tuple[Any, str | None, bool]]
    ) -> list[tuple[int, bool]]:
        """The outcomes that finished while the writer was busy, in one transaction: the
        sent ones in one update and one insert, each failure on its own (rare). Per
        outcome, the status recorded and whether it was (False: the delivery had moved on,
        e.g. sent by another replica after this one's lease ran out)."""
        now = self.clock()
        sent_ids = [row.id for row, error, _ in outcomes if error is None]
        sent = store.mark_sent_many(conn, ids=sent_ids, now=now)
        if sent and self.publish_delivered:
            staged = [self._result(conn, "notify.delivered", i) for i in sent_ids if i in sent]
            bus.stage(conn, store.outbox, staged)
        return [
            (res.DELIVERY_STATUS_SENT, row.id in sent)
            if error is None
            else self._record_failure(conn, row, error, permanent, now)
            for row, error, permanent in outcomes
        ]

    def _record_failure(
        self, conn: Connection, row: Any, error: str, permanent: bool, now: datetime
    ) -> tuple[int, bool]:
        attempts = row.attempts + 1
        dead = permanent or self.retry.exhausted(attempts - row.retry_base)
        retry_at = domain.not_before(
            now + self.retry.delay(attempts - row.retry_base, self.rng),
            channel=row.channel,
            urgent=bool(row.urgent),
            quiet=self.quiet,
        )
        ok = store.mark_failed(
            conn,
            delivery_id=row.id,
            error=error,
            next_attempt_at=retry_at,
            dead=dead,
            now=now,
        )
        if ok and dead:
            bus.stage(conn, store.outbox, [self._result(conn, "notify.dead", row.id)])
        return (res.DELIVERY_STATUS_DEAD if dead else res.DELIVERY_STATUS_FAILED), ok

    @staticmethod
    def _result(conn: Connection, event_type: str, delivery_id: str) -> bus.Staged:
        row = store.get_delivery(conn, delivery_id=delivery_id)
        event = bus.new_event(
            event_type,
            source=SOURCE,
            case_id=row.case_id,
            delivery_result=event_pb2.DeliveryResult(delivery=domain.delivery_to_proto(row)),
        )
        return bus.Staged(event, None)
