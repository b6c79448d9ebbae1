"""Retention jobs (PIPL data minimisation): a supervised loop that erases personal data
once it is older than a service's retention period.

Each service says what "older" means and what is erased in one store function,
`erase(conn, *, closed_before, now, limit) -> ids`, which anonymises up to `limit` records
due before `closed_before` that are not anonymised yet, marks them, and returns their ids
(so a round never takes a record twice and re-running is harmless; replicas on
PostgreSQL skip each other's rows with SKIP LOCKED). Every round erases batches until
none is due; each erased record is counted on the service's counter and each batch logged
with its ids. Used by intake (reporters of cases closed long ago) and notify (its copy of
the reporter and the citizen's deliveries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter
from sqlalchemy import Connection

from services.common.bus import wait_any
from services.common.db import Database
from services.common.timeutil import utcnow

log = logging.getLogger(__name__)


class Erase(Protocol):
    def __call__(
        self, conn: Connection, *, closed_before: datetime, now: datetime, limit: int
    ) -> list[str]: ...


class RetentionSettings(Protocol):
    reporter_retention_days: float
    retention_interval_seconds: float
    retention_batch: int


class Host(Protocol):
    def background(self, name: str, loop: Any) -> Any: ...


def keep_reporters_limited(
    host: Host, settings: RetentionSettings, *, db: Database, erase: Erase, counter: Counter
) -> None:
    """Run the `reporter-retention` loop on `host` when the service keeps reporters for a
    limited time (`reporter_retention_days` > 0; 0 keeps them)."""
    if settings.reporter_retention_days > 0:
        host.background(
            "reporter-retention",
            RetentionJob(
                what="reporters",
                db=db,
                erase=erase,
                counter=counter,
                days=settings.reporter_retention_days,
                interval=settings.retention_interval_seconds,
                batch=settings.retention_batch,
            ),
        )


class RetentionJob:
    """A supervised loop (`host.background`): `run(stop)` does a round every `interval`."""

    def __init__(
        self,
        *,
        what: str,
        db: Database,
        erase: Erase,
        counter: Counter,
        days: float,
        interval: float,
        batch: int,
    ) -> None:
        self.what = what  # for the log, e.g. "reporters of cases"
        self.db = db
        self.erase = erase
        self.counter = counter
        self.days = days
        self.interval = interval
        self.batch = batch
        self.rounds = 0
        self.heartbeat: Callable[[], None] = lambda: None  # set by the Supervisor

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.round()
            except Exception as exc:  # the database is away: say so, try next round
                log.warning(
                    "retention of %s: round failed (%s: %s); next round in %.0f s",
                    self.what,
                    type(exc).__name__,
                    exc,
                    self.interval,
                )
            else:
                self.heartbeat()
            await wait_any(stop, timeout=self.interval)

    async def round(self) -> int:
        """Erase everything due now; returns how many records."""
        now = utcnow()
        cutoff = now - timedelta(days=self.days)
        total = 0
        while True:
            ids = await self.db.write(
                lambda conn: self.erase(conn, closed_before=cutoff, now=now, limit=self.batch)
            )
            if ids:
                self.counter.inc(len(ids))
                total += len(ids)
                log.info(
                    "anonymised the %s of %d case(s) closed before %s",
                    self.what,
                    len(ids),
                    cutoff.isoformat(timespec="seconds"),
                    extra={"case_ids": ids, "retention_days": self.days},
                )
            if len(ids) < self.batch:
                break
        self.rounds += 1
        return total
