"""routing's event handling: a received case is located, filed and dispatched.

The registry is asked first (outside any transaction); then filing and dispatch are one
transaction together with the inbox row, so a crash anywhere before the commit means the
event is redelivered and the case is filed once; a crash after it means the redelivery
finds the inbox row and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc, resources_pb2
from lianxin.routing.v1 import resources_pb2 as res
from services.common import telemetry
from services.common.bus import Apply, RetryLater
from services.common.policy import Policy
from services.common.timeutil import utcnow
from services.routing import domain, metrics, store

CONSUMER = "routing"
SUBJECTS = "lianxin.case.received"
SERVICE_ACTOR = (("x-lianxin-actor", "service:routing"),)


@dataclass(frozen=True)
class Assignment:
    level: int
    unit_code: str
    unit_name: str
    staff_id: str
    hours: float


class Filer:
    """Files and dispatches received cases, asking registry where they are."""

    def __init__(self, *, policy: Policy, registry: grpc.aio.Channel, timeout: float) -> None:
        self.policy = policy
        self.registry = registry_service_pb2_grpc.RegistryServiceStub(registry)
        self.timeout = timeout

    async def handle(self, event: event_pb2.Event, apply: Apply) -> None:
        if event.WhichOneof("body") != "case_received":
            return
        case = event.case_received.case
        located, error = await self._locate(case)
        assignment = await self._assign(case.category, located) if located else None
        traceparent = telemetry.inject_headers().get("traceparent")
        now = utcnow()

        def effect(conn: Connection) -> None:
            if store.get_case(conn, case_id=case.id) is not None:
                return  # the same case announced twice under two event ids
            store.insert_case(conn, row=new_row(case, now))
            if located is None or assignment is None:
                metrics.FILING_FAILURES.labels(
                    "outside_grids" if case.location.HasField("point") else "no_point"
                ).inc()
                domain.step(
                    conn,
                    case_id=case.id,
                    now=now,
                    traceparent=traceparent,
                    s=domain.Step(
                        res.TRANSITION_FILING_FAILED, "system", error, {"filing_error": error}
                    ),
                )
                return
            domain.step(
                conn,
                case_id=case.id,
                now=now,
                traceparent=traceparent,
                s=domain.Step(
                    res.TRANSITION_FILED,
                    "system",
                    f"located to grid {located.grid.name}",
                    {
                        "grid_code": located.grid.code,
                        "community_code": located.community.code,
                        "street_code": located.street.code,
                        "district_code": located.district.code,
                    },
                ),
            )
            domain.step(
                conn,
                case_id=case.id,
                now=now,
                traceparent=traceparent,
                s=domain.Step(
                    res.TRANSITION_DISPATCHED,
                    "system",
                    f"交办 {assignment.unit_name}",
                    {
                        "level": assignment.level,
                        "assigned_unit_code": assignment.unit_code,
                        "assigned_unit_name": assignment.unit_name,
                        "assignee_staff_id": assignment.staff_id,
                        "deadline_time": now + timedelta(hours=assignment.hours),
                    },
                ),
            )

        if await apply(effect) and assignment is not None:
            metrics.TRANSITIONS.labels("filed", "none").inc()
            metrics.TRANSITIONS.labels("dispatched", domain.level_name(assignment.level)).inc()

    async def _locate(self, case: intake_res.Case) -> tuple[Any, str]:
        if not case.location.HasField("point"):
            return None, "NOT_FOUND: the case has an address but no point; file it by hand"
        p = case.location.point
        try:
            located = await self.registry.LocateGrid(
                reg.LocateGridRequest(
                    location=resources_pb2.LatLng(latitude=p.latitude, longitude=p.longitude)
                ),
                timeout=self.timeout,
                metadata=SERVICE_ACTOR,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None, f"{exc.code().name}: {exc.details()}"
            raise RetryLater(f"registry LocateGrid: {exc.code().name}") from exc
        return located, ""

    async def _assign(self, category_code: str, located: Any) -> Assignment | None:
        category = self.policy.category(category_code)
        if category is None:  # intake validates; a policy change could still get here
            category = self.policy.categories[0]
        level_name = category.first_level
        unit = {
            "community": located.community,
            "street": located.street,
            "district": located.district,
        }[level_name]
        unit_code, unit_name = unit.code, unit.name
        try:
            if category.department:
                deps = await self.registry.ListDepartments(
                    reg.ListDepartmentsRequest(page_size=1000),
                    timeout=self.timeout,
                    metadata=SERVICE_ACTOR,
                )
                dep = next((d for d in deps.departments if d.code == category.department), None)
                if dep is not None:
                    unit_code, unit_name = dep.code, dep.name
            staff_id = ""
            if category.skill:
                found = await self.registry.ListStaff(
                    reg.ListStaffRequest(unit_code=unit_code, skill=category.skill, page_size=1),
                    timeout=self.timeout,
                    metadata=SERVICE_ACTOR,
                )
                staff_id = found.staff[0].id if found.staff else ""
        except grpc.aio.AioRpcError as exc:
            raise RetryLater(f"registry: {exc.code().name}") from exc
        return Assignment(
            level=domain.LEVELS[level_name],
            unit_code=unit_code,
            unit_name=unit_name,
            staff_id=staff_id,
            hours=self.policy.deadline_hours(category, level_name),
        )


def new_row(case: intake_res.Case, now: Any) -> dict[str, Any]:
    has_point = case.location.HasField("point")
    return {
        "id": case.id,
        "status": res.CASE_STATUS_RECEIVED,
        "level": 0,
        "category": case.category,
        "channel": case.channel,
        "latitude": case.location.point.latitude if has_point else None,
        "longitude": case.location.point.longitude if has_point else None,
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
