"""registry's business metrics (bounded labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LOCATE = Counter(
    "lianxin_registry_locate_total",
    "LocateGrid answers, by outcome: found (inside a grid) or outside (no grid covers it).",
    ["outcome"],
)
UNITS = Gauge(
    "lianxin_registry_units",
    "Units in the in-memory grid map, by level (district, street, community, grid).",
    ["level"],
)
PII_READS = Counter(
    "lianxin_registry_pii_reads_total",
    "Staff records returned with unmasked phone numbers, by kind of caller.",
    ["actor_kind"],
)
