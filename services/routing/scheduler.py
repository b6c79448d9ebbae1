"""The SLA scheduler: fires 催办 (REMINDED), 超时 (OVERDUE) and automatic escalation once
each per deadline, durably.

The due instants and the "fired" markers live on the case row (see `domain`), so the
scheduler keeps no state of its own: each round it asks the database for cases whose
`next_due_at` has come and, for each, in one transaction (row locked on PostgreSQL),
re-reads the case and writes every stage now due — a history row and an event each — and
the markers that say so. A crash before the commit leaves the stage due; after it, the
marker stops a second firing. A service that was down across a deadline finds the case
due when it starts and fires what was missed once: one reminder (however many were
missed), the overdue flag, and the escalation when it is due as well.

Between rounds it waits for a wake-up (a step that set a new deadline, a fake clock that
moved) or for the next due instant, at most `poll_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from lianxin.routing.v1 import resources_pb2 as res
from services.common import bus, telemetry
from services.common.db import Database
from services.common.timeutil import aware
from services.routing import decisions, domain, metrics, store
from services.routing.clock import Clock, FakeClock
from services.routing.directory import Directory, RegistryDown

log = logging.getLogger(__name__)

BATCH = 200


class SlaScheduler:
    def __init__(
        self,
        *,
        db: Database,
        relay: bus.OutboxRelay,
        sla: domain.Sla,
        directory: Directory,
        clock: Clock,
        poll_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.relay = relay
        self.sla = sla
        self.directory = directory
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.rounds = 0  # completed rounds, for tests that wait for the scheduler
        self.heartbeat: Callable[[], None] = lambda: None  # set by the Supervisor

    def wake(self) -> None:
        """Look again now (a deadline changed, or the clock moved)."""
        loop = self._loop
        if loop is None:
            self._wake.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        unlisten = self.clock.listen(self.wake) if isinstance(self.clock, FakeClock) else None
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.fire_due()
                except Exception:
                    log.exception("SLA scheduler round failed; trying again")
                else:
                    self.heartbeat()
                self.rounds += 1
                await bus.wait_any(self._wake, stop, timeout=await self._timeout())
        finally:
            if unlisten is not None:
                unlisten()

    async def _timeout(self) -> float:
        if isinstance(self.clock, FakeClock):
            return self.poll_seconds  # a fake clock wakes us when it moves
        try:
            nxt = await self.db.read(store.next_due)
        except Exception:
            return self.poll_seconds
        if nxt is None:
            return self.poll_seconds
        seconds = (aware(nxt) - self.clock.now()).total_seconds()
        if seconds <= 0:
            # Still due after a round: it waits for registry (an escalation); not a spin.
            return min(self.poll_seconds, 2.0)
        return min(self.poll_seconds, max(0.05, seconds))

    async def fire_due(self) -> int:
        """Fire every stage due now; returns how many steps were written."""
        fired = 0
        while True:
            now = self.clock.now()
            ids = await self.db.read(lambda c, now=now: store.due_cases(c, now=now, limit=BATCH))
            if not ids:
                return fired
            results = await asyncio.gather(*(self._fire(cid, now) for cid in ids))
            steps = sum(results)
            fired += steps
            if steps:
                self.relay.kick()
            if len(ids) < BATCH or not steps:
                return fired

    async def _fire(self, case_id: str, now: datetime) -> int:
        row = await self.db.read(lambda c: store.get_case(c, case_id=case_id))
        if row is None:
            return 0
        target = None
        if _escalation_due(row, now) and (up := self.sla.next_level(row.level)) is not None:
            try:
                target = await self.directory.named(self.sla.default_target(row, up))
            except RegistryDown as exc:
                log.warning("case %s: automatic escalation waits for registry (%s)", case_id, exc)
        with telemetry.tracer().start_as_current_span(
            "routing.sla_clock", attributes={"lianxin.case_id": case_id}
        ) as span:
            # A clock's step belongs to the case's story: linked to its first trace.
            telemetry.link_to(span, row.origin_traceparent, case_id=case_id)
            traceparent = telemetry.inject_headers().get("traceparent")

            def job(conn: Connection) -> list[tuple[int, res.Case]]:
                return fire_stages(
                    conn,
                    case_id=case_id,
                    sla=self.sla,
                    now=now,
                    target=target,
                    traceparent=traceparent,
                )

            try:
                done = await self.db.write(job)
            except Exception as exc:
                telemetry.span_failed(span, exc)
                log.exception("case %s: SLA stage failed: %s", case_id, exc)
                return 0
        metrics.record_steps(done, now=now)
        return len(done)


def _escalation_due(row: Any, now: datetime) -> bool:
    return row.escalate_at is not None and aware(row.escalate_at) <= now


def fire_stages(
    conn: Connection,
    *,
    case_id: str,
    sla: domain.Sla,
    now: datetime,
    target: domain.Target | None,
    traceparent: str | None,
) -> list[tuple[int, res.Case]]:
    """Inside one transaction: write each clock stage of the case that is due and has not
    fired; returns (transition, case after it) of each step written."""
    row = store.get_case(conn, case_id=case_id, for_update=True)
    if row is None or domain.next_due(row) is None or aware(domain.next_due(row)) > now:
        return []  # changed meanwhile: resolved, re-dispatched, or already fired
    done: list[tuple[int, res.Case]] = []

    def write(s: domain.Step) -> None:
        done.append(
            (
                s.transition,
                domain.step(conn, case_id=case_id, s=s, now=now, traceparent=traceparent),
            )
        )

    deadline = aware(row.deadline_time) if row.deadline_time is not None else None
    if row.reminder_at is not None and not row.reminded and aware(row.reminder_at) <= now:
        due = deadline.astimezone(sla.calendar.tz).strftime("%m-%d %H:%M") if deadline else "-"
        write(
            domain.Step(
                res.TRANSITION_REMINDED, "system", f"催办：请于 {due} 前办结", {"reminded": True}
            )
        )
    if deadline is not None and not row.overdue and deadline <= now:
        write(
            domain.Step(
                res.TRANSITION_OVERDUE,
                "system",
                "超时：已过办理时限",
                {"overdue": True, "reminded": True},
            )
        )
    if _escalation_due(row, now):
        if target is not None and target.level != sla.next_level(row.level):
            return done  # the case moved while its target was looked up: next round
        if target is None:
            up = sla.next_level(row.level)
            if up is None:  # the ladder changed under a running clock: nothing to climb
                store.update_case(
                    conn,
                    case_id=case_id,
                    values={"escalate_at": None, "next_due_at": None},
                )
                return done
            return done  # registry was not reachable: the escalation stays due
        write(
            decisions.plan_dispatch_to(
                row,
                sla=sla,
                transition=res.TRANSITION_ESCALATED,
                actor="system",
                note=f"超时自动上报 {target.unit_name}",
                target=target,
                now=now,
            )
        )
    return done
