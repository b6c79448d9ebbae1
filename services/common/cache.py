"""A small time-bounded cache for answers that change rarely (staff of a unit, a hotline's
subscriptions): each entry lives `ttl` seconds, and `clear()` drops everything at once —
called when the owner of the data says it changed (a registry event, a local write)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._generation = 0
        self.hits = 0
        self.misses = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `load()`'s (kept unless `clear()` ran meanwhile)."""
        now = self.clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            self.hits += 1
            return hit[1]
        self.misses += 1
        generation = self._generation
        value = await load()
        if generation == self._generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1
