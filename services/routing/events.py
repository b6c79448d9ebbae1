"""routing's event handling: a received case is located, filed and dispatched — or merged
into an open case of the same kind and place (并单).

The registry is asked first (outside any transaction); then filing and dispatch (or the
merge) are one transaction together with the inbox row, so a crash anywhere before the
commit means the event is redelivered and the case is filed once; a crash after it means
the redelivery finds the inbox row and does nothing. The cases of a fetched batch are filed
together (`Filer._file_all`): one statement per table for their rows, history and events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as res
from services.common import telemetry
from services.common.consumer import Apply, Batched, RetryLater
from services.common.policy import Policy
from services.routing import domain, locating, metrics, store
from services.routing.clock import Clock
from services.routing.directory import Directory, RegistryDown

CONSUMER = "routing"
Point = tuple[float, float]  # (latitude, longitude)
SUBJECTS = "lianxin.case.received"


@dataclass
class Filing:
    """A received case with what registry said of it, waiting to be filed (and, once
    filed, its outcome and steps)."""

    case: intake_res.Case
    located: Any
    error: str
    candidates: list[dict[str, Any]]
    point: Point | None
    target: domain.Target | None
    district: Any
    traceparent: str | None
    now: Any
    outcome: str = ""  # "dispatched", "merged" or "failed"
    steps: list[tuple[int, res.Case]] = field(default_factory=list)


class Filer:
    """Files and dispatches received cases, asking registry where they are."""

    def __init__(
        self,
        *,
        policy: Policy,
        directory: Directory,
        clock: Clock,
        on_dispatched: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy
        self.sla = domain.Sla(policy)
        self.directory = directory
        self.clock = clock
        self.on_dispatched = on_dispatched

    async def handle(self, event: event_pb2.Event, apply: Apply) -> None:
        if event.WhichOneof("body") != "case_received":
            return
        case = event.case_received.case
        candidates: list[dict[str, Any]] = []
        try:
            located, error, candidates, point = await self._locate(case)
            target = (
                await first_target(self.sla, self.directory, case.category, located)
                if located
                else None
            )
            district = None
            if target is None:  # it waits in the district platform's queue
                code = self.policy.district
                name = await self.directory.unit_name(code) or code
                district = SimpleNamespace(code=code, name=name)
        except RegistryDown as exc:
            raise RetryLater(str(exc)) from exc
        filing = Filing(
            case=case,
            located=located,
            error=error,
            candidates=candidates,
            point=point,
            target=target,
            district=district,
            # The case's first trace: every later step links to it.
            traceparent=telemetry.inject_headers().get("traceparent"),
            now=self.clock.now(),
        )
        if await apply(Batched(self._file_all, filing)):
            if filing.outcome == "failed":
                metrics.FILING_FAILURES.labels(
                    "outside_grids" if case.location.HasField("point") else "no_point"
                ).inc()
            metrics.record_steps(filing.steps, now=filing.now)
            if filing.outcome == "dispatched" and self.on_dispatched is not None:
                self.on_dispatched()

    def _file_all(self, conn: Connection, filings: list[Filing]) -> None:
        """The received cases of a fetched batch, filed in one transaction: the duplicate
        search's locks for all of them at once, then each case's first steps in memory (a
        case merges into one filed earlier in the batch as into a stored one), then one
        statement per table for all."""
        stored = store.existing_ids(conn, [f.case.id for f in filings])
        store.lock_cells(
            conn,
            [
                (f.case.category, cell)
                for f in filings
                if f.located is not None and f.target is not None and f.point is not None
                for cell in store.cells_covering(domain.duplicate_box(self.policy, *f.point))
            ],
        )
        made: dict[str, domain.NewCase] = {}
        for f in filings:
            f.outcome, f.steps = "", []  # (a writer group that failed runs this again)
            if f.case.id in stored or f.case.id in made:
                continue  # the same case announced twice under two event ids
            steps = self._first_steps(conn, f, [m.row for m in made.values()])
            row = {**new_row(f.case, f.now, f.point), "origin_traceparent": f.traceparent}
            made[f.case.id] = domain.plan_new(row, steps, now=f.now, traceparent=f.traceparent)
            f.steps = made[f.case.id].out
        domain.write_new(conn, list(made.values()))

    def _first_steps(
        self, conn: Connection, f: Filing, pending: list[dict[str, Any]]
    ) -> list[domain.Step]:
        """Filing failed; or merged into an open case of the kind nearby; or filed and
        dispatched. Sets `f.outcome`."""
        if f.located is None or f.target is None:
            f.outcome = "failed"
            assert f.district is not None
            changes = locating.failed_changes(f.error, district=f.district, candidates=f.candidates)
            return [domain.Step(res.TRANSITION_FILING_FAILED, "system", f.error, changes)]
        located, target, case = f.located, f.target, f.case
        place = {
            "grid_code": located.grid.code,
            "community_code": located.community.code,
            "street_code": located.street.code,
            "district_code": located.district.code,
            "community_name": located.community.name,
            "street_name": located.street.name,
            "district_name": located.district.name,
        }
        # A case located by its address is compared by its building's point.
        assert f.point is not None  # located, so by a point
        found = domain.find_master(
            conn,
            policy=self.policy,
            case_id=case.id,
            category=case.category,
            lat=f.point[0],
            lon=f.point[1],
            now=f.now,
            pending=pending,
            locked=True,
        )
        if found is not None:
            master, metres = found
            f.outcome = "merged"
            return [
                domain.Step(
                    res.TRANSITION_MERGED,
                    "system",
                    f"并入案件 {master.id}（同类诉求，相距 {metres:.0f} 米）",
                    {
                        **place,
                        "merged_into": master.id,
                        "level": master.level,
                        "assigned_unit_code": master.assigned_unit_code,
                        "assigned_unit_name": master.assigned_unit_name,
                        "deadline_time": master.deadline_time,
                    },
                )
            ]
        f.outcome = "dispatched"
        via = f" by its address ({f.candidates[0]['address']})" if f.candidates else ""
        helping = "、".join(n for _, n in target.assisting)
        return [
            domain.Step(
                res.TRANSITION_FILED,
                "system",
                f"located to grid {located.grid.name}" + via,
                {**place, "location_candidates": None},
            ),
            domain.Step(
                res.TRANSITION_DISPATCHED,
                "system",
                f"交办 {target.unit_name}" + (f"，协办 {helping}" if helping else ""),
                self.sla.dispatch(now=f.now, target=target, category=case.category),
                assisting=list(target.assisting),
            ),
        ]

    async def _locate(
        self, case: intake_res.Case
    ) -> tuple[Any, str, list[dict[str, Any]], Point | None]:
        """Where the case is (registry's LocateGrid answer), why not, for an address
        without a point the buildings it may mean, and the point it is located by: the
        reporter's, or the building's an address was matched to (kept with the case, so
        duplicates said by address and by point find each other)."""
        if case.location.HasField("point"):
            p = case.location.point
            located, error = await self.directory.locate(p.latitude, p.longitude)
            return located, error, [], (p.latitude, p.longitude)
        address = case.location.address.strip()
        geo = locating.decide(address, await self.directory.geocode(address))
        if geo.building is None:
            return None, geo.error, geo.candidates, None
        b = geo.building.location
        located, error = await self.directory.locate(b.latitude, b.longitude)
        return located, error, geo.candidates, (b.latitude, b.longitude)


async def first_target(
    sla: domain.Sla, directory: Directory, category_code: str, located: Any
) -> domain.Target:
    """The unit a located case goes to first: the category's first level of its place
    (at district level, the category's department with its helpers), named, with the
    staff member who has the category's skill."""
    category = sla.category(category_code)
    level = domain.LEVELS[category.first_level]
    unit = {
        res.LEVEL_COMMUNITY: located.community,
        res.LEVEL_STREET: located.street,
        res.LEVEL_DISTRICT: located.district,
    }[level]
    target = domain.Target(level, unit.code, unit.name)
    if level == res.LEVEL_DISTRICT and category.department:
        target = domain.Target(
            level,
            category.department,
            "",
            tuple((d, "") for d in category.assisting_departments),
        )
    target = await directory.named(target)
    staff = await directory.staff_with_skill(target.unit_code, category.skill)
    return domain.Target(target.level, target.unit_code, target.unit_name, target.assisting, staff)


def new_row(case: intake_res.Case, now: Any, point: Point | None = None) -> dict[str, Any]:
    """The routing row of a received case; `point` is where it was located (default:
    the reporter's point, if any)."""
    if point is None and case.location.HasField("point"):
        point = (case.location.point.latitude, case.location.point.longitude)
    return {
        "id": case.id,
        "status": res.CASE_STATUS_RECEIVED,
        "level": 0,
        "category": case.category,
        "channel": case.channel,
        "latitude": point[0] if point else None,
        "longitude": point[1] if point else None,
        "cell": store.cell_of(*point) if point else None,
        "grid_code": "",
        "community_code": "",
        "street_code": "",
        "district_code": "",
        "assigned_unit_code": "",
        "assigned_unit_name": "",
        "assignee_staff_id": "",
        "deadline_time": None,
        "result": "",
        "filing_error": "",
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
