"""registry's business metrics (bounded labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
    "Records of persons or staff returned or refused, by kind of caller (service, staff, "
    "cli, other), view (masked, full) and outcome (granted, denied).",
    ["actor_kind", "view", "outcome"],
)
IMPORTED_ROWS = Counter(
    "lianxin_registry_imported_rows_total",
    "Rows of imports, by kind (units, buildings, households, persons) and outcome "
    "(inserted, updated, unchanged, rejected).",
    ["kind", "outcome"],
)
AUDIT_SECONDS = Histogram(
    "lianxin_registry_audit_seconds",
    "Time to run a coverage audit (one page).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


def init_known() -> None:
    """Every series whose label values are known exists at 0 from start."""
    for outcome in ("found", "outside"):
        LOCATE.labels(outcome)
    for actor in ("service", "staff", "cli", "other"):
        for view in ("masked", "full"):
            for outcome in ("granted", "denied"):
                PII_READS.labels(actor, view, outcome)
    for kind in ("units", "buildings", "households", "persons"):
        for outcome in ("inserted", "updated", "unchanged", "rejected"):
            IMPORTED_ROWS.labels(kind, outcome)
