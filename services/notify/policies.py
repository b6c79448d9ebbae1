"""When a delivery may go: quiet hours, exponential back-off with jitter, and the SMS rate
limit per number."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from lianxin.notify.v1 import resources_pb2 as res
from services.common.timeutil import aware
from services.notify.audiences import LOCAL_TZ


def quiet_until(t: datetime, quiet: tuple[time, time] | None) -> datetime | None:
    """The end of the quiet hours `t` falls in (UTC), or None when it is not in them."""
    if quiet is None:
        return None
    start, end = quiet
    local = aware(t).astimezone(LOCAL_TZ)
    now = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:  # e.g. 12:00-14:00
        if not start <= now < end:
            return None
    elif now >= start:  # e.g. 22:00-07:00, before midnight
        day = day + timedelta(days=1)
    elif now >= end:
        return None
    return datetime.combine(day, end, tzinfo=LOCAL_TZ).astimezone(UTC)


def not_before(
    t: datetime, *, channel: int, urgent: bool, quiet: tuple[time, time] | None
) -> datetime:
    """When a delivery may go at the earliest: non-urgent SMS wait out the quiet hours."""
    if channel == res.DELIVERY_CHANNEL_SMS and not urgent:
        return quiet_until(t, quiet) or t
    return t


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with full jitter, then the dead letter."""

    max_attempts: int = 10
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the `attempt`-th failure: base, 2·base, 4·base … cap."""
        return min(self.max_seconds, self.base_seconds * 2 ** max(0, min(attempt - 1, 30)))

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Full jitter (uniform between 0 and the ceiling): retries of many deliveries that
        failed together do not come back together."""
        return timedelta(seconds=rng.uniform(0, self.ceiling(attempt)))

    def exhausted(self, attempts_in_budget: int) -> bool:
        return attempts_in_budget >= self.max_attempts


def rate_limited(
    rows: Iterable[Any],
    sent: Mapping[str, list[datetime]],
    *,
    limit: int,
    window: timedelta,
    now: datetime,
) -> dict[str, datetime]:
    """SMS rows over the per-number limit: delivery id → when to look at it again.

    `sent` holds, per number, when SMS to it were sent inside the window. Rows to the
    same number in this round count too, in order."""
    if limit <= 0:
        return {}
    used: dict[str, list[datetime]] = {a: sorted(aware(t) for t in ts) for a, ts in sent.items()}
    out: dict[str, datetime] = {}
    for r in rows:
        if r.channel != res.DELIVERY_CHANNEL_SMS:
            continue
        times = used.setdefault(r.address, [])
        if len(times) >= limit:
            out[r.id] = times[len(times) - limit] + window
        else:
            times.append(now)
    return out
