"""routing's cases and history entries as the API shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lianxin.routing.v1 import resources_pb2 as res
from services.common.timeutil import to_ts


def case_to_proto(
    row: Any,
    history_rows: list[Any] | None = None,
    *,
    assisting: Sequence[str] = (),
    merged_ids: Sequence[str] = (),
) -> res.Case:
    c = res.Case(
        id=row.id,
        status=row.status,
        level=row.level,
        category=row.category,
        grid_code=row.grid_code,
        community_code=row.community_code,
        street_code=row.street_code,
        district_code=row.district_code,
        assigned_unit_code=row.assigned_unit_code,
        assigned_unit_name=row.assigned_unit_name,
        assignee_staff_id=row.assignee_staff_id,
        result=row.result,
        filing_error=row.filing_error,
        version=row.version,
        overdue=bool(row.overdue),
        supervised=bool(row.supervised),
        assisting_unit_codes=list(assisting),
        disposition=row.disposition,
        satisfaction=row.satisfaction,
        rework_count=row.rework_count,
        reopen_count=row.reopen_count,
        merged_into_case_id=row.merged_into or "",
        merged_case_ids=list(merged_ids),
        pending_extension_hours=row.pending_extension_hours or 0.0,
        community_name=row.community_name,
        street_name=row.street_name,
        void_reason=getattr(row, "void_reason", 0),
        transfer_destination=getattr(row, "transfer_destination", 0),
        transferred_to=getattr(row, "transferred_to", ""),
    )
    if row.deadline_time is not None:
        to_ts(row.deadline_time, c.deadline_time)
    if row.reminder_at is not None:
        to_ts(row.reminder_at, c.reminder_time)
    to_ts(row.created_at, c.create_time)
    to_ts(row.updated_at, c.update_time)
    for cand in getattr(row, "location_candidates", None) or ():
        c.location_candidates.add(**cand)
    for h in history_rows or ():
        c.history.append(history_to_proto(h))
    return c


def history_to_proto(h: Any) -> res.HistoryEntry:
    get = h.get if isinstance(h, dict) else lambda k: getattr(h, k)
    e = res.HistoryEntry(
        sequence=get("sequence"),
        transition=get("transition"),
        from_status=get("from_status"),
        to_status=get("to_status"),
        actor=get("actor"),
        note=get("note"),
        unit_code=get("unit_code"),
        level=get("level") or 0,
        disposition=get("disposition") or 0,
        satisfaction=get("satisfaction") or 0,
        assisting_unit_codes=list(get("assisting_units") or ()),
    )
    for p in get("photos") or ():
        e.photos.add(
            filename=p["filename"],
            content_type=p["content_type"],
            sha256=p["sha256"],
            size_bytes=p["size_bytes"],
        )
    to_ts(get("time"), e.time)
    if get("deadline_time") is not None:
        to_ts(get("deadline_time"), e.deadline_time)
    return e
