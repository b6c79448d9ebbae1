"""Void and transfer (无效工单 / 转办) through the public APIs of the four real services:
both are final, shown to the hotline through intake, and counted apart by GetStats —
never in 办结 or the satisfaction base."""

from __future__ import annotations

import grpc
import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from tests.callers import metadata_for
from tests.conftest import error_details, eventually, violations
from tests.routing.helpers import DISTRICT, STREET, TANXIANG, get, new_case, transitions
from tests.routing.test_lifecycle import accept, close, resolve
from tests.routing.test_locating import NOWHERE, waiting
from tests.system import System

S = res
PLATFORM = metadata_for("staff-cc-370402", jurisdiction=DISTRICT)


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def void(system: System, case_id: str, rid: str, md: object = None, **kw: object) -> res.Case:
    fields = {
        "acting_unit_code": DISTRICT,
        "reason_class": S.VOID_REASON_PRANK,
        "reason": "骚扰电话",
    }
    fields.update(kw)
    request = svc.VoidCaseRequest(case_id=case_id, request_id=rid, **fields)  # type: ignore[arg-type]
    return (await system.routing.VoidCase(request, metadata=md or PLATFORM)).case  # type: ignore[arg-type]


async def transfer(system: System, case_id: str, rid: str, **kw: object) -> res.Case:
    fields = {
        "acting_unit_code": DISTRICT,
        "destination": S.TRANSFER_DESTINATION_OTHER_DISTRICT,
        "destination_name": "薛城区指挥中心",
        "reason": "事发地在薛城区",
    }
    fields.update(kw)
    request = svc.TransferCaseRequest(case_id=case_id, request_id=rid, **fields)  # type: ignore[arg-type]
    return (await system.routing.TransferCase(request, metadata=PLATFORM)).case


async def hotline_sees(system: System, case_id: str, status: int) -> intake_svc.GetCaseResponse:
    async def probe() -> object:
        got = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))
        return got if got.case.status == status else None

    return await eventually(probe)


async def test_a_voided_case_is_final_and_the_hotline_reads_why(system: System) -> None:
    case = await new_case(system, "void-1", community=TANXIANG)
    voided = await void(system, case.id, "v1", reason="反复拨打，无具体诉求")
    assert voided.status == S.CASE_STATUS_VOIDED
    assert voided.void_reason == S.VOID_REASON_PRANK
    assert "恶意骚扰" in voided.result and "无具体诉求" in voided.result
    assert not voided.HasField("deadline_time")
    assert (await void(system, case.id, "v1")).version == voided.version  # a retry
    seen = await hotline_sees(system, case.id, S.CASE_STATUS_VOIDED)
    assert seen.case.result == voided.result
    assert seen.case.timeline[-1].transition == S.TRANSITION_VOIDED

    for call in (
        system.routing.AcceptCase(svc.AcceptCaseRequest(case_id=case.id, request_id="a")),
        system.routing.EscalateCase(
            svc.EscalateCaseRequest(case_id=case.id, request_id="e", reason="r")
        ),
        system.routing.TransferCase(
            svc.TransferCaseRequest(
                case_id=case.id,
                request_id="t",
                acting_unit_code=DISTRICT,
                destination=S.TRANSFER_DESTINATION_HOTLINE,
                destination_name="12345",
                reason="r",
            )
        ),
    ):
        err = await fails(call)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(err)[0].reason == "ILLEGAL_TRANSITION"
    assert transitions(await get(system, case.id))[-1] == "VOIDED"


async def test_a_case_waiting_to_be_located_is_transferred_to_another_district(
    system: System,
) -> None:
    case = await waiting(system, "xfer-1", point=NOWHERE, address="薛城区某小区")
    moved = await transfer(system, case.id, "x1")
    assert moved.status == S.CASE_STATUS_TRANSFERRED
    assert moved.transfer_destination == S.TRANSFER_DESTINATION_OTHER_DISTRICT
    assert moved.transferred_to == "薛城区指挥中心"
    seen = await hotline_sees(system, case.id, S.CASE_STATUS_TRANSFERRED)
    assert "薛城区指挥中心" in seen.case.result
    queue = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=DISTRICT, to_locate_only=True, page_size=500)
    )
    assert case.id not in [c.id for c in queue.cases]


