"""routing's rules: the workflow's legal steps, what each step writes, and the SLA clock.

Every step goes through `step()`: it checks the case is in a status the step allows
(else FAILED_PRECONDITION naming the current and the allowed statuses), updates the case
with version + 1, appends an immutable history row and stages the `case.<step>` event —
all inside the caller's transaction. Flags (REMINDED, OVERDUE, SUPERVISED, the extension
steps, RATED) leave the status as it is but are steps all the same: one history row and
one event each.

What each request means for the case (the `plan_*` functions, who stands above whom) is
`decisions.py`; a case as the API shows it is `views.py`.

The SLA clock of a case is stored on its row: the deadline, when the reminder (催办) and
the automatic escalation are due, whether each fired, and `next_due_at`, the earliest
stage not fired yet. `step()` keeps `next_due_at` right after every change, so the
scheduler only has to look for rows whose `next_due_at` has come.

A case merged into another (并单) follows it: every status step of the master is written
to each follower too (its own history row and event, with the master's unit, deadline and
result), so the follower's reporter and hotline hear what the master's hear. Steps asked
directly on a follower are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from lianxin.routing.v1 import resources_pb2 as res
from services.common import bus
from services.common.errors import FailedPrecondition, NotFound
from services.common.policy import Category, Policy
from services.common.timeutil import aware
from services.routing import store
from services.routing.views import case_to_proto, history_to_proto
from services.routing.workcal import WorkCalendar

SOURCE = "lianxin/routing"

S = res  # short alias for the enums below

SAME = -1  # a step that leaves the status as it is (a flag)
CLOCK = frozenset({S.CASE_STATUS_DISPATCHED, S.CASE_STATUS_IN_PROGRESS})  # a deadline runs
OPEN = frozenset(
    {
        S.CASE_STATUS_DISPATCHED,
        S.CASE_STATUS_IN_PROGRESS,
        S.CASE_STATUS_RESOLVED,
        S.CASE_STATUS_RETURNED,
        S.CASE_STATUS_EXPLAINED,
    }
)
# Cases a new report of the same kind and place joins (并单): still being worked on.
MERGEABLE = frozenset(
    {
        S.CASE_STATUS_FILED,
        S.CASE_STATUS_DISPATCHED,
        S.CASE_STATUS_IN_PROGRESS,
        S.CASE_STATUS_RESOLVED,
        S.CASE_STATUS_RETURNED,
    }
)

# What a case may be voided or transferred from: before anyone reported it solved.
NOT_YET_RESOLVED = frozenset(
    {
        S.CASE_STATUS_RECEIVED,
        S.CASE_STATUS_FILED,
        S.CASE_STATUS_DISPATCHED,
        S.CASE_STATUS_IN_PROGRESS,
        S.CASE_STATUS_RETURNED,
    }
)

# transition → (statuses it may start from, status it leads to or SAME)
STEPS: dict[int, tuple[frozenset[int], int]] = {
    S.TRANSITION_FILED: (frozenset({S.CASE_STATUS_RECEIVED}), S.CASE_STATUS_FILED),
    S.TRANSITION_FILING_FAILED: (frozenset({S.CASE_STATUS_RECEIVED}), SAME),
    S.TRANSITION_MERGED: (frozenset({S.CASE_STATUS_RECEIVED}), S.CASE_STATUS_MERGED),
    S.TRANSITION_DISPATCHED: (frozenset({S.CASE_STATUS_FILED}), S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_ACCEPTED: (frozenset({S.CASE_STATUS_DISPATCHED}), S.CASE_STATUS_IN_PROGRESS),
    S.TRANSITION_RESOLVED: (frozenset({S.CASE_STATUS_IN_PROGRESS}), S.CASE_STATUS_RESOLVED),
    S.TRANSITION_CLOSED: (
        frozenset({S.CASE_STATUS_RESOLVED, S.CASE_STATUS_EXPLAINED}),
        S.CASE_STATUS_CLOSED,
    ),
    S.TRANSITION_RETURNED: (CLOCK, S.CASE_STATUS_RETURNED),
    S.TRANSITION_REDISPATCHED: (frozenset({S.CASE_STATUS_RETURNED}), S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_ESCALATED: (CLOCK, S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_EXTENSION_REQUESTED: (CLOCK, SAME),
    S.TRANSITION_EXTENSION_APPROVED: (CLOCK, SAME),
    S.TRANSITION_EXTENSION_REFUSED: (CLOCK, SAME),
    S.TRANSITION_EXPLAINED: (CLOCK, S.CASE_STATUS_EXPLAINED),
    S.TRANSITION_REWORKED: (
        frozenset({S.CASE_STATUS_RESOLVED, S.CASE_STATUS_EXPLAINED}),
        S.CASE_STATUS_IN_PROGRESS,
    ),
    S.TRANSITION_RATED: (frozenset({S.CASE_STATUS_CLOSED}), SAME),
    S.TRANSITION_REOPENED: (frozenset({S.CASE_STATUS_CLOSED}), S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_REMINDED: (CLOCK, SAME),
    S.TRANSITION_OVERDUE: (CLOCK, SAME),
    S.TRANSITION_SUPERVISED: (CLOCK, SAME),
    S.TRANSITION_VOIDED: (NOT_YET_RESOLVED, S.CASE_STATUS_VOIDED),
    S.TRANSITION_TRANSFERRED: (NOT_YET_RESOLVED, S.CASE_STATUS_TRANSFERRED),
}

# Steps a follower (a case merged into another) takes with its master: the ones a citizen
# sees. Flags and ratings stay with the master.
FOLLOWED = frozenset(
    {
        S.TRANSITION_ACCEPTED,
        S.TRANSITION_RESOLVED,
        S.TRANSITION_CLOSED,
        S.TRANSITION_RETURNED,
        S.TRANSITION_REDISPATCHED,
        S.TRANSITION_ESCALATED,
        S.TRANSITION_EXPLAINED,
        S.TRANSITION_REWORKED,
        S.TRANSITION_REOPENED,
        S.TRANSITION_VOIDED,
        S.TRANSITION_TRANSFERRED,
    }
)

LEVELS = {
    "community": S.LEVEL_COMMUNITY,
    "street": S.LEVEL_STREET,
    "district": S.LEVEL_DISTRICT,
}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
DISPOSITION_OF_LEVEL = {
    S.LEVEL_COMMUNITY: S.DISPOSITION_COMMUNITY,
    S.LEVEL_STREET: S.DISPOSITION_STREET,
    S.LEVEL_DISTRICT: S.DISPOSITION_DISTRICT,
}
RATING_NAMES = {
    S.SATISFACTION_SATISFIED: "satisfied",
    S.SATISFACTION_BASICALLY_SATISFIED: "basically_satisfied",
    S.SATISFACTION_UNSATISFIED: "unsatisfied",
}


def status_name(status: int) -> str:
    return res.CaseStatus.Name(status).removeprefix("CASE_STATUS_")


def transition_name(transition: int) -> str:
    """e.g. TRANSITION_FILING_FAILED → "filing_failed" (the event type suffix)."""
    return res.Transition.Name(transition).removeprefix("TRANSITION_").lower()


def level_name(level: int) -> str:
    return res.Level.Name(level).removeprefix("LEVEL_").lower() if level else "none"


def unit_level(code: str) -> int:
    """The level of a unit by its code: 6 digits a district, 9 a street, 12 a community;
    a department (e.g. 370402-D-POWER) works at district level. 0 for anything else."""
    if code.isdigit():
        return {6: S.LEVEL_DISTRICT, 9: S.LEVEL_STREET, 12: S.LEVEL_COMMUNITY}.get(len(code), 0)
    district, sep, rest = code.partition("-")
    return S.LEVEL_DISTRICT if sep and district.isdigit() and len(district) == 6 and rest else 0


def is_department(code: str) -> bool:
    return unit_level(code) == S.LEVEL_DISTRICT and not code.isdigit()


@dataclass
class Step:
    """One workflow step to apply to a case."""

    transition: int
    actor: str
    note: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    photos: list[dict[str, Any]] = field(default_factory=list)
    disposition: int = 0
    satisfaction: int = 0
    # New assisting units ((code, name) pairs) when the step changes the lead; None: keep.
    assisting: list[tuple[str, str]] | None = None


@dataclass(frozen=True)
class Target:
    """Where a case goes: the lead unit at a level, and the units assisting it."""

    level: int
    unit_code: str
    unit_name: str
    assisting: tuple[tuple[str, str], ...] = ()
    staff_id: str = ""


class Sla:
    """Deadlines and clock stages from the policy and its working-time calendar."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.calendar = WorkCalendar(policy.calendar)

    def category(self, code: str) -> Category:
        # intake validates categories; a policy change could still leave an old one here.
        return self.policy.category(code) or self.policy.categories[0]

    def hours(self, category: str, level: int) -> float:
        return self.policy.deadline_hours(self.category(category), LEVEL_NAMES[level])

    def clock(self, *, now: datetime, deadline: datetime, level: int) -> dict[str, Any]:
        """The clock columns for a new deadline set at `now`: all stages armed again."""
        grace = self.policy.escalation.automatic_after_overdue_hours.get(LEVEL_NAMES[level])
        return {
            "deadline_time": deadline,
            "reminder_at": self.calendar.fraction_point(
                now, deadline, self.policy.reminder_fraction
            ),
            "escalate_at": None if grace is None else self.calendar.add(deadline, grace),
            "reminded": False,
            "overdue": False,
        }

    def dispatch(self, *, now: datetime, target: Target, category: str) -> dict[str, Any]:
        """The columns of a case dispatched to `target` at `now`, with a fresh deadline."""
        deadline = self.calendar.add(now, self.hours(category, target.level))
        return {
            "level": target.level,
            "assigned_unit_code": target.unit_code,
            "assigned_unit_name": target.unit_name,
            "assignee_staff_id": target.staff_id,
            **self.clock(now=now, deadline=deadline, level=target.level),
        }

    def next_level(self, level: int) -> int | None:
        up = self.policy.escalation.next_level(LEVEL_NAMES.get(level, ""))
        return LEVELS[up] if up else None

    def default_target(self, row: Any, level: int) -> Target:
        """The unit the policy names for a case at `level`: its community or street, or at
        district level the category's department (with its assisting departments) or
        else the district platform. Department names are left empty for the caller to
        fill from registry."""
        if level == S.LEVEL_COMMUNITY:
            return Target(level, row.community_code, row.community_name)
        if level == S.LEVEL_STREET:
            return Target(level, row.street_code, row.street_name)
        cat = self.category(row.category)
        if cat.department:
            return Target(
                level, cat.department, "", tuple((d, "") for d in cat.assisting_departments)
            )
        return Target(level, row.district_code, row.district_name)


