"""registry's rules: valid requests, who may see personal data, and how stored rows read
back as protos (masked unless the caller may see more)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import date
from typing import Any

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from services.common.auth import PII_READ, Principal
from services.common.errors import Violations
from services.common.pii import mask_id_number, mask_phone
from services.registry.geo import inside_point
from services.registry.gridmap import GridMap, unit_to_proto
from services.registry.idcard import age_on
from services.registry.importer.vocabulary import LEVELS, tags_to_list

__all__ = [
    "LEVELS",
    "ROLES",
    "GridMap",
    "full_view_refusal",
    "inside_point",
    "may_read_staff_phones",
    "person_data_refusal",
    "unit_to_proto",
]

ROLES: dict[str, int] = {
    "grid_manager": res.STAFF_ROLE_GRID_MANAGER,
    "grid_assistant": res.STAFF_ROLE_GRID_ASSISTANT,
    "unit_staff": res.STAFF_ROLE_UNIT_STAFF,
    "department_staff": res.STAFF_ROLE_DEPARTMENT_STAFF,
    "command_centre": res.STAFF_ROLE_COMMAND_CENTRE,
}


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


def wants_full(v: Violations, view: int) -> bool:
    check_enum(v, "view", view, res.PersonalDataView)
    return view == res.PERSONAL_DATA_VIEW_FULL


# --- personal data -----------------------------------------------------------------------


def may_read_staff_phones(p: Principal) -> bool:
    """Staff phone numbers in full: internal services (notify sends the SMS, routing
    names the handler) and callers holding `pii:read` who state a purpose."""
    return p.is_service or (p.has(PII_READ) and bool(p.purpose))


def person_data_refusal(p: Principal, what: str) -> str:
    """Why `p` may not see `what` (persons, households) at all; "" when they may: a
    caller acting for no unit sees no one (deny by default)."""
    if not p.jurisdiction:
        return (
            f"{what} are shown only to a caller with a jurisdiction "
            "(metadata x-lianxin-jurisdiction)"
        )
    return ""


def full_view_refusal(p: Principal, unit_codes: Iterable[str]) -> str:
    """Why `p` may not see the full personal data of persons belonging to `unit_codes`;
    "" when they may. Full values need the `pii:read` permission, a stated purpose, and
    jurisdiction over every person shown."""
    if not p.has(PII_READ):
        return f"the {PII_READ} permission is required to see personal data in full"
    if not p.purpose:
        return "state a purpose (metadata x-lianxin-purpose) to see personal data in full"
    if p.jurisdiction is None:
        return "no jurisdiction (the token names no unit)"
    outside = sorted({u or "(none)" for u in unit_codes if not p.covers(u)})
    if outside:
        return f"outside your jurisdiction {p.jurisdiction}: {', '.join(outside[:5])}"
    return ""


# --- rows → protos -----------------------------------------------------------------------


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


def building_to_proto(row: Any, *, household_count: int = 0) -> res.Building:
    return res.Building(
        code=row.code,
        name=row.name,
        address=row.address,
        location=res.LatLng(latitude=row.lat, longitude=row.lon),
        footprint_geojson=row.footprint_geojson,
        grid_code=row.grid_code,
        household_count=household_count,
    )


def household_address(building_address: str, unit_number: str, room: str) -> str:
    """ "<address><unit>单元<room>室", as store.household_address builds it in SQL."""
    return building_address + (f"{unit_number}单元" if unit_number else "") + f"{room}室"


def household_to_proto(row: Any, *, building_address: str, resident_count: int) -> res.Household:
    return res.Household(
        id=row.id,
        building_code=row.building_code,
        unit_number=row.unit_number,
        room=row.room,
        head_name=row.head_name,
        grid_code=row.unit_code,
        address=household_address(building_address, row.unit_number, row.room),
        resident_count=resident_count,
    )


def person_to_proto(row: Any, *, full: bool, today: date | None = None) -> res.Person:
    born = row.birth_date
    return res.Person(
        id=row.id,
        name=row.name,
        id_number=row.id_number if full else mask_id_number(row.id_number),
        phone=row.phone if full else mask_phone(row.phone),
        gender=row.gender,
        age=age_on(born, today or date.today()),
        birth_date=born.isoformat() if full else "",
        household_id=row.household_id or "",
        relation=row.relation,
        unit_code=row.unit_code,
        tags=tags_to_list(row.tags),
    )
