"""GeoReport v2's resources made from Lianxin's: services from routing's categories,
service requests from intake's cases, request updates from intake's status timeline.

Statuses: GeoReport knows `open` and `closed`; a case is closed once it is CLOSED (核查结案),
EXPLAINED (解释说明, nothing more will be done) or MERGED (并单, followed by another case).
FixMyStreet's updates carry its finer statuses where Lianxin has them (`in_progress`,
`no_further_action`, `duplicate`). Times are ISO 8601 in the district's UTC offset.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.timeutil import from_ts
from services.open311.upstream import Catalog

CS = routing_res
CLOSED = frozenset(
    {
        CS.CASE_STATUS_CLOSED,
        CS.CASE_STATUS_EXPLAINED,
        CS.CASE_STATUS_MERGED,
        CS.CASE_STATUS_VOIDED,
        CS.CASE_STATUS_TRANSFERRED,
    }
)
UPDATE_STATUS = {
    CS.CASE_STATUS_IN_PROGRESS: "in_progress",
    CS.CASE_STATUS_RESOLVED: "in_progress",  # solved by the unit, not yet checked
    CS.CASE_STATUS_CLOSED: "closed",
    CS.CASE_STATUS_EXPLAINED: "no_further_action",
    CS.CASE_STATUS_MERGED: "duplicate",
    CS.CASE_STATUS_VOIDED: "no_further_action",
    CS.CASE_STATUS_TRANSFERRED: "not_responsible",
}
LEVEL_NAMES = {
    CS.LEVEL_COMMUNITY: "社区",
    CS.LEVEL_STREET: "街道",
    CS.LEVEL_DISTRICT: "区级",
}
TRANSITION_NAMES = {
    CS.TRANSITION_FILED: "已立案",
    CS.TRANSITION_FILING_FAILED: "待人工立案",
    CS.TRANSITION_DISPATCHED: "已交办",
    CS.TRANSITION_ACCEPTED: "办理中",
    CS.TRANSITION_RESOLVED: "已处置",
    CS.TRANSITION_CLOSED: "已结案",
    CS.TRANSITION_RETURNED: "已退回",
    CS.TRANSITION_ESCALATED: "已上报",
    CS.TRANSITION_EXTENSION_REQUESTED: "申请延期",
    CS.TRANSITION_EXTENSION_APPROVED: "延期已批准",
    CS.TRANSITION_EXTENSION_REFUSED: "延期未批准",
    CS.TRANSITION_EXPLAINED: "解释说明",
    CS.TRANSITION_REWORKED: "返工",
    CS.TRANSITION_RATED: "已回访",
    CS.TRANSITION_REOPENED: "重新办理",
    CS.TRANSITION_MERGED: "已并单",
    CS.TRANSITION_REMINDED: "催办",
    CS.TRANSITION_OVERDUE: "已超时",
    CS.TRANSITION_SUPERVISED: "督办",
    CS.TRANSITION_REDISPATCHED: "重新派单",
    CS.TRANSITION_VOIDED: "无效工单",
    CS.TRANSITION_TRANSFERRED: "已转办",
}
RECEIVED_NOTE = "已受理，等待立案"


def w3c(dt: datetime | None, tz: timezone) -> str | None:
    """ISO 8601 with the district's offset, e.g. 2014-11-25T09:00:00+08:00."""
    return dt.astimezone(tz).isoformat(timespec="seconds") if dt is not None else None


def request_status(status: int) -> str:
    return "closed" if status in CLOSED else "open"


def update_status(status: int) -> str:
    return UPDATE_STATUS.get(status, "open")


def hours(h: float) -> str:
    return f"{h:g}"


def notice(catalog: Catalog, code: str) -> str:
    """What the district promises for a service: who handles it first, and how soon."""
    c = catalog.by_code.get(code)
    if c is None:
        return ""
    level = LEVEL_NAMES.get(c.first_level, "")
    due = next((d.working_hours for d in c.deadlines if d.level == c.first_level), 0.0)
    return f"由{level}首先办理，办理时限{hours(due)}个工作小时（按工作日历计）"


def service(catalog: Catalog, c: routing_res.Category) -> dict[str, Any]:
    level = LEVEL_NAMES.get(c.first_level, "")
    return {
        "service_code": c.code,
        "service_name": c.name,
        "description": f"{c.name}：{notice(catalog, c.code)}",
        "metadata": False,  # no category of the policy has extra fields (attributes)
        "type": "realtime",
        "keywords": ", ".join([c.name, c.code.replace("_", " "), level]),
        "group": f"{level}办理",
    }


def service_definition(c: routing_res.Category) -> dict[str, Any]:
    return {"service_code": c.code, "attributes": []}


def change_note(change: intake_res.StatusChange) -> str:
    """A status change told in Chinese: what happened, by whom, and the note."""
    text = TRANSITION_NAMES.get(change.transition, "状态变更")
    if change.unit_name:
        text += f"（{change.unit_name}）"
    if change.note:
        text += f"：{change.note}"
    return text


def service_request(
    case: intake_res.Case, catalog: Catalog, *, media_url: str = ""
) -> dict[str, Any]:
    tz = catalog.tz
    category = catalog.by_code.get(case.category)
    has_point = case.location.HasField("point")
    notes = change_note(case.timeline[-1]) if case.timeline else RECEIVED_NOTE
    return {
        "service_request_id": case.id,
        "status": request_status(case.status),
        "status_notes": notes,
        "service_name": category.name if category is not None else case.category,
        "service_code": case.category,
        "description": case.description,
        "agency_responsible": case.assigned_unit_name or case.assigned_unit_code,
        "service_notice": notice(catalog, case.category),
        "requested_datetime": w3c(from_ts(case.create_time), tz),
        "updated_datetime": w3c(from_ts(case.update_time), tz),
        "expected_datetime": w3c(from_ts(case.deadline_time), tz),
        "address": case.location.address,
        "address_id": None,
        "zipcode": None,
        "lat": case.location.point.latitude if has_point else None,
        "long": case.location.point.longitude if has_point else None,
        "media_url": media_url or None,
    }


def request_update(change: intake_res.StatusChange, catalog: Catalog) -> dict[str, Any]:
    return {
        "update_id": str(change.sequence),
        "service_request_id": change.case_id,
        "status": update_status(change.status),
        "updated_datetime": w3c(from_ts(change.time), catalog.tz),
        "description": change_note(change),
        "media_url": None,
    }