def next_due(values: Any) -> datetime | None:
    """The earliest clock stage not fired yet, or None when no clock runs."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    if get("status") not in CLOCK or get("merged_into"):
        return None
    stages = []
    if get("reminder_at") is not None and not get("reminded"):
        stages.append(aware(get("reminder_at")))
    if get("deadline_time") is not None and not get("overdue"):
        stages.append(aware(get("deadline_time")))
    if get("escalate_at") is not None:
        stages.append(aware(get("escalate_at")))
    return min(stages) if stages else None


def _load(conn: Connection, case_id: str) -> Any:
    row = store.get_case(conn, case_id=case_id, for_update=True)
    if row is None:
        raise NotFound(f"case {case_id} not found", metadata={"case_id": case_id})
    return row


def load_for_step(conn: Connection, case_id: str) -> Any:
    """The case a request acts on, refused when it follows another case."""
    return check_not_merged(_load(conn, case_id), case_id)


def check_not_merged(row: Any, case_id: str) -> Any:
    """`row`, or FAILED_PRECONDITION when the case follows another one (并单)."""
    if row.merged_into:
        raise FailedPrecondition(
            f"case {case_id} was merged into case {row.merged_into} (并单); act on that case",
            reason="CASE_MERGED",
            metadata={"case_id": case_id, "merged_into_case_id": row.merged_into},
        )
    return row


def check_allowed(row: Any, transition: int) -> int:
    """The status `transition` leads to from the case's status, or FAILED_PRECONDITION
    naming the current status and the allowed ones."""
    allowed, to_status = STEPS[transition]
    if row.status not in allowed:
        names = ", ".join(status_name(a) for a in sorted(allowed))
        raise FailedPrecondition(
            f"case {row.id} is {status_name(row.status)}; "
            f"{transition_name(transition)} needs {names}",
            reason="ILLEGAL_TRANSITION",
            metadata={
                "current_status": status_name(row.status),
                "allowed_statuses": names,
                "transition": transition_name(transition),
            },
        )
    return row.status if to_status == SAME else to_status


def step(
    conn: Connection, *, case_id: str, s: Step, now: datetime, traceparent: str | None
) -> res.Case:
    """Apply one step inside the caller's transaction; returns the case after it."""
    row = load_for_step(conn, case_id)
    before = row._asdict()
    values = _advance(before, s, now)
    store.update_case(conn, case_id=case_id, values=values)
    # The case after the step is the row read above with the values just written: no
    # second read.
    after_row = SimpleNamespace(**{**before, **values})
    if s.assisting is not None:
        store.set_assisting(conn, case_id=case_id, units=s.assisting)
        assisting = sorted(code for code, _name in s.assisting)
    else:
        assisting = [a.unit_code for a in store.get_assisting(conn, case_id=case_id)]
    entry = _entry(case_id, s, row.status, after_row, assisting, now)
    store.insert_history(conn, row=entry)
    after = case_to_proto(after_row, assisting=assisting)
    bus.stage(conn, store.outbox, [_staged(s.transition, case_id, entry, after, traceparent)])
    if s.transition in FOLLOWED:
        for f in store.followers(conn, case_id=case_id):
            _follow(conn, f, after_row, entry, now=now, traceparent=traceparent)
    return after