async def test_void_and_transfer_are_refused_without_effect_when_they_must_be(
    system: System,
) -> None:
    case = await new_case(system, "void-2", community=TANXIANG)
    bad = [
        (void(system, case.id, "b1", reason_class=0), "reason_class"),
        (void(system, case.id, "b2", reason=" "), "reason"),
        (
            void(system, case.id, "b3", reason_class=S.VOID_REASON_DUPLICATE_EXTERNAL),
            "duplicate_of",
        ),
        (transfer(system, case.id, "b4", destination=0), "destination"),
        (transfer(system, case.id, "b5", destination_name=""), "destination_name"),
    ]
    for call, field in bad:
        err = await fails(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in violations(err)
    # A street's command centre acts for its street: voiding is the district's.
    street_cc = metadata_for("staff-cc-370402003", jurisdiction=STREET)
    err = await fails(void(system, case.id, "b6", street_cc, acting_unit_code=""))
    assert error_details(err)[0].reason == "NOT_DISTRICT_PLATFORM"
    # Naming the district as the unit it acts for does not make it the district.
    err = await fails(void(system, case.id, "b6b", street_cc, acting_unit_code=DISTRICT))
    assert error_details(err)[0].reason == "ACTING_UNIT_MISMATCH"
    err = await fails(
        system.routing.VoidCase(
            svc.VoidCaseRequest(
                case_id=case.id,
                request_id="b7",
                acting_unit_code=DISTRICT,
                reason_class=S.VOID_REASON_NO_CONTENT,
                reason="r",
            ),
            metadata=metadata_for("staff-x", jurisdiction=STREET),
        )
    )
    assert error_details(err)[0].reason == "ACTING_UNIT_MISMATCH"
    assert (await get(system, case.id)).version == case.version
    await accept(system, case.id, "acc")
    await resolve(system, case.id, "res")
    err = await fails(void(system, case.id, "late"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION  # reported solved: too late


async def test_voided_and_transferred_cases_are_counted_apart(system: System) -> None:
    from tests.routing.helpers import LONGSHAN

    done = await new_case(system, "count-1", community=LONGSHAN)
    await accept(system, done.id, "c1a")
    await resolve(system, done.id, "c1r")
    await close(system, done.id, "c1c")
    await system.routing.RateCase(
        svc.RateCaseRequest(
            case_id=done.id, request_id="c1s", satisfaction=S.SATISFACTION_SATISFIED
        )
    )
    voided = await new_case(system, "count-2", community=LONGSHAN)
    await void(
        system, voided.id, "c2", reason_class=S.VOID_REASON_NOT_GOVERNMENT, reason="私人纠纷"
    )
    moved = await new_case(system, "count-3", community=LONGSHAN)
    await transfer(
        system, moved.id, "c3", destination=S.TRANSFER_DESTINATION_HOTLINE, destination_name="12345"
    )
    await new_case(system, "count-4", community=LONGSHAN)  # still open
    reply = await system.routing.GetStats(svc.GetStatsRequest(unit_code=LONGSHAN))
    figures = {i.id: (i.numerator, i.denominator) for i in reply.indicators}
    assert figures["received"] == (4, 1)
    assert figures["voided"] == (1, 1)
    assert figures["transferred"] == (1, 1)
    assert figures["closed"] == (1, 1)
    assert figures["satisfaction_rate"] == (1, 1)
    assert figures["closure_rate_due"][1] == 1  # neither is due


async def test_stats_name_their_formula_version_and_refuse_an_unknown_one(
    system: System,
) -> None:
    reply = await system.routing.GetStats(svc.GetStatsRequest(unit_code=DISTRICT))
    assert reply.formula_version == "2"
    assert {i.formula_version for i in reply.indicators} == {"2"}
    old = await system.routing.GetStats(
        svc.GetStatsRequest(unit_code=DISTRICT, formula_version="1")
    )
    assert "voided" not in {i.id for i in old.indicators}
    err = await fails(
        system.routing.GetStats(svc.GetStatsRequest(unit_code=DISTRICT, formula_version="9"))
    )
    assert "formula_version" in violations(err)
