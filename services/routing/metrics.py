"""routing's business metrics; labels are bounded (transition, level, reason)."""

from __future__ import annotations

from prometheus_client import Counter

TRANSITIONS = Counter(
    "lianxin_routing_transitions_total",
    "Case workflow steps, by transition and level.",
    ["transition", "level"],
)
FILING_FAILURES = Counter(
    "lianxin_routing_filing_failures_total",
    "Cases that could not be filed automatically, by reason.",
    ["reason"],
)
OVERDUE = Counter(
    "lianxin_routing_overdue_total",
    "Deadlines that passed while the case was not resolved (SLA breaches), by level.",
    ["level"],
)
