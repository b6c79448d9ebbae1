"""intake's business metrics (bounded labels: channel and category come from enums/policy)."""

from __future__ import annotations

from prometheus_client import Counter

CASES_SUBMITTED = Counter(
    "lianxin_intake_cases_submitted_total",
    "Cases taken in (resubmissions not counted), by channel and category.",
    ["channel", "category"],
)
STATUS_CHANGES = Counter(
    "lianxin_intake_status_changes_total",
    "Status changes applied to intake's read model, by status.",
    ["status"],
)