def _advance(before: dict[str, Any], s: Step, now: datetime) -> dict[str, Any]:
    """The columns step `s` changes on a case that was `before` (every column);
    FAILED_PRECONDITION when its status does not allow the step."""
    to_status = check_allowed(SimpleNamespace(**before), s.transition)
    values = {**s.changes, "status": to_status, "version": before["version"] + 1}
    values["updated_at"] = now
    values["next_due_at"] = next_due({**before, **values})
    return values


@dataclass
class NewCase:
    """A received case with its first steps applied in memory (`plan_new`), to be written
    with others (`write_new`)."""

    row: dict[str, Any]  # the case after its steps, every column
    entries: list[dict[str, Any]]  # its history rows
    units: list[tuple[str, str]]  # its assisting units
    staged: list[bus.Staged]  # its events
    out: list[tuple[int, res.Case]]  # each step's transition and the case after it


def plan_new(
    row: dict[str, Any], steps: list[Step], *, now: datetime, traceparent: str | None
) -> NewCase:
    """The first steps (filed and dispatched, merged, or filing failed) of a case routing
    has just received, applied to its new row in memory: the same rows as inserting the
    received case and stepping it one step at a time, without reading anything back.
    FAILED_PRECONDITION for a step a new case cannot take."""
    current = store.complete_row(row)
    case_id = current["id"]
    made = NewCase(row=current, entries=[], units=[], staged=[], out=[])
    assisting: list[str] = []
    for s in steps:
        before = current
        current = {**before, **_advance(before, s, now)}
        if s.assisting is not None:
            made.units = list(s.assisting)
            assisting = sorted(code for code, _name in made.units)
        after_row = SimpleNamespace(**current)
        entry = _entry(case_id, s, before["status"], after_row, assisting, now)
        after = case_to_proto(after_row, assisting=assisting)
        made.entries.append(entry)
        made.staged.append(_staged(s.transition, case_id, entry, after, traceparent))
        made.out.append((s.transition, after))
    made.row = current
    return made


