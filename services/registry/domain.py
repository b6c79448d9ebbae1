"""registry's rules: valid requests, who may read personal data, the grid map in memory,
and how stored rows read back as protos."""

from __future__ import annotations

import json
import math
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from services.common.errors import Violations
from services.common.interceptors import actor_var
from services.common.pii import mask_phone

LEVELS: dict[str, int] = {
    "district": res.UNIT_LEVEL_DISTRICT,
    "street": res.UNIT_LEVEL_STREET,
    "community": res.UNIT_LEVEL_COMMUNITY,
    "grid": res.UNIT_LEVEL_GRID,
}
ROLES: dict[str, int] = {
    "grid_manager": res.STAFF_ROLE_GRID_MANAGER,
    "grid_assistant": res.STAFF_ROLE_GRID_ASSISTANT,
    "unit_staff": res.STAFF_ROLE_UNIT_STAFF,
    "department_staff": res.STAFF_ROLE_DEPARTMENT_STAFF,
    "command_centre": res.STAFF_ROLE_COMMAND_CENTRE,
}
SERVICE_ACTOR_PREFIX = "service:"


# --- requests ----------------------------------------------------------------------------


def validate_locate(req: svc.LocateGridRequest) -> tuple[float, float]:
    """The (latitude, longitude) to locate, or every field violation at once."""
    v = Violations()
    if not req.HasField("location"):
        v.add("location", "is required: latitude and longitude in WGS84 degrees")
        v.raise_if_any()
    lat, lon = req.location.latitude, req.location.longitude
    v.check(math.isfinite(lat) and -90 <= lat <= 90, "location.latitude", "must be -90..90")
    v.check(math.isfinite(lon) and -180 <= lon <= 180, "location.longitude", "must be -180..180")
    v.raise_if_any()
    return lat, lon


def check_enum(v: Violations, field: str, value: int, enum: Any) -> None:
    """An optional enum filter: 0 (unspecified) or one of the enum's values."""
    if value != 0 and value not in enum.values():
        v.add(field, f"must be one of {', '.join(enum.keys()[1:])}")


# --- personal data -----------------------------------------------------------------------


def may_read_pii(actor: str | None = None) -> bool:
    """Whether the caller may see personal data (full phone numbers) unmasked.

    THE SEAM for permissions: today internal service callers (actor `service:<name>`, e.g.
    notify, which sends SMS) may, everyone else sees masked values. When JWT verification
    lands in the request-id interceptor, this becomes "the token grants `pii:read` and
    states a purpose"; callers of this function do not change.
    """
    who = actor_var.get() if actor is None else actor
    return who.startswith(SERVICE_ACTOR_PREFIX)


# --- geometry ----------------------------------------------------------------------------


def inside_point(geom: BaseGeometry) -> tuple[float, float]:
    """A (lat, lon) inside `geom`: its centroid when that is inside, else a point that is."""
    p = geom.centroid
    if not geom.covers(p):
        p = geom.representative_point()
    return round(p.y, 6), round(p.x, 6)


class GridMap:
    """Every unit by code, and an STRtree over grid polygons, for LocateGrid in memory.

    Built from the units table at start (and to be rebuilt after an import). Shapely works
    in (x, y) = (lon, lat). A point on a shared edge touches two grids; the lowest grid
    code wins, so the answer never depends on insertion order.
    """

    def __init__(self, unit_rows: list[Any]) -> None:
        self.units: dict[str, res.Unit] = {r.code: unit_to_proto(r) for r in unit_rows}
        grids = sorted(
            (r for r in unit_rows if r.level == res.UNIT_LEVEL_GRID and r.boundary_geojson),
            key=lambda r: r.code,
        )
        self._codes = [r.code for r in grids]
        self._tree = STRtree([shape(json.loads(r.boundary_geojson)) for r in grids])

    def __len__(self) -> int:
        return len(self.units)

    def count(self, level: int) -> int:
        return sum(1 for u in self.units.values() if u.level == level)

    def locate(self, lat: float, lon: float) -> svc.LocateGridResponse | None:
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        grid = self.units[self._codes[int(min(hits))]]
        out = svc.LocateGridResponse(grid=grid)
        parent = self.units.get(grid.parent_code)
        while parent is not None:
            if parent.level == res.UNIT_LEVEL_COMMUNITY:
                out.community.CopyFrom(parent)
            elif parent.level == res.UNIT_LEVEL_STREET:
                out.street.CopyFrom(parent)
            elif parent.level == res.UNIT_LEVEL_DISTRICT:
                out.district.CopyFrom(parent)
            parent = self.units.get(parent.parent_code)
        return out


# --- rows → protos -----------------------------------------------------------------------


def unit_to_proto(row: Any) -> res.Unit:
    u = res.Unit(
        code=row.code,
        name=row.name,
        level=row.level,
        type_name=row.type_name,
        parent_code=row.parent_code,
        boundary_geojson=row.boundary_geojson,
    )
    if row.centroid_lat is not None:
        u.centroid.latitude = row.centroid_lat
        u.centroid.longitude = row.centroid_lon
    return u


def staff_to_proto(row: Any, grid_codes: list[str], *, unmasked: bool) -> res.Staff:
    return res.Staff(
        id=row.id,
        name=row.name,
        role=row.role,
        phone=row.phone if unmasked else mask_phone(row.phone),
        unit_code=row.unit_code,
        grid_codes=grid_codes,
        skills=json.loads(row.skills),
    )


def department_to_proto(row: Any) -> res.Department:
    return res.Department(code=row.code, name=row.name, district_code=row.district_code)
