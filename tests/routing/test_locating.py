"""Cases that cannot locate themselves, through the public APIs of the four real
services: a point outside every grid waits in the district's "to locate" queue and is filed
by hand into the normal flow; an address said without a point is located through a
building's address, or, when several buildings may be meant, queued with its candidates."""

from __future__ import annotations

import grpc
import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from tests import callers
from tests.callers import metadata_for
from tests.conftest import error_details, eventually, violations
from tests.routing.helpers import DISTRICT, STREET, TANXIANG, XINZHUANG, get, routed, transitions
from tests.system import System

S = res
OPERATOR = metadata_for("staff-cc-370402", jurisdiction=DISTRICT)
XINZHUANG_GRID = "370402003001001"
NOWHERE = (35.5, 118.5)


def report(ref: str, *, point: tuple[float, float] | None = None, address: str = "") -> object:
    req = intake_svc.SubmitCaseRequest(
        channel=intake_res.CHANNEL_MAYOR_HOTLINE,
        external_ref=ref,
        reporter=intake_res.Reporter(name="张胜起", phone="13806325566"),
        location=intake_res.Location(address=address),
        category="household_electrical",
        description="家中电灯一直闪个不停",
    )
    if point is not None:
        req.location.point.latitude, req.location.point.longitude = point
    return req


async def waiting(system: System, ref: str, **kw: object) -> res.Case:
    """A submitted case once routing has given up locating it."""
    created = await system.intake.SubmitCase(report(ref, **kw))  # type: ignore[arg-type]

    async def probe() -> res.Case | None:
        try:
            case = await get(system, created.case.id)
        except grpc.aio.AioRpcError:
            return None
        return case if case.filing_error else None

    return await eventually(probe)


async def to_locate(system: System) -> list[str]:
    queue = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=DISTRICT, to_locate_only=True, page_size=500)
    )
    return [c.id for c in queue.cases]


async def file(
    system: System, case_id: str, rid: str, md: object = OPERATOR, **kw: str
) -> res.Case:
    request = svc.FileCaseRequest(case_id=case_id, request_id=rid, **kw)
    if not request.acting_unit_code:
        request.acting_unit_code = DISTRICT
    return (await system.routing.FileCase(request, metadata=md)).case  # type: ignore[arg-type]


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_a_case_outside_every_grid_is_filed_by_hand_into_the_normal_flow(
    system: System,
) -> None:
    case = await waiting(system, "loc-far-1", point=NOWHERE, address="不知道在哪")
    assert case.status == S.CASE_STATUS_RECEIVED
    assert case.filing_error.startswith("NOT_FOUND")
    assert (case.assigned_unit_code, case.district_code) == (DISTRICT, DISTRICT)
    queue = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=DISTRICT, to_locate_only=True, page_size=500)
    )
    shown = next(c for c in queue.cases if c.id == case.id)
    assert shown.filing_error == case.filing_error
    # Nobody below the district sees it.
    street = await system.routing.ListWorkQueue(svc.ListWorkQueueRequest(unit_code=STREET))
    assert case.id not in [c.id for c in street.cases]

    filed = await file(system, case.id, "file-1", grid_code=XINZHUANG_GRID, note="电话确认")
    assert filed.status == S.CASE_STATUS_DISPATCHED
    assert (filed.grid_code, filed.assigned_unit_code) == (XINZHUANG_GRID, XINZHUANG)
    assert filed.level == S.LEVEL_COMMUNITY and filed.deadline_time.seconds > 0
    assert filed.filing_error == ""
    again = await file(system, case.id, "file-1", grid_code=XINZHUANG_GRID)
    assert again.version == filed.version
    history = (await get(system, case.id)).history
    assert transitions(await get(system, case.id)) == ["FILING_FAILED", "FILED", "DISPATCHED"]
    assert history[1].actor == "staff-cc-370402" and "电话确认" in history[1].note
    assert case.id not in await to_locate(system)

    async def intake_sees_it() -> bool:
        got = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case.id))
        return got.case.status == S.CASE_STATUS_DISPATCHED

    await eventually(intake_sees_it)
    # From here on it is a case like any other: the community accepts it.
    accepted = await system.routing.AcceptCase(
        svc.AcceptCaseRequest(case_id=case.id, request_id="acc"),
        metadata=callers.as_actor("staff-ga-370402003001"),
    )
    assert accepted.case.status == S.CASE_STATUS_IN_PROGRESS


