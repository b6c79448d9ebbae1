"""The event path as an ops team watches it, looked at every few seconds by one background
loop per service: each durable consumer's lag, ack-pending and redelivered counts from
JetStream's consumer info, and the outbox's backlog and the age of its oldest event from
the service's own database. NATS being down is logged once per outage with the reason
(and counted), not on every round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import Connection, Table, func, select

from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import telemetry
from services.common.db import Database

log = logging.getLogger(__name__)

_TRANSITIONS = [
    routing_res.Transition.Name(v).removeprefix("TRANSITION_").lower()
    for v in routing_res.Transition.values()
    if v
]
# The events each service's outbox publishes, and so every type a consumer can see.
PUBLISHES = {
    "intake": ["case.received"],
    "routing": [f"case.{t}" for t in _TRANSITIONS],
    "notify": ["notify.delivered", "notify.dead"],
    "registry": [f"registry.{k}_imported" for k in ("units", "buildings", "households", "persons")],
}
OUTCOMES = ["applied", "duplicate", "ignored", "retry"]


def _matches(subject: str, pattern: str) -> bool:
    """NATS subject matching (`*` one token, `>` the rest)."""
    s, p = subject.split("."), pattern.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(s) == len(p)


def outbox_state(conn: Connection, outbox: Table) -> tuple[int, float]:
    """(events waiting, age in seconds of the oldest) of an outbox table."""
    count, oldest = conn.execute(
        select(func.count(), func.min(outbox.c.created_at)).select_from(outbox)
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max(0.0, (datetime.now(UTC) - oldest).total_seconds())


class OpsPoller:
    """Sets the consumer and outbox gauges of one service every `interval` seconds."""

    def __init__(
        self,
        *,
        service: str,
        db: Callable[[], Database | None],
        js: Callable[[], JetStreamContext | None],
        stream: str,
        consumers: Callable[[], Sequence[tuple[str, Sequence[str]]]],
        outboxes: Callable[[], Sequence[Table]],
        interval: float = 5.0,
    ) -> None:
        self.service = service
        self._db = db
        self._js = js
        self.stream = stream
        self._consumers = consumers
        self._outboxes = outboxes
        self.interval = interval
        self._nats_down_since: float | None = None
        self._known = False
        telemetry.OUTBOX_BACKLOG.labels(service)
        telemetry.OUTBOX_OLDEST_AGE.labels(service)
        telemetry.RELAY_FAILURES.labels(service)

    def init_known(self) -> None:
        """Every event type this service publishes and each consumer can see, at 0."""
        for t in PUBLISHES.get(self.service, []):
            telemetry.EVENTS_PUBLISHED.labels(self.service, t)
        every = [t for types in PUBLISHES.values() for t in types]
        for name, subjects in self._consumers():
            telemetry.CONSUMER_INFO_FAILURES.labels(name)
            for t in every:
                if any(_matches("lianxin." + t, s) for s in subjects):
                    for outcome in OUTCOMES:
                        telemetry.EVENTS_CONSUMED.labels(name, t, outcome)

    heartbeat: Callable[[], None] = staticmethod(lambda: None)  # set by the Supervisor

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception as exc:  # never let a look at metrics stop the service
                log.warning("%s: metrics poll failed: %s", self.service, exc)
            else:
                self.heartbeat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def poll_once(self) -> None:
        if not self._known:
            self._known = True
            self.init_known()
        db = self._db()
        outboxes = list(self._outboxes())
        if db is not None and outboxes:
            states = await db.read(lambda c: [outbox_state(c, o) for o in outboxes])
            telemetry.OUTBOX_BACKLOG.labels(self.service).set(sum(n for n, _ in states))
            telemetry.OUTBOX_OLDEST_AGE.labels(self.service).set(max(a for _, a in states))
        js = self._js()
        if js is None:
            return
        for name, _subjects in self._consumers():
            try:
                info = await js.consumer_info(self.stream, name, timeout=2.0)
            except Exception as exc:
                telemetry.CONSUMER_INFO_FAILURES.labels(name).inc()
                self._nats_down(name, exc)
                continue
            self._nats_up()
            telemetry.CONSUMER_PENDING.labels(name).set(info.num_pending or 0)
            telemetry.CONSUMER_ACK_PENDING.labels(name).set(info.num_ack_pending or 0)
            telemetry.CONSUMER_REDELIVERED.labels(name).set(info.num_redelivered or 0)

    def _nats_down(self, consumer: str, exc: BaseException) -> None:
        if self._nats_down_since is None:
            self._nats_down_since = time.monotonic()
            log.warning(
                "%s: cannot read JetStream consumer %s on stream %s: %s: %s "
                "(events wait in the outbox until NATS is back)",
                self.service,
                consumer,
                self.stream,
                type(exc).__name__,
                exc or "no answer",
            )

    def _nats_up(self) -> None:
        if self._nats_down_since is not None:
            log.info(
                "%s: JetStream answers again after %.0fs",
                self.service,
                time.monotonic() - self._nats_down_since,
            )
            self._nats_down_since = None


def known_labels(counter: Any, *values: Sequence[str]) -> None:
    """Create a counter's children for every combination of known label values, so each
    series exists at 0 from start."""

    def walk(prefix: tuple[str, ...], rest: tuple[Sequence[str], ...]) -> None:
        if not rest:
            counter.labels(*prefix)
            return
        for v in rest[0]:
            walk((*prefix, v), rest[1:])

    walk((), values)
