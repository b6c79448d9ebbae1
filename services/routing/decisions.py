"""What each request means for a case: who stands above whom (the level above decides
extensions, supervision and re-dispatch), and the `plan_*` functions that turn a request
into a `Step` given the case as it is inside the transaction. They raise the domain errors
a request can meet (a step that needs an extension pending, a rating given twice, a unit
that is not above the case); `domain.step()` then writes the step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from lianxin.routing.v1 import resources_pb2 as res
from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.common.policy import Policy
from services.common.timeutil import aware
from services.routing.domain import (
    DISPOSITION_OF_LEVEL,
    RATING_NAMES,
    Sla,
    Step,
    Target,
    is_department,
    level_name,
    unit_level,
)

S = res


# --- who may act -------------------------------------------------------------------------


def check_above(row: Any, acting: str, *, what: str) -> None:
    """The acting unit must be a command centre whose area holds the case and which
    stands above the unit handling it (at district level: the district platform, over
    its departments)."""
    level = unit_level(acting)
    if not acting.isdigit() or level == 0:
        raise PermissionDenied(
            f"{what} needs a command centre (district, street or community code); "
            f"{acting!r} is not one",
            reason="NOT_A_COMMAND_CENTRE",
            metadata={"acting_unit_code": acting},
        )
    needed = min(row.level + 1, S.LEVEL_DISTRICT)
    if not row.grid_code.startswith(acting) or level < needed or acting == row.assigned_unit_code:
        raise PermissionDenied(
            f"{what} needs a unit above {row.assigned_unit_code} "
            f"({level_name(row.level)}) whose area holds the case; {acting} is not",
            reason="NOT_ABOVE_CASE",
            metadata={"acting_unit_code": acting, "case_unit_code": row.assigned_unit_code},
        )


def check_target(row: Any, code: str, level: int, *, field: str) -> None:
    """A unit a case may be sent to at `level`: the area unit at that level holding the
    case, or at district level a department or the district platform."""
    ok = unit_level(code) == level and (
        (is_department(code) and code.startswith(row.district_code + "-"))
        or (code.isdigit() and row.grid_code.startswith(code))
    )
    if not ok:
        holder = {
            S.LEVEL_COMMUNITY: row.community_code,
            S.LEVEL_STREET: row.street_code,
            S.LEVEL_DISTRICT: f"{row.district_code} or one of its departments",
        }.get(level, "?")
        raise InvalidArgument(
            [(field, f"must be the {level_name(level)} unit of the case: {holder}")]
        )


# --- plans: a request as a step ----------------------------------------------------------


def plan_close(row: Any, *, actor: str, note: str, now: datetime) -> Step:
    disposition = (
        S.DISPOSITION_EXPLAINED
        if row.status == S.CASE_STATUS_EXPLAINED
        else DISPOSITION_OF_LEVEL.get(row.level, 0)
    )
    return Step(
        S.TRANSITION_CLOSED,
        actor,
        note,
        {"disposition": disposition, "closed_at": now},
        disposition=disposition,
    )


def plan_resolve(
    row: Any,
    *,
    actor: str,
    result: str,
    photos: list[dict[str, Any]],
    acting: str,
    assisting: Sequence[str],
) -> Step:
    if acting and acting != row.assigned_unit_code:
        if acting in assisting:
            raise FailedPrecondition(
                f"{acting} assists case {row.id}; only its lead unit "
                f"{row.assigned_unit_code} resolves it",
                reason="NOT_LEAD_UNIT",
                metadata={"lead_unit_code": row.assigned_unit_code},
            )
        raise PermissionDenied(
            f"{acting} neither leads nor assists case {row.id}",
            reason="NOT_CASE_UNIT",
            metadata={"lead_unit_code": row.assigned_unit_code},
        )
    return Step(S.TRANSITION_RESOLVED, actor, result, {"result": result}, photos)


def plan_rework(row: Any, *, actor: str, reason: str) -> Step:
    return Step(
        S.TRANSITION_REWORKED,
        actor,
        reason,
        {"rework_count": row.rework_count + 1, "disposition": 0},
    )


def plan_return(row: Any, *, actor: str, reason: str) -> Step:
    return Step(S.TRANSITION_RETURNED, actor, reason, assisting=[])


def plan_dispatch_to(
    row: Any, *, sla: Sla, transition: int, actor: str, note: str, target: Target, now: datetime
) -> Step:
    """Redispatch, escalation or reopening to `target`, with a fresh deadline there."""
    return Step(
        transition,
        actor,
        note,
        sla.dispatch(now=now, target=target, category=row.category),
        assisting=list(target.assisting),
    )


def escalation_level(row: Any, sla: Sla) -> int:
    up = sla.next_level(row.level)
    if up is None:
        raise FailedPrecondition(
            f"case {row.id} is at {level_name(row.level)} level, the top of the ladder",
            reason="TOP_OF_LADDER",
            metadata={"level": level_name(row.level)},
        )
    return up


def plan_request_extension(row: Any, *, actor: str, hours: float, reason: str) -> Step:
    if row.pending_extension_hours:
        raise FailedPrecondition(
            f"case {row.id} already has an extension of "
            f"{row.pending_extension_hours:g} h waiting for a decision",
            reason="EXTENSION_PENDING",
        )
    return Step(
        S.TRANSITION_EXTENSION_REQUESTED,
        actor,
        f"申请延期 {hours:g} 工作小时：{reason}",
        {"pending_extension_hours": hours},
    )


def _pending(row: Any) -> float:
    if not row.pending_extension_hours:
        raise FailedPrecondition(
            f"case {row.id} has no extension waiting for a decision",
            reason="NO_EXTENSION_PENDING",
        )
    return float(row.pending_extension_hours)


def plan_approve_extension(
    row: Any, *, sla: Sla, actor: str, acting: str, note: str, now: datetime
) -> Step:
    hours = _pending(row)
    check_above(row, acting, what="approving an extension")
    base = max(aware(row.deadline_time), now) if row.deadline_time is not None else now
    deadline = sla.calendar.add(base, hours)
    return Step(
        S.TRANSITION_EXTENSION_APPROVED,
        actor,
        note or f"同意延期 {hours:g} 工作小时",
        {"pending_extension_hours": None, **sla.clock(now=now, deadline=deadline, level=row.level)},
    )


def plan_refuse_extension(row: Any, *, actor: str, acting: str, reason: str) -> Step:
    _pending(row)
    check_above(row, acting, what="refusing an extension")
    return Step(S.TRANSITION_EXTENSION_REFUSED, actor, reason, {"pending_extension_hours": None})


def plan_explain(row: Any, *, actor: str, explanation: str) -> Step:
    return Step(
        S.TRANSITION_EXPLAINED,
        actor,
        explanation,
        {"result": explanation, "disposition": S.DISPOSITION_EXPLAINED},
        assisting=[],
    )


def plan_supervise(
    row: Any, *, sla: Sla, actor: str, acting: str, note: str, deadline: datetime, now: datetime
) -> Step:
    check_above(row, acting, what="supervising")
    return Step(
        S.TRANSITION_SUPERVISED,
        actor,
        note,
        {"supervised": True, **sla.clock(now=now, deadline=deadline, level=row.level)},
    )


def plan_rate(
    row: Any, *, policy: Policy, actor: str, satisfaction: int, note: str, now: datetime
) -> tuple[Step, bool]:
    """The rating step, and whether the policy reopens the case for it."""
    if row.status == S.CASE_STATUS_CLOSED and row.satisfaction:
        raise FailedPrecondition(
            f"case {row.id} was already rated "
            f"{RATING_NAMES.get(row.satisfaction, '?')} since it was closed",
            reason="ALREADY_RATED",
        )
    rule = policy.reopen
    closed_at = aware(row.closed_at) if row.closed_at is not None else now
    reopen = (
        RATING_NAMES[satisfaction] in rule.ratings
        and row.reopen_count < rule.max_times
        and now - closed_at <= timedelta(days=rule.within_days)
    )
    rated = Step(
        S.TRANSITION_RATED,
        actor,
        note,
        {"satisfaction": satisfaction},
        satisfaction=satisfaction,
    )
    return rated, reopen


def reopen_target(row: Any, sla: Sla) -> Target:
    """Where the policy sends a reopened case: the unit that solved it, or one level up."""
    if sla.policy.reopen.back_to == "level_above":
        up = sla.next_level(row.level)
        if up is not None:
            return sla.default_target(row, up)
    return Target(row.level, row.assigned_unit_code, row.assigned_unit_name)


def plan_reopen(row: Any, *, sla: Sla, target: Target, note: str, now: datetime) -> Step:
    s = plan_dispatch_to(
        row,
        sla=sla,
        transition=S.TRANSITION_REOPENED,
        actor="system",
        note=note,
        target=target,
        now=now,
    )
    s.changes.update(
        {
            "disposition": 0,
            "satisfaction": 0,
            "closed_at": None,
            "reopen_count": row.reopen_count + 1,
        }
    )
    return s
