"""The words of a delivery: the values templates may use, and the structured part of a
hotline's message."""

from __future__ import annotations

from typing import Any

from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.policy import Policy
from services.common.timeutil import from_ts
from services.notify.audiences import LOCAL_TZ, hotline_id


def format_deadline(ts: Any) -> str:
    dt = from_ts(ts)
    if dt is None:
        return ""
    local = dt.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _sentence(text: str) -> str:
    return text.strip().rstrip("。．.！!")  # the template ends the sentence


def fields(
    case: routing_res.Case,
    reporter: Any,
    policy: Policy,
    entry: routing_res.HistoryEntry | None = None,
) -> dict[str, str]:
    """The values templates may use."""
    category = policy.category(case.category)
    unit_name = case.assigned_unit_name
    return {
        "case_id": case.id,
        "case_id_short": case.id[-8:],
        "category_name": category.name if category else case.category,
        "address": reporter.address if reporter is not None else "",
        "deadline": format_deadline(case.deadline_time),
        "result": _sentence(case.result or (entry.note if entry is not None else "")),
        "note": _sentence(entry.note) if entry is not None else "",
        "unit_name": unit_name,
        "handled_by": f"，承办单位{unit_name}" if unit_name else "",
        "external_ref": reporter.external_ref if reporter is not None else "",
    }


def webhook_data(
    event_type: str, case: routing_res.Case, entry: routing_res.HistoryEntry, reporter: Any
) -> dict[str, Any]:
    """The structured part of a hotline's message: what its system files the change by."""
    deadline = from_ts(case.deadline_time)
    when = from_ts(entry.time)
    return {
        "case_id": case.id,
        "external_ref": reporter.external_ref if reporter is not None else "",
        "case_channel": hotline_id(reporter.channel) if reporter is not None else "",
        "event_type": event_type,
        "status": routing_res.CaseStatus.Name(case.status).removeprefix("CASE_STATUS_"),
        "category": case.category,
        "unit_code": case.assigned_unit_code,
        "unit_name": case.assigned_unit_name,
        "level": routing_res.Level.Name(case.level).removeprefix("LEVEL_"),
        "note": entry.note,
        "result": case.result,
        "deadline_time": deadline.isoformat() if deadline else "",
        "time": when.isoformat() if when else "",
        "overdue": case.overdue,
        "supervised": case.supervised,
        "version": case.version,
    }
