"""The time routing runs on, injectable so that SLA clocks can be tested without waiting.

Everything routing stamps (history rows, deadlines, reminders, statistics periods) reads
`Clock.now()`. Production uses `SystemClock`; tests (and demos) pass a `FakeClock` in
`RoutingSettings.clock` and move it with `advance()`, which wakes whoever listens (the SLA
scheduler) so that due reminders and deadlines fire at once, without a real sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that stands still until told to move; listeners hear every move."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._now

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every move; returns a function that stops it."""
        self._listeners.append(callback)

        def stop() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return stop

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by `delta` (or `timedelta(**kwargs)`); returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not go back")
        return self.set(self._now + step)

    def set(self, when: datetime) -> datetime:
        """Move to `when` (not earlier than now)."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("a clock does not go back")
        self._now = when
        for callback in list(self._listeners):
            callback()
        return self._now
