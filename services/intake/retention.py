"""The reporter retention job (PIPL data minimisation): once a case has been closed longer
than `reporter_retention_days`, its reporter's name and phone are erased from intake's
database. The case itself stays (category, place, text, timeline, figures); so does the
grid worker's staff id of a case a grid worker reported (work data, not the citizen's).

intake learns when a case closed from routing's transitions (services/intake/events.py
feeds `closed_at`). Each round erases batches of `retention_batch` cases, oldest closed
first, until none is due; each erased reporter is counted
(`lianxin_intake_reporters_anonymised_total`) and each batch logged with its case ids.
Erased rows are marked (`reporter_erased_at`), so a round never takes a case twice and
re-running is harmless; replicas on PostgreSQL skip each other's rows.

What this job does not reach: the `case.received` events in JetStream (full reporter;
kept until the stream's `stream_max_age_seconds`, which should be set below the retention
period) and notify's own copy of reporters (services/notify/store.py `reporters`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from services.common.bus import wait_any
from services.common.db import Database
from services.common.timeutil import utcnow
from services.intake import metrics, store

log = logging.getLogger(__name__)


class ReporterRetention:
    """A supervised loop (`host.background`): `run(stop)` does a round every `interval`."""

    def __init__(self, *, db: Database, days: float, interval: float, batch: int) -> None:
        self.db = db
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
                    "reporter retention round failed (%s: %s); next round in %.0f s",
                    type(exc).__name__,
                    exc,
                    self.interval,
                )
            else:
                self.heartbeat()
            await wait_any(stop, timeout=self.interval)

    async def round(self) -> int:
        """Erase every reporter due now; returns how many."""
        now = utcnow()
        cutoff = now - timedelta(days=self.days)
        total = 0
        while True:
            ids = await self.db.write(
                lambda conn: store.anonymise_reporters(
                    conn, closed_before=cutoff, now=now, limit=self.batch
                )
            )
            if ids:
                metrics.REPORTERS_ANONYMISED.inc(len(ids))
                total += len(ids)
                log.info(
                    "anonymised the reporters of %d case(s) closed before %s",
                    len(ids),
                    cutoff.isoformat(timespec="seconds"),
                    extra={"case_ids": ids, "retention_days": self.days},
                )
            if len(ids) < self.batch:
                break
        self.rounds += 1
        return total
