"""registry's gRPC servicer."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as res
from services.common import paging
from services.common.db import Database
from services.common.errors import InvalidArgument, NotFound, Violations
from services.common.interceptors import actor_var
from services.registry import domain, metrics, store

audit = logging.getLogger("lianxin.audit")

PAGE_DEFAULT = 100
PAGE_MAX = 1000


def _page(requested: int, token: str) -> tuple[int, str]:
    size = paging.page_size(requested, default=PAGE_DEFAULT, maximum=PAGE_MAX)
    return size, str(paging.decode_token(token).get("after", ""))


def _next_token(keys: list[str], more: bool) -> str:
    return paging.encode_token({"after": keys[-1]}) if more and keys else ""


class RegistryServicer(registry_service_pb2_grpc.RegistryServiceServicer):
    def __init__(self, *, db: Database, grid_map: domain.GridMap) -> None:
        self.db = db
        self.grid_map = grid_map

    async def LocateGrid(
        self, request: svc.LocateGridRequest, context: grpc.aio.ServicerContext
    ) -> svc.LocateGridResponse:
        lat, lon = domain.validate_locate(request)
        found = self.grid_map.locate(lat, lon)
        if found is None:
            metrics.LOCATE.labels("outside").inc()
            raise NotFound(
                f"point (latitude {lat}, longitude {lon}) is outside every grid",
                reason="OUTSIDE_ALL_GRIDS",
                metadata={"latitude": str(lat), "longitude": str(lon)},
            )
        metrics.LOCATE.labels("found").inc()
        return found

    async def GetUnit(
        self, request: svc.GetUnitRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetUnitResponse:
        if not request.code:
            raise InvalidArgument([("code", "is required")])
        row = await self.db.read(lambda conn: store.get_unit(conn, code=request.code))
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
            return store.list_units(
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
            rows = store.list_staff(
                conn,
                grid_code=request.grid_code,
                unit_code=request.unit_code,
                role=request.role,
                skill=request.skill,
                after_id=after,
                limit=size + 1,
            )
            page = rows[:size]
            grids = store.grids_of_staff(conn, staff_ids=[r.id for r in page])
            return page, grids, len(rows) > size

        rows, grids, more = await self.db.read(load)
        unmasked = domain.may_read_pii()
        if unmasked and rows:
            actor = actor_var.get()
            audit.info("pii read: actor=%s staff=%s purpose=ListStaff", actor, len(rows))
            metrics.PII_READS.labels(actor.partition(":")[0]).inc(len(rows))
        staff = [domain.staff_to_proto(r, grids[r.id], unmasked=unmasked) for r in rows]
        return svc.ListStaffResponse(
            staff=staff, next_page_token=_next_token([s.id for s in staff], more)
        )

    async def ListDepartments(
        self, request: svc.ListDepartmentsRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListDepartmentsResponse:
        size, after = _page(request.page_size, request.page_token)
        rows = await self.db.read(
            lambda conn: store.list_departments(conn, after_code=after, limit=size + 1)
        )
        depts = [domain.department_to_proto(r) for r in rows[:size]]
        return svc.ListDepartmentsResponse(
            departments=depts,
            next_page_token=_next_token([d.code for d in depts], len(rows) > size),
        )
