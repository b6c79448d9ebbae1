"""notify's business metrics (bounded labels: channel and status come from enums, the
failure reason is a class, never the error text)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

from lianxin.notify.v1 import resources_pb2 as res

CHANNELS = ["file", "sms", "app_push", "webhook"]
STATUSES = ["pending", "sent", "failed", "dead"]
REASONS = ["http_4xx", "http_5xx", "timeout", "connection", "no_channel", "other"]

DELIVERIES = Counter(
    "lianxin_notify_deliveries_total",
    "Deliveries by channel and status: pending when recorded, then sent, failed or dead "
    "after each attempt.",
    ["channel", "status"],
)
FAILURES = Counter(
    "lianxin_notify_delivery_failures_total",
    "Failed delivery attempts, by channel and reason class (http_4xx, http_5xx, timeout, "
    "connection, no_channel, other).",
    ["channel", "reason"],
)
LATENCY = Histogram(
    "lianxin_notify_delivery_latency_seconds",
    "From a delivery's recording to its sending (retries and quiet hours included).",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600),
)

REPORTERS_ERASED = Counter(
    "lianxin_notify_reporters_anonymised_total",
    "Reporters (name and phone, also in the citizen's deliveries) of cases closed longer "
    "than the retention period that the retention job erased.",
)

_HTTP = re.compile(r"\bHTTP (\d{3})\b")


def init_known() -> None:
    for channel in CHANNELS:
        for status in STATUSES:
            DELIVERIES.labels(channel, status)
        for reason in REASONS:
            FAILURES.labels(channel, reason)
        LATENCY.labels(channel)


def reason_class(error: str) -> str:
    """The class of a delivery error, from the message the channel raised."""
    if m := _HTTP.search(error):
        return "http_5xx" if m.group(1) >= "500" else "http_4xx"
    lowered = error.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return "timeout"
    if error.startswith("no ") and "channel is configured" in error:
        return "no_channel"
    if any(w in lowered for w in ("connection", "refused", "unreachable", "name or service")):
        return "connection"
    return "other"


def record_attempts(
    rows: list[Any], outcomes: list[tuple[str | None, bool]], now: datetime
) -> None:
    """Count the failures and the latency of one round's attempts."""
    for row, (error, _permanent) in zip(rows, outcomes, strict=True):
        channel = res.DeliveryChannel.Name(row.channel).removeprefix("DELIVERY_CHANNEL_").lower()
        if error is not None:
            FAILURES.labels(channel, reason_class(error)).inc()
            continue
        created = row.created_at
        if created is not None:
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            LATENCY.labels(channel).observe(max(0.0, (now - created).total_seconds()))