async def test_an_address_said_without_a_point_is_located_through_its_building(
    system: System,
) -> None:
    created = await system.intake.SubmitCase(report("loc-addr-1", address="辛庄路12号院3号楼2单元"))  # type: ignore[arg-type]
    case = await routed(system, created.case.id)
    assert case.status == S.CASE_STATUS_DISPATCHED
    assert (case.grid_code, case.assigned_unit_code) == (XINZHUANG_GRID, XINZHUANG)
    history = (await get(system, case.id)).history
    assert "辛庄社区辛庄路12号院3号楼" in history[0].note

    # It keeps its building's point: the same trouble said again by address is merged (并单).
    again = await system.intake.SubmitCase(report("loc-addr-1b", address="辛庄路12号院3号楼"))  # type: ignore[arg-type]
    merged = await routed(system, again.case.id)
    assert merged.status == S.CASE_STATUS_MERGED, transitions(merged)
    assert merged.merged_into_case_id == case.id


async def test_an_ambiguous_address_is_queued_with_its_candidates_and_filed_to_a_unit(
    system: System,
) -> None:
    case = await waiting(system, "loc-addr-2", address="青檀路1号楼")
    assert case.filing_error.startswith("AMBIGUOUS")
    assert {c.building_code for c in case.location_candidates} >= {
        "370402003003001-B001",
        "370402001002002-B001",
    }
    assert all(0 < c.confidence <= 1 for c in case.location_candidates)
    assert case.id in await to_locate(system)
    queued = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=DISTRICT, to_locate_only=True, page_size=500)
    )
    assert next(c for c in queued.cases if c.id == case.id).location_candidates

    filed = await file(system, case.id, "file-2", unit_code=TANXIANG)
    assert filed.status == S.CASE_STATUS_DISPATCHED
    assert (filed.assigned_unit_code, filed.level) == (TANXIANG, S.LEVEL_COMMUNITY)
    assert (filed.grid_code, filed.community_name) == (TANXIANG, "檀香社区")
    assert not filed.location_candidates


async def test_filing_by_hand_is_refused_without_effect_when_it_must_be(system: System) -> None:
    case = await waiting(system, "loc-far-2", point=NOWHERE, address="远方")
    cases = [
        ({"grid_code": XINZHUANG_GRID, "unit_code": XINZHUANG}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"grid_code": "37040200300100"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"grid_code": "370499001001001"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"grid_code": "370402003001099"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"unit_code": "370402-D-NOSUCH"}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"grid_code": XINZHUANG_GRID, "acting_unit_code": STREET},
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ]
    for i, (kw, code) in enumerate(cases):
        err = await fails(file(system, case.id, f"bad-{i}", **kw))
        assert err.code() == code, (kw, err.details())
    err = await fails(
        file(
            system,
            case.id,
            "bad-j",
            metadata_for("staff-x", jurisdiction=STREET),
            grid_code=XINZHUANG_GRID,
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(err)[0].reason == "ACTING_UNIT_MISMATCH"
    # Without claiming the district, the street's staff do not see a case not located yet.
    err = await fails(
        file(
            system,
            case.id,
            "bad-j2",
            metadata_for("staff-x", jurisdiction=STREET),
            grid_code=XINZHUANG_GRID,
            acting_unit_code=STREET,
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await fails(file(system, case.id, "bad-k", grid_code=XINZHUANG_GRID, note="x" * 4001))
    assert "note" in violations(err)
    after = await get(system, case.id)
    assert (after.status, after.version) == (S.CASE_STATUS_RECEIVED, case.version)
    assert case.id in await to_locate(system)

    dispatched = await file(system, case.id, "ok", grid_code=XINZHUANG_GRID)
    err = await fails(file(system, case.id, "again", grid_code=XINZHUANG_GRID))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err)[0].reason == "ILLEGAL_TRANSITION"
    assert (await get(system, case.id)).version == dispatched.version