def write_new(conn: Connection, cases: list[NewCase]) -> None:
    """New cases, their assisting units, history and events: one statement per table
    for all of them."""
    if not cases:
        return
    store.insert_cases(conn, rows=[c.row for c in cases])
    store.insert_assisting(
        conn, rows=[(c.row["id"], code, name) for c in cases for code, name in c.units]
    )
    store.insert_histories(conn, rows=[e for c in cases for e in c.entries])
    bus.stage(conn, store.outbox, [x for c in cases for x in c.staged])


def file_new(
    conn: Connection,
    *,
    row: dict[str, Any],
    steps: list[Step],
    now: datetime,
    traceparent: str | None,
) -> list[tuple[int, res.Case]]:
    """One new case with its first steps, inside the caller's transaction (`plan_new`,
    then `write_new`); each step's transition and the case after it."""
    made = plan_new(row, steps, now=now, traceparent=traceparent)
    write_new(conn, [made])
    return made.out


def _entry(
    case_id: str,
    s: Step,
    from_status: int,
    after_row: Any,
    assisting: list[str],
    now: datetime,
) -> dict[str, Any]:
    """The history row of step `s`, which left the case as `after_row`."""
    return {
        "case_id": case_id,
        "sequence": after_row.version,
        "transition": s.transition,
        "from_status": from_status,
        "to_status": after_row.status,
        "actor": s.actor,
        "note": s.note,
        "unit_code": after_row.assigned_unit_code,
        "photos": s.photos,
        "time": now,
        "level": after_row.level,
        "deadline_time": after_row.deadline_time,
        "disposition": s.disposition,
        "satisfaction": s.satisfaction,
        "assisting_units": assisting,
    }


