"""How deliveries leave notify: the `Channel` interface, the embedded `FileSink`, and the
`Sender` loop that sends what the event handler recorded.

Deliveries are recorded inside the event's transaction (so each exists once); they are
sent afterwards, by the sender, so a slow or broken channel never holds an event up. The
sender is at-least-once: a crash between the send and the status update sends that
delivery again after the restart (its id lets the receiver drop the repeat).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection

from lianxin.notify.v1 import resources_pb2 as res
from services.common.bus import wait_any
from services.common.db import Database
from services.common.timeutil import utcnow
from services.notify import domain, metrics, store

log = logging.getLogger(__name__)


class Channel(Protocol):
    """A way to deliver a message. `name` is the channel's label, e.g. "file", "sms"."""

    name: str

    async def send(self, delivery: domain.Outgoing) -> None:
        """Hand the message over; raise when it could not be."""
        ...


class FileSink:
    """The embedded channel: one JSON line per delivery, appended to a file.

    Phones are masked in the line; the file is for people watching a local system, not
    a gateway, and must not become a second copy of personal data.
    """

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, delivery: domain.Outgoing) -> None:
        r = delivery.recipient
        line = json.dumps(
            {
                "id": delivery.id,
                "time": utcnow().isoformat(),
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "case_id": delivery.case_id,
                "recipient": {
                    "kind": r.kind,
                    "id": r.id,
                    "name": r.name,
                    "address": r.masked_address,
                },
                "channel": self.name,
                "template_version": delivery.template_version,
                "body": delivery.body,
            },
            ensure_ascii=False,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


class Sender:
    """Sends due deliveries (PENDING, or FAILED whose back-off has passed) and records the
    outcome: SENT with the time, FAILED with the error and the next attempt, DEAD after
    `max_attempts`."""

    def __init__(
        self,
        *,
        db: Database,
        channels: Mapping[int, Channel],
        batch: int = 100,
        poll_seconds: float = 1.0,
        max_attempts: int = 10,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()

    @property
    def available(self) -> frozenset[int]:
        return frozenset(self.channels)

    def kick(self) -> None:
        """Something new was recorded (called after the event's commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                done = await self.send_due()
            except Exception as exc:
                log.warning("notify sender: round failed (%s); will retry", exc)
                done = 0
            if done >= self.batch:
                continue
            await wait_any(self._wake, stop, timeout=self.poll_seconds)

    async def send_due(self) -> int:
        """One round: send up to `batch` due deliveries; returns how many were tried."""
        now = utcnow()
        rows = await self.db.read(lambda c: store.due_deliveries(c, now=now, limit=self.batch))
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(r) for r in rows))
        results = await self.db.write(lambda conn: self._record(conn, rows, outcomes))
        for row, (status, recorded) in zip(rows, results, strict=True):
            if recorded:
                metrics.DELIVERIES.labels(
                    domain.channel_label(row.channel), domain.status_label(status)
                ).inc()
        return len(rows)

    async def _attempt(self, row: Any) -> str | None:
        """None when sent, else the error."""
        channel = self.channels.get(row.channel)
        if channel is None:
            return f"no {domain.channel_label(row.channel)} channel is configured"
        try:
            await channel.send(domain.outgoing(row))
        except Exception as exc:
            log.warning("delivery %s over %s failed: %s", row.id, channel.name, exc, exc_info=False)
            return f"{type(exc).__name__}: {exc}"
        return None

    def _record(
        self, conn: Connection, rows: list[Any], outcomes: list[str | None]
    ) -> list[tuple[int, bool]]:
        now = utcnow()
        out: list[tuple[int, bool]] = []
        for row, error in zip(rows, outcomes, strict=True):
            if error is None:
                out.append(
                    (res.DELIVERY_STATUS_SENT, store.mark_sent(conn, delivery_id=row.id, now=now))
                )
                continue
            attempts = row.attempts + 1
            dead = attempts >= self.max_attempts
            ok = store.mark_failed(
                conn,
                delivery_id=row.id,
                error=error,
                next_attempt_at=now + domain.retry_delay(attempts),
                dead=dead,
            )
            out.append((res.DELIVERY_STATUS_DEAD if dead else res.DELIVERY_STATUS_FAILED, ok))
        return out
