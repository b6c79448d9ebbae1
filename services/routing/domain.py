"""routing's rules: the workflow's legal steps, and what each step writes.

Every step goes through `step()`: it checks the case is in a status the step allows
(else FAILED_PRECONDITION naming the current and the allowed statuses), updates the case
with version + 1, appends an immutable history row and stages the `case.<step>` event —
all inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from lianxin.routing.v1 import resources_pb2 as res
from services.common import bus
from services.common.errors import FailedPrecondition, NotFound
from services.common.timeutil import to_ts
from services.routing import store

SOURCE = "lianxin/routing"

# transition → (statuses it may start from, status it leads to)
STEPS: dict[int, tuple[frozenset[int], int]] = {
    res.TRANSITION_FILED: (frozenset({res.CASE_STATUS_RECEIVED}), res.CASE_STATUS_FILED),
    res.TRANSITION_FILING_FAILED: (frozenset({res.CASE_STATUS_RECEIVED}), res.CASE_STATUS_RECEIVED),
    res.TRANSITION_DISPATCHED: (frozenset({res.CASE_STATUS_FILED}), res.CASE_STATUS_DISPATCHED),
    res.TRANSITION_ACCEPTED: (frozenset({res.CASE_STATUS_DISPATCHED}), res.CASE_STATUS_IN_PROGRESS),
    res.TRANSITION_RESOLVED: (frozenset({res.CASE_STATUS_IN_PROGRESS}), res.CASE_STATUS_RESOLVED),
    res.TRANSITION_CLOSED: (frozenset({res.CASE_STATUS_RESOLVED}), res.CASE_STATUS_CLOSED),
}

LEVELS = {
    "community": res.LEVEL_COMMUNITY,
    "street": res.LEVEL_STREET,
    "district": res.LEVEL_DISTRICT,
}


def status_name(status: int) -> str:
    return res.CaseStatus.Name(status).removeprefix("CASE_STATUS_")


def transition_name(transition: int) -> str:
    """e.g. TRANSITION_FILING_FAILED → "filing_failed" (the event type suffix)."""
    return res.Transition.Name(transition).removeprefix("TRANSITION_").lower()


def level_name(level: int) -> str:
    return res.Level.Name(level).removeprefix("LEVEL_").lower() if level else "none"


@dataclass
class Step:
    """One workflow step to apply to a case."""

    transition: int
    actor: str
    note: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    photos: list[dict[str, Any]] = field(default_factory=list)


def step(
    conn: Connection, *, case_id: str, s: Step, now: datetime, traceparent: str | None
) -> res.Case:
    """Apply one step inside the caller's transaction; returns the case after it."""
    row = store.get_case(conn, case_id=case_id)
    if row is None:
        raise NotFound(f"case {case_id} not found", metadata={"case_id": case_id})
    allowed, to_status = STEPS[s.transition]
    if row.status not in allowed:
        names = ", ".join(sorted(status_name(a) for a in allowed))
        raise FailedPrecondition(
            f"case {case_id} is {status_name(row.status)}; "
            f"{transition_name(s.transition)} needs {names}",
            reason="ILLEGAL_TRANSITION",
            metadata={"current_status": status_name(row.status), "allowed_statuses": names},
        )
    version = row.version + 1
    values = {**s.changes, "status": to_status, "version": version, "updated_at": now}
    store.update_case(conn, case_id=case_id, values=values)
    entry = {
        "case_id": case_id,
        "sequence": version,
        "transition": s.transition,
        "from_status": row.status,
        "to_status": to_status,
        "actor": s.actor,
        "note": s.note,
        "unit_code": values.get("assigned_unit_code", row.assigned_unit_code),
        "photos": s.photos,
        "time": now,
    }
    store.insert_history(conn, row=entry)
    after = case_to_proto(store.get_case(conn, case_id=case_id))
    event = bus.new_event(
        f"case.{transition_name(s.transition)}",
        source=SOURCE,
        case_id=case_id,
        case_transitioned=event_pb2.CaseTransitioned(entry=history_to_proto(entry), case=after),
    )
    bus.stage(conn, store.outbox, [bus.Staged(event, traceparent)])
    return after


def case_to_proto(row: Any, history_rows: list[Any] | None = None) -> res.Case:
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
    )
    if row.deadline_time is not None:
        to_ts(row.deadline_time, c.deadline_time)
    to_ts(row.created_at, c.create_time)
    to_ts(row.updated_at, c.update_time)
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
    )
    for p in get("photos") or ():
        e.photos.add(
            filename=p["filename"],
            content_type=p["content_type"],
            sha256=p["sha256"],
            size_bytes=p["size_bytes"],
        )
    to_ts(get("time"), e.time)
    return e
