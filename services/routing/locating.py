"""Cases that cannot be located by themselves: address-only submissions geocoded through
registry, and the district's "to locate" queue (立案待定位) that an operator files by hand.

An address said without a point is matched to buildings (registry GeocodeAddress). It
files automatically when the match is unambiguous: the best candidate has at least
AUTO_FILE_CONFIDENCE and every candidate within TIE_MARGIN of it lies in the same grid;
the case then keeps that building's point, so the duplicate search (并单) compares it with
cases said by point or by the same address. Otherwise the case stays RECEIVED with a
`filing_error`, is assigned to the district platform (so it is in the district's work
queue) and keeps its candidates, until an operator files it with FileCase: by grid (the
normal first-level dispatch of that grid) or straight to a unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.common.auth import Principal
from services.common.errors import InvalidArgument, PermissionDenied, Violations
from services.routing import domain

AUTO_FILE_CONFIDENCE = 0.6
TIE_MARGIN = 0.15
GRID_DIGITS = 15


@dataclass(frozen=True)
class Geocoded:
    """What an address came to: the building to locate by (None: file by hand), the
    candidates to show the operator, and why it did not file by itself."""

    building: Any
    candidates: list[dict[str, Any]]
    error: str


def decide(address: str, found: list[reg.AddressCandidate]) -> Geocoded:
    shown = [
        {
            "building_code": c.building.code,
            "address": c.building.address,
            "grid_code": c.building.grid_code,
            "confidence": c.confidence,
        }
        for c in found
    ]
    if not found:
        return Geocoded(
            None, [], f"NOT_FOUND: no building's address resembles {address!r}; file it by hand"
        )
    best = found[0]
    tied = [c for c in found if c.confidence >= best.confidence - TIE_MARGIN]
    grids = {c.building.grid_code for c in tied}
    if best.confidence >= AUTO_FILE_CONFIDENCE and grids == {best.building.grid_code} != {""}:
        return Geocoded(best.building, shown, "")
    return Geocoded(
        None,
        shown,
        f"AMBIGUOUS: {address!r} may mean {len(tied)} buildings in {len(grids)} grids "
        f"(best confidence {best.confidence:.2f}); choose the grid and file it by hand",
    )


def failed_changes(error: str, *, district: Any, candidates: list[dict[str, Any]]) -> dict:
    """A failed filing: the case waits in the district platform's queue, and counts in
    the district's area (its grid_code is the district's code until it is filed)."""
    return {
        "filing_error": error,
        "grid_code": district.code,
        "district_code": district.code,
        "district_name": district.name,
        "assigned_unit_code": district.code,
        "assigned_unit_name": district.name,
        "location_candidates": candidates or None,
    }


def validate(request: svc.FileCaseRequest, v: Violations) -> None:
    grid, unit = request.grid_code.strip(), request.unit_code.strip()
    if bool(grid) == bool(unit):
        v.add("grid_code", "give exactly one of grid_code and unit_code")
    if grid and not (grid.isdigit() and len(grid) == GRID_DIGITS):
        v.add("grid_code", f"must be a grid code of {GRID_DIGITS} digits")
    if unit and domain.unit_level(unit) == 0:
        v.add("unit_code", "must be a community, street or district code, or a department")


def check_may_file(row: Any, *, acting: str, chosen: str, field: str, principal: Principal) -> None:
    """The operator acts for the unit whose queue holds the case (the district platform),
    within the caller's stated jurisdiction, and chooses a place under that unit."""
    if principal.jurisdiction is not None and not principal.covers(acting):
        raise PermissionDenied(
            f"{acting} is outside your jurisdiction {principal.jurisdiction}",
            reason="OUTSIDE_JURISDICTION",
            metadata={"jurisdiction": principal.jurisdiction, "acting_unit_code": acting},
        )
    holder = row.assigned_unit_code
    if not acting.isdigit() or not holder or holder != acting:
        raise PermissionDenied(
            f"filing case {row.id} by hand needs the unit whose queue holds it "
            f"({holder or 'none'}); {acting} is not",
            reason="NOT_CASE_HOLDER",
            metadata={"acting_unit_code": acting, "case_unit_code": holder},
        )
    if not chosen.startswith(acting):
        raise InvalidArgument([(field, f"must lie in {acting}")])


async def place_of(directory: Any, code: str, field: str) -> SimpleNamespace:
    """The grid (or area unit) `code` with its community, street and district, named
    from registry, shaped like registry's LocateGridResponse; departments stand in the
    district."""
    area = code.partition("-")[0] if domain.is_department(code) else code
    names: dict[int, Any] = {}
    for n in (6, 9, 12, GRID_DIGITS):
        if len(area) >= n:
            name = await directory.unit_name(area[:n])
            if name is None:
                raise InvalidArgument([(field, f"no unit {area[:n]!r} in registry")])
            names[n] = SimpleNamespace(code=area[:n], name=name)
    blank = SimpleNamespace(code="", name="")
    return SimpleNamespace(
        grid=names.get(GRID_DIGITS, blank),
        community=names.get(12, blank),
        street=names.get(9, blank),
        district=names[6],
        area=area,
    )


def place_changes(place: SimpleNamespace) -> dict[str, Any]:
    return {
        # A case filed to a unit without a grid counts in that unit's area.
        "grid_code": place.grid.code or place.area,
        "community_code": place.community.code,
        "street_code": place.street.code,
        "district_code": place.district.code,
        "community_name": place.community.name,
        "street_name": place.street.name,
        "district_name": place.district.name,
        "filing_error": "",
        "location_candidates": None,
    }


def plan_file(
    row: Any,
    *,
    sla: domain.Sla,
    actor: str,
    place: SimpleNamespace,
    target: domain.Target,
    note: str,
    now: datetime,
) -> list[domain.Step]:
    where = f"网格 {place.grid.name}" if place.grid.code else f"单位 {target.unit_name}"
    filed = f"人工立案：定位到{where}" + (f"（{note}）" if note else "")
    helpers = "、".join(n for _, n in target.assisting)
    return [
        domain.Step(res.TRANSITION_FILED, actor, filed, place_changes(place)),
        domain.Step(
            res.TRANSITION_DISPATCHED,
            actor,
            f"交办 {target.unit_name}" + (f"，协办 {helpers}" if helpers else ""),
            sla.dispatch(now=now, target=target, category=row.category),
            assisting=list(target.assisting),
        ),
    ]
