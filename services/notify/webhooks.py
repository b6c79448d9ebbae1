"""Signed webhooks: how notify signs a POST to a hotline system, and how a receiver checks it.

A webhook carries three headers besides its JSON body:

    X-Lianxin-Delivery:  the delivery id (the same on every retry: dedupe by it)
    X-Lianxin-Timestamp: Unix seconds when this attempt was signed
    X-Lianxin-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

For a while after a secret rotation a second `sha256=…` made with the previous secret
follows, comma-separated, so a receiver can switch to the new secret at its own pace.

A receiver accepts a request when one signature matches one of its secrets, the timestamp
is inside its replay window, and the same signed request (delivery id and timestamp) was
not accepted before inside that window (`Verifier`). notify retries a delivery with a new
timestamp, so a retry passes the check; the receiver drops it as a repeat by its delivery
id (notify sends at least once). This module only needs the standard library: a hotline
system may copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable, Mapping

DELIVERY_HEADER = "X-Lianxin-Delivery"
TIMESTAMP_HEADER = "X-Lianxin-Timestamp"
SIGNATURE_HEADER = "X-Lianxin-Signature"
SCHEME = "sha256="


class VerificationError(Exception):
    """The request is not one notify signed, or not any more."""

    reason = "invalid"


class BadSignature(VerificationError):
    reason = "bad_signature"


class Stale(VerificationError):
    """The timestamp is outside the replay window."""

    reason = "stale"


class Replayed(VerificationError):
    """This very request (delivery id and timestamp) was accepted before."""

    reason = "replayed"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}.{body}" under `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    body: bytes, *, delivery_id: str, secrets: Iterable[str], timestamp: int
) -> dict[str, str]:
    """The headers for one attempt, signed with each of `secrets` (new first)."""
    value = ", ".join(SCHEME + signature(s, timestamp, body) for s in secrets if s)
    return {
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: value,
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return ""


class Verifier:
    """A receiver's check: signature, replay window, and requests already seen.

    Thread-safe; requests are remembered for two windows (one older than that is refused
    by its timestamp anyway), so memory stays bounded by the traffic of one window.
    """

    def __init__(
        self,
        secrets: Iterable[str],
        *,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = [s for s in secrets if s]
        self.window = window_seconds
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The delivery id when the request is good; raises a VerificationError if not."""
        delivery_id = _header(headers, DELIVERY_HEADER)
        raw_ts = _header(headers, TIMESTAMP_HEADER)
        given = [
            p.strip().removeprefix(SCHEME)
            for p in _header(headers, SIGNATURE_HEADER).split(",")
            if p.strip().startswith(SCHEME)
        ]
        if not delivery_id or not raw_ts.isdigit() or not given:
            raise BadSignature("missing or malformed signature headers")
        timestamp = int(raw_ts)
        expected = [signature(s, timestamp, body) for s in self.secrets]
        if not any(hmac.compare_digest(g, e) for g in given for e in expected):
            raise BadSignature("no signature matches")
        now = self.clock()
        if abs(now - timestamp) > self.window:
            raise Stale(f"timestamp {timestamp} is outside the {self.window:.0f}s window")
        key = f"{delivery_id}@{timestamp}"
        with self._lock:
            # Kept for two windows: a timestamp may be up to one window ahead of this clock.
            for old in [k for k, t in self._seen.items() if t < now - 2 * self.window]:
                del self._seen[old]
            if key in self._seen:
                raise Replayed(f"delivery {delivery_id} signed at {timestamp} was seen before")
            self._seen[key] = now
        return delivery_id
