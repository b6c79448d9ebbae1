"""Supervised background loops: a loop that fails is logged, restarted and counted.

Every long-running part of a service (the outbox relay, each consumer, routing's SLA
scheduler, notify's sender) runs under a `Supervisor`. A loop handles the errors it
expects inside its own round (a fetch timeout, a dependency that is down); whatever it
does not handle ends its `run()`, and the supervisor then:

- logs the exception with the loop's name (never silently, as inside `gather`);
- marks the loop not running (`lianxin_background_loop_running` 0), which turns
  the service's readiness NOT_SERVING while it lasts;
- waits with exponential back-off and full jitter (0.5 s doubling to 30 s) and starts the
  loop again, counting `lianxin_background_loop_restarts_total{loop}`.

A `run()` that returns while the service is still running is an error too (a loop must
not end by itself). Loops report each completed round with `heartbeat()`, which feeds
`lianxin_background_loop_last_success_timestamp_seconds{loop}`; a loop that is running
but whose heartbeat stopped is visible there (and in alerts), not in readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

LOOP_RESTARTS = Counter(
    "lianxin_background_loop_restarts_total",
    "Times a background loop failed and was started again.",
    ["lianxin_service", "loop"],
)
LOOP_LAST_SUCCESS = Gauge(
    "lianxin_background_loop_last_success_timestamp_seconds",
    "Unix time of a background loop's last completed round.",
    ["lianxin_service", "loop"],
)
LOOP_RUNNING = Gauge(
    "lianxin_background_loop_running",
    "1 while a background loop runs, 0 while it waits to be restarted after a failure.",
    ["lianxin_service", "loop"],
)


class Loop(Protocol):
    """What a supervised part provides: `run(stop)` until `stop` is set, and a
    `heartbeat` attribute that it calls after every completed round."""

    heartbeat: Callable[[], None]

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class LoopState:
    name: str
    running: bool = False
    restarts: int = 0
    last_error: str = ""
    last_success: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Backoff:
    """Exponential back-off with full jitter; `reset()` after a good stretch."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures = min(self.failures + 1, 16)
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


class Supervisor:
    """Runs loops until `stop` is set; restarts each one that fails."""

    def __init__(
        self,
        service: str,
        stop: asyncio.Event,
        *,
        on_change: Callable[[], Awaitable[None]] | None = None,
        backoff: Callable[[], Backoff] = Backoff,
        healthy_after: float = 30.0,
    ) -> None:
        self.service = service
        self.stop = stop
        self.on_change = on_change
        self._backoff = backoff
        self.healthy_after = healthy_after
        self.loops: dict[str, LoopState] = {}

    def start(self, name: str, loop: Loop) -> LoopState:
        if name in self.loops:
            raise ValueError(f"a loop named {name!r} runs already")
        state = LoopState(name)
        self.loops[name] = state
        beat = LOOP_LAST_SUCCESS.labels(self.service, name)

        def heartbeat() -> None:
            state.last_success = time.time()
            beat.set(state.last_success)

        loop.heartbeat = heartbeat
        LOOP_RESTARTS.labels(self.service, name)  # exists at 0 from the start
        state.task = asyncio.create_task(self._supervise(state, loop), name=f"loop-{name}")
        return state

    @property
    def all_running(self) -> bool:
        return all(s.running for s in self.loops.values())

    def not_running(self) -> list[LoopState]:
        return [s for s in self.loops.values() if not s.running]

    async def _changed(self) -> None:
        if self.on_change is not None:
            try:
                await self.on_change()
            except Exception:  # readiness is best effort; the log says the rest
                log.exception("%s: could not update readiness", self.service)

    async def _supervise(self, state: LoopState, loop: Loop) -> None:
        running = LOOP_RUNNING.labels(self.service, state.name)
        backoff = self._backoff()
        while not self.stop.is_set():
            state.running = True
            running.set(1)
            await self._changed()
            began = time.monotonic()
            try:
                await loop.run(self.stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.last_error = f"{type(exc).__name__}: {exc}"
                log.exception(
                    "%s: background loop %s failed (%s); restarting",
                    self.service,
                    state.name,
                    state.last_error,
                )
            else:
                if self.stop.is_set():
                    break
                state.last_error = "returned while the service was running"
                log.error(
                    "%s: background loop %s returned while the service was running; restarting",
                    self.service,
                    state.name,
                )
            state.running = False
            running.set(0)
            await self._changed()
            if time.monotonic() - began >= self.healthy_after:
                backoff.reset()
            delay = backoff.next()
            state.restarts += 1
            LOOP_RESTARTS.labels(self.service, state.name).inc()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)
        state.running = False
        running.set(0)

    async def join(self, timeout: float) -> None:
        """Wait up to `timeout` for the loops to end after `stop` was set; cancel the rest."""
        tasks = [s.task for s in self.loops.values() if s.task is not None]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for t in late:
            t.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
