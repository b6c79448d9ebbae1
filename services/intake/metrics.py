"""intake's business metrics (bounded labels: channel and category come from enums/policy)."""

from __future__ import annotations

from prometheus_client import Counter

from lianxin.intake.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.policy import Policy

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

REPORTERS_ANONYMISED = Counter(
    "lianxin_intake_reporters_anonymised_total",
    "Reporters (name and phone) of cases closed longer than the retention period that the "
    "retention job erased.",
)


def init_known(policy: Policy) -> None:
    """Every channel × category of the policy, and every status, exists at 0 from start."""
    channels = [
        res.Channel.Name(v).removeprefix("CHANNEL_").lower() for v in res.Channel.values() if v
    ]
    for channel in channels:
        for category in policy.categories:
            CASES_SUBMITTED.labels(channel, category.code)
    for v in routing_res.CaseStatus.values():
        if v:
            STATUS_CHANGES.labels(
                routing_res.CaseStatus.Name(v).removeprefix("CASE_STATUS_").lower()
            )
