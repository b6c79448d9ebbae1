"""Per-caller rate limits: a token bucket per caller, RESOURCE_EXHAUSTED with RetryInfo.

A caller is the request's principal (`principal.actor`, the token subject); anonymous
callers are told apart by their address. Each bucket holds `burst` requests and refills
at `rate` a second; a request finding it empty is refused before any work, and the
status says when the next request will be let in (`google.rpc.RetryInfo`). Lianxin's
own services calling each other (`principal.is_service`) have their own, separate limit
(`service_rate`; 0: none). Health and reflection are never limited.

Buckets live in memory, per process: with N replicas a caller gets up to N times the
rate, which is what the limit is for (one caller cannot take a replica's every slot).
The number of buckets is bounded; the least recently used one goes first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from services.common.auth import ANONYMOUS, principal_of
from services.common.errors import ResourceExhausted
from services.common.interceptors import Streaming, Unary, _WrappingInterceptor

MAX_BUCKETS = 10_000
MAX_KEY_CHARS = 200


class TokenBuckets:
    """`take(key)`: 0.0 when the key's bucket had a token, else seconds until it has."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return wait


def caller_key(context: Any) -> tuple[str, bool]:
    """(the bucket key of a request's caller, whether it is one of our services)."""
    p = principal_of(context)
    if p.actor == ANONYMOUS:
        peer = context.peer() or ""
        host = peer.rsplit(":", 1)[0] if peer.count(":") >= 1 else peer
        return f"{ANONYMOUS}@{host}"[:MAX_KEY_CHARS], False
    return p.actor[:MAX_KEY_CHARS], p.is_service


class RateLimitInterceptor(_WrappingInterceptor):
    """Refuses a caller's request when its bucket is empty (see the module doc)."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        service_rate: float = 0.0,
        service_burst: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.callers = TokenBuckets(rate=rate, burst=burst, clock=clock)
        self.services = TokenBuckets(rate=service_rate, burst=service_burst, clock=clock)

    def _admit(self, context: Any, method: str) -> None:
        if method.startswith("/grpc."):
            return
        key, is_service = caller_key(context)
        buckets = self.services if is_service else self.callers
        wait = buckets.take(key)
        if wait > 0:
            raise ResourceExhausted(
                f"rate limit exceeded: at most {buckets.rate:g} requests a second "
                f"(bursts of {buckets.burst}); retry in {math.ceil(wait * 1000)} ms",
                reason="RATE_LIMITED",
                metadata={"limit_per_second": f"{buckets.rate:g}", "burst": str(buckets.burst)},
                retry_after=wait,
            )

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        self._admit(context, method)
        return await call(request, context)

    async def around_stream(
        self, call: Streaming, request: Any, context: Any, method: str
    ) -> AsyncIterator[Any]:
        self._admit(context, method)
        async for item in call(request, context):
            yield item