def _staged(
    transition: int,
    case_id: str,
    entry: dict[str, Any],
    case: res.Case,
    traceparent: str | None,
) -> bus.Staged:
    event = bus.new_event(
        f"case.{transition_name(transition)}",
        source=SOURCE,
        case_id=case_id,
        case_transitioned=event_pb2.CaseTransitioned(entry=history_to_proto(entry), case=case),
    )
    return bus.Staged(event, traceparent)


def _follow(
    conn: Connection,
    f: Any,
    master: Any,
    master_entry: dict[str, Any],
    *,
    now: datetime,
    traceparent: str | None,
) -> None:
    """Write the master's step on a follower: its own history row and event."""
    version = f.version + 1
    values = {
        "status": master.status,
        "level": master.level,
        "assigned_unit_code": master.assigned_unit_code,
        "assigned_unit_name": master.assigned_unit_name,
        "assignee_staff_id": master.assignee_staff_id,
        "deadline_time": master.deadline_time,
        "result": master.result,
        "disposition": master.disposition,
        "closed_at": master.closed_at,
        "void_reason": master.void_reason,
        "transfer_destination": master.transfer_destination,
        "transferred_to": master.transferred_to,
        "version": version,
        "updated_at": now,
        "next_due_at": None,
    }
    store.update_case(conn, case_id=f.id, values=values)
    entry = {
        **master_entry,
        "case_id": f.id,
        "sequence": version,
        "from_status": f.status,
        "to_status": master.status,
        "photos": master_entry["photos"],
        "satisfaction": 0,
    }
    store.insert_history(conn, row=entry)
    after = case_to_proto(store.get_case(conn, case_id=f.id), assisting=entry["assisting_units"])
    staged = _staged(master_entry["transition"], f.id, entry, after, traceparent)
    bus.stage(conn, store.outbox, [staged])


# --- duplicates (并单) ---------------------------------------------------------------------

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def duplicate_box(policy: Policy, lat: float, lon: float) -> tuple[float, float, float, float]:
    """The box (south, west, north, east) around a point holding every case within the
    duplicate radius."""
    rule = policy.duplicates
    dlat = rule.radius_m / 111_320.0
    dlon = rule.radius_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    return (lat - dlat, lon - dlon, lat + dlat, lon + dlon)


def find_master(
    conn: Connection,
    *,
    policy: Policy,
    case_id: str,
    category: str,
    lat: float,
    lon: float,
    now: datetime,
    pending: Sequence[dict[str, Any]] = (),
    locked: bool = False,
) -> tuple[Any, float] | None:
    """The open case a new one duplicates: same category, within the radius and the
    window; the nearest (then the oldest) when there are several. `pending`: cases
    filed earlier in the same transaction but not written yet (rows, all columns), which
    count as stored. `locked`: the caller holds the cells' locks already
    (`store.lock_cells`)."""
    rule = policy.duplicates
    box = duplicate_box(policy, lat, lon)
    if not locked:
        store.lock_cells(conn, [(category, c) for c in store.cells_covering(box)])
    since = now - timedelta(hours=rule.window_hours)
    candidates = store.duplicate_candidates(
        conn,
        category=category,
        since=since,
        statuses=sorted(MERGEABLE),
        box=box,
        exclude_id=case_id,
    )
    south, west, north, east = box
    candidates += [
        SimpleNamespace(**r)
        for r in pending
        if r["category"] == category
        and r["status"] in MERGEABLE
        and r["merged_into"] is None
        and r["id"] != case_id
        and r["latitude"] is not None
        and south <= r["latitude"] <= north
        and west <= r["longitude"] <= east
        and aware(r["created_at"]) >= since
    ]
    best: tuple[Any, float] | None = None
    for c in sorted(candidates, key=lambda r: (aware(r.created_at), r.id)):
        d = distance_m(lat, lon, c.latitude, c.longitude)
        if d <= rule.radius_m and (best is None or d < best[1]):
            best = (c, d)
    return best
