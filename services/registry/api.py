"""registry's gRPC servicer.

Who may see what is decided from the caller's `Principal` (services.common.auth):
- persons and households (person and building views, persons in search results) need a
  jurisdiction: without one they are refused (PERMISSION_DENIED, before any lookup); a
  person or building outside it answers exactly as one that does not exist (NOT_FOUND);
- full ID numbers and phones of persons need `pii:read`, a stated purpose and jurisdiction
  over every person shown;
- staff phones are masked unless the caller is a service or holds `pii:read` with a
  purpose (domain.may_read_staff_phones);
- every response that carries persons or full staff phones writes one access-log row per
  record (masked or full, granted or denied) before it is sent; a refused out-of-scope
  read is logged too (the caller only sees NOT_FOUND).
When the caller states a jurisdiction, units and search results outside it are refused or
left out.

The servicer is put together from its handlers: the map (units, staff, departments,
LocateGrid, GeocodeAddress) here; coverage, views and search in api_views.py; ImportData
and ListAccessLog in api_admin.py; what they share (limits, paging, jurisdiction checks,
the access logging of personal data) in api_base.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as res
from services.common import auth
from services.common.bus import OutboxRelay
from services.common.db import Database
from services.common.errors import InvalidArgument, NotFound, Violations
from services.registry import domain, geocode, metrics
from services.registry.api_admin import AdminHandlers
from services.registry.api_base import GEOCODE_DEFAULT, GEOCODE_MAX, LOCATED, _next_token, _page
from services.registry.api_views import ViewHandlers
from services.registry.cases import CaseDirectory
from services.registry.store import records


class RegistryServicer(
    ViewHandlers, AdminHandlers, registry_service_pb2_grpc.RegistryServiceServicer
):
    def __init__(
        self,
        *,
        db: Database,
        grid_map: domain.GridMap,
        relay: OutboxRelay | None = None,
        cases: CaseDirectory | None = None,
    ) -> None:
        self.db = db
        self.grid_map = grid_map
        self.relay = relay
        self.cases = cases or CaseDirectory(None, timeout=1.0)
        self._import_lock = asyncio.Lock()

    # --- the map ---------------------------------------------------------------------

    async def LocateGrid(
        self, request: svc.LocateGridRequest, context: grpc.aio.ServicerContext
    ) -> svc.LocateGridResponse:
        # The hot path (routing files every case through it): plain checks first, the
        # full validation with every violation only when they fail.
        loc = request.location
        lat, lon = loc.latitude, loc.longitude
        if not (request.HasField("location") and -90 <= lat <= 90 and -180 <= lon <= 180):
            lat, lon = domain.validate_locate(request)
        found = self.grid_map.locate(lat, lon)
        if found is not None:
            LOCATED.inc()
            return found
        metrics.LOCATE.labels("outside").inc()
        raise NotFound(
            f"point (latitude {lat}, longitude {lon}) is outside every grid",
            reason="OUTSIDE_ALL_GRIDS",
            metadata={"latitude": str(lat), "longitude": str(lon)},
        )

    async def GeocodeAddress(
        self, request: svc.GeocodeAddressRequest, context: grpc.aio.ServicerContext
    ) -> svc.GeocodeAddressResponse:
        v = Violations()
        said = geocode.normalize(request.address)
        v.check(bool(said), "address", "is required")
        v.check(len(request.address) <= 500, "address", "must be at most 500 characters")
        v.check(
            0 <= request.max_candidates <= GEOCODE_MAX,
            "max_candidates",
            f"must be between 0 and {GEOCODE_MAX}",
        )
        v.raise_if_any()
        limit = request.max_candidates or GEOCODE_DEFAULT
        found = await self.db.read(lambda conn: geocode.geocode(conn, address=said, limit=limit))
        return svc.GeocodeAddressResponse(
            candidates=[
                svc.AddressCandidate(
                    building=domain.building_to_proto(c.building),
                    confidence=round(c.confidence, 4),
                    exact=c.exact,
                )
                for c in found
            ]
        )

    async def GetUnit(
        self, request: svc.GetUnitRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetUnitResponse:
        if not request.code:
            raise InvalidArgument([("code", "is required")])
        row = await self.db.read(lambda conn: records.get_unit(conn, code=request.code))
        if row is None:
            raise NotFound(f"unit {request.code} not found", metadata={"code": request.code})
        return svc.GetUnitResponse(unit=domain.unit_to_proto(row))

    async def ListUnits(
        self, request: svc.ListUnitsRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListUnitsResponse:
        v = Violations()
        domain.check_enum(v, "level", request.level, res.UnitLevel)
        v.raise_if_any()
        size, after = _page(request.page_size, request.page_token)

        def load(conn: Connection) -> list[Any]:
            return records.list_units(
                conn,
                parent_code=request.parent_code,
                level=request.level,
                after_code=after,
                limit=size + 1,
            )

        rows = await self.db.read(load)
        units = [domain.unit_to_proto(r) for r in rows[:size]]
        return svc.ListUnitsResponse(
            units=units, next_page_token=_next_token([u.code for u in units], len(rows) > size)
        )

    async def ListStaff(
        self, request: svc.ListStaffRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListStaffResponse:
        v = Violations()
        domain.check_enum(v, "role", request.role, res.StaffRole)
        v.raise_if_any()
        size, after = _page(request.page_size, request.page_token)

        def load(conn: Connection) -> tuple[list[Any], dict[str, list[str]], bool]:
            rows = records.list_staff(
                conn,
                grid_code=request.grid_code,
                unit_code=request.unit_code,
                role=request.role,
                skill=request.skill,
                after_id=after,
                limit=size + 1,
            )
            page = rows[:size]
            grids = records.grids_of_staff(conn, staff_ids=[r.id for r in page])
            return page, grids, len(rows) > size

        rows, grids, more = await self.db.read(load)
        p = auth.principal_of(context)
        unmasked = domain.may_read_staff_phones(p)
        if unmasked and rows:
            await self._log(
                p,
                "ListStaff",
                "staff",
                [r.id for r in rows],
                res.PERSONAL_DATA_VIEW_FULL,
                res.ACCESS_OUTCOME_GRANTED,
            )
        staff = [domain.staff_to_proto(r, grids[r.id], unmasked=unmasked) for r in rows]
        return svc.ListStaffResponse(
            staff=staff, next_page_token=_next_token([s.id for s in staff], more)
        )

    async def ListDepartments(
        self, request: svc.ListDepartmentsRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListDepartmentsResponse:
        size, after = _page(request.page_size, request.page_token)
        rows = await self.db.read(
            lambda conn: records.list_departments(conn, after_code=after, limit=size + 1)
        )
        depts = [domain.department_to_proto(r) for r in rows[:size]]
        return svc.ListDepartmentsResponse(
            departments=depts,
            next_page_token=_next_token([d.code for d in depts], len(rows) > size),
        )
