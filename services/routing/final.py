"""Void and transfer (无效工单 / 转办): the district platform ends a case that is no
request for this district, before anyone reported it solved. Both are final states: no
step follows, the clock stops, and GetStats counts them apart (`voided`, `transferred`),
never in 办结 or the satisfaction base. The reason in words becomes the case's `result`,
which the hotline reads (intake, notify, Open311).
"""

from __future__ import annotations

from typing import Any

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.common.auth import Principal
from services.common.errors import PermissionDenied, Violations
from services.routing import domain

VOID_NAMES = {
    res.VOID_REASON_PRANK: "恶意骚扰",
    res.VOID_REASON_NO_CONTENT: "无实质内容",
    res.VOID_REASON_DUPLICATE_EXTERNAL: "重复工单",
    res.VOID_REASON_NOT_GOVERNMENT: "非政府职能",
}
DESTINATION_NAMES = {
    res.TRANSFER_DESTINATION_OTHER_DISTRICT: "外区平台",
    res.TRANSFER_DESTINATION_HOTLINE: "热线",
}
MAX_NAME = 100


def validate_void(request: svc.VoidCaseRequest, v: Violations) -> None:
    if request.reason_class not in VOID_NAMES:
        v.add("reason_class", "must be PRANK, NO_CONTENT, DUPLICATE_EXTERNAL or NOT_GOVERNMENT")
    dup = request.duplicate_of.strip()
    if request.reason_class == res.VOID_REASON_DUPLICATE_EXTERNAL and not dup:
        v.add("duplicate_of", "is required for DUPLICATE_EXTERNAL: the ticket it repeats")
    v.check(len(dup) <= MAX_NAME, "duplicate_of", f"must be at most {MAX_NAME} characters")


def validate_transfer(request: svc.TransferCaseRequest, v: Violations) -> None:
    if request.destination not in DESTINATION_NAMES:
        v.add("destination", "must be OTHER_DISTRICT or HOTLINE")
    name = request.destination_name.strip()
    v.check(bool(name), "destination_name", "is required: who receives it")
    v.check(len(name) <= MAX_NAME, "destination_name", f"must be at most {MAX_NAME} characters")


def check_platform(row: Any, *, acting: str, district: str, principal: Principal) -> None:
    """Only the case's district platform voids or transfers it (within the caller's
    stated jurisdiction, when one is stated)."""
    if principal.jurisdiction is not None and not principal.covers(acting):
        raise PermissionDenied(
            f"{acting} is outside your jurisdiction {principal.jurisdiction}",
            reason="OUTSIDE_JURISDICTION",
            metadata={"jurisdiction": principal.jurisdiction, "acting_unit_code": acting},
        )
    platform = row.district_code or district
    if acting != platform:
        raise PermissionDenied(
            f"voiding or transferring case {row.id} needs its district platform "
            f"({platform}); {acting} is not",
            reason="NOT_DISTRICT_PLATFORM",
            metadata={"acting_unit_code": acting, "district_code": platform},
        )


def _ended(result: str) -> dict[str, Any]:
    """What ending a case changes besides its reason: no clock, no pending extension."""
    return {
        "result": result,
        "deadline_time": None,
        "reminder_at": None,
        "escalate_at": None,
        "pending_extension_hours": None,
        "location_candidates": None,
    }


def plan_void(row: Any, *, actor: str, request: svc.VoidCaseRequest) -> domain.Step:
    reason, dup = request.reason.strip(), request.duplicate_of.strip()
    words = f"无效工单（{VOID_NAMES[request.reason_class]}）：{reason}"
    if dup:
        words += f"（重复 {dup}）"
    changes = {**_ended(words), "void_reason": request.reason_class, "transferred_to": dup}
    return domain.Step(res.TRANSITION_VOIDED, actor, words, changes)


def plan_transfer(row: Any, *, actor: str, request: svc.TransferCaseRequest) -> domain.Step:
    to = request.destination_name.strip()
    words = f"转办{DESTINATION_NAMES[request.destination]} {to}：{request.reason.strip()}"
    changes = {
        **_ended(words),
        "transfer_destination": request.destination,
        "transferred_to": to,
    }
    return domain.Step(res.TRANSITION_TRANSFERRED, actor, words, changes)
