"""notify's business metrics (bounded labels: channel and status come from enums)."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "lianxin_notify_deliveries_total",
    "Deliveries by channel and status: pending when recorded, then sent, failed or dead "
    "after each attempt.",
    ["channel", "status"],
)
