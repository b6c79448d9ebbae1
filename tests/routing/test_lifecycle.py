"""The three-level workflow through routing's gRPC API, against the four real services:
escalation up all three levels, return and re-dispatch, extensions, explanation, rework,
rating and reopening, supervision, co-handling, duplicates, work queues, and the errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.cli.main import main
from services.routing.clock import FakeClock
from tests.conftest import error_details, eventually, violations
from tests.routing.helpers import (
    CST,
    DISTRICT,
    LONGSHAN,
    STREET,
    TANXIANG,
    XINZHUANG,
    by,
    get,
    nearby,
    new_case,
    point_in,
    routed,
    submission,
    transitions,
)
from tests.system import System

S = res
COMMUNITY_WORKER = by("staff-ga-370402003001")
STREET_CENTRE = by("staff-cc-370402003")


def at(ts: object) -> datetime:
    """A Timestamp as a time in 市中区."""
    return ts.ToDatetime().replace(tzinfo=UTC).astimezone(CST)  # type: ignore[attr-defined]


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def accept(system: System, case_id: str, rid: str) -> res.Case:
    return (
        await system.routing.AcceptCase(
            svc.AcceptCaseRequest(case_id=case_id, request_id=rid), metadata=COMMUNITY_WORKER
        )
    ).case


async def resolve(system: System, case_id: str, rid: str, acting: str = "") -> res.Case:
    return (
        await system.routing.ResolveCase(
            svc.ResolveCaseRequest(
                case_id=case_id, request_id=rid, result="已处理", acting_unit_code=acting
            )
        )
    ).case


async def close(system: System, case_id: str, rid: str) -> res.Case:
    return (
        await system.routing.CloseCase(
            svc.CloseCaseRequest(case_id=case_id, request_id=rid, note="核查属实")
        )
    ).case


async def escalate(system: System, case_id: str, rid: str, reason: str = "需街道协调") -> res.Case:
    return (
        await system.routing.EscalateCase(
            svc.EscalateCaseRequest(case_id=case_id, request_id=rid, reason=reason)
        )
    ).case


# --- escalation -------------------------------------------------------------------------


async def test_a_case_escalated_up_all_three_levels_is_closed_as_the_district_platforms_work(
    system: System,
) -> None:
    case = await new_case(system, "esc-1")
    assert case.level == S.LEVEL_COMMUNITY
    assert case.assigned_unit_code == XINZHUANG
    assert at(case.deadline_time) == datetime(2014, 11, 25, 14, 30, tzinfo=CST)  # 4 working h

    up = await escalate(system, case.id, "esc-1-a", "需街道协调")
    assert (up.status, up.level, up.assigned_unit_code) == (
        S.CASE_STATUS_DISPATCHED,
        S.LEVEL_STREET,
        STREET,
    )
    assert up.assigned_unit_name == "龙山路街道"
    # 8 working hours from Tuesday 09:00: 7 on Tuesday, then Wednesday 08:30–09:30.
    assert at(up.deadline_time) == datetime(2014, 11, 26, 9, 30, tzinfo=CST)

    await accept(system, case.id, "esc-1-b")
    top = await escalate(system, case.id, "esc-1-c", "需区供电部门处置")
    assert (top.status, top.level, top.assigned_unit_code) == (
        S.CASE_STATUS_DISPATCHED,
        S.LEVEL_DISTRICT,
        "370402-D-POWER",
    )
    assert top.assigned_unit_name == "市中区供电服务中心"

    err = await fails(
        system.routing.EscalateCase(
            svc.EscalateCaseRequest(case_id=case.id, request_id="esc-1-d", reason="再上报")
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err)[0].reason == "TOP_OF_LADDER"

    await accept(system, case.id, "esc-1-e")
    await resolve(system, case.id, "esc-1-f")
    closed = await close(system, case.id, "esc-1-g")
    assert closed.disposition == S.DISPOSITION_DISTRICT
    history = (await get(system, case.id)).history
    assert transitions(await get(system, case.id)) == [
        "FILED",
        "DISPATCHED",
        "ESCALATED",
        "ACCEPTED",
        "ESCALATED",
        "ACCEPTED",
        "RESOLVED",
        "CLOSED",
    ]
    assert [h.level for h in history][-1] == S.LEVEL_DISTRICT
    assert history[2].note.endswith("需街道协调")
    assert history[-1].disposition == S.DISPOSITION_DISTRICT


async def test_an_escalation_needs_a_reason_and_an_open_case(system: System) -> None:
    case = await new_case(system, "esc-2")
    err = await fails(
        system.routing.EscalateCase(svc.EscalateCaseRequest(case_id=case.id, request_id="x"))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {"reason": "is required"}

    await accept(system, case.id, "esc-2-a")
    await resolve(system, case.id, "esc-2-b")
    err = await fails(
        system.routing.EscalateCase(
            svc.EscalateCaseRequest(case_id=case.id, request_id="esc-2-c", reason="需街道协调")
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_details(err)[0]
    assert info.reason == "ILLEGAL_TRANSITION"
    assert info.metadata["current_status"] == "RESOLVED"
    assert info.metadata["allowed_statuses"] == "DISPATCHED, IN_PROGRESS"
    assert "is RESOLVED; escalated needs DISPATCHED, IN_PROGRESS" in err.details()


# --- return and re-dispatch -------------------------------------------------------------


async def test_a_returned_case_is_redispatched_by_the_level_above_only(system: System) -> None:
    case = await new_case(system, "ret-1", category="street_light", community=LONGSHAN)
    assert (case.level, case.assigned_unit_code) == (S.LEVEL_STREET, STREET)

    err = await fails(
        system.routing.ReturnCase(svc.ReturnCaseRequest(case_id=case.id, request_id="ret-1-x"))
    )
    assert violations(err) == {"reason": "is required"}
    returned = (
        await system.routing.ReturnCase(
            svc.ReturnCaseRequest(
                case_id=case.id, request_id="ret-1-a", reason="属市政路灯，非街道职责"
            )
        )
    ).case
    assert returned.status == S.CASE_STATUS_RETURNED

    def redispatch(rid: str, acting: str, unit: str, *assisting: str) -> object:
        return system.routing.RedispatchCase(
            svc.RedispatchCaseRequest(
                case_id=case.id,
                request_id=rid,
                acting_unit_code=acting,
                unit_code=unit,
                assisting_unit_codes=list(assisting),
            )
        )

    err = await fails(redispatch("ret-1-b", STREET, "370402-D-MUNICIPAL"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(err)[0].reason == "NOT_ABOVE_CASE"
    err = await fails(redispatch("ret-1-c", DISTRICT, "370402-D-NOPE"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no unit or department" in violations(err)["unit_code"]

    again = (await redispatch("ret-1-d", DISTRICT, "370402-D-MUNICIPAL")).case  # type: ignore[attr-defined]
    assert (again.status, again.level, again.assigned_unit_code) == (
        S.CASE_STATUS_DISPATCHED,
        S.LEVEL_DISTRICT,
        "370402-D-MUNICIPAL",
    )
    assert again.assigned_unit_name == "市中区市政工程管理处"
    assert transitions(await get(system, case.id))[-2:] == ["RETURNED", "REDISPATCHED"]


async def test_a_community_that_returns_a_case_hands_it_to_its_street_to_dispatch_again(
    system: System,
) -> None:
    case = await new_case(system, "ret-2", category="sanitation", community=TANXIANG)
    await system.routing.ReturnCase(
        svc.ReturnCaseRequest(case_id=case.id, request_id="ret-2-a", reason="在相邻社区")
    )
    err = await fails(
        system.routing.RedispatchCase(
            svc.RedispatchCaseRequest(
                case_id=case.id, request_id="ret-2-b", acting_unit_code=TANXIANG, unit_code=STREET
            )
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    again = (
        await system.routing.RedispatchCase(
            svc.RedispatchCaseRequest(
                case_id=case.id, request_id="ret-2-c", acting_unit_code=STREET, unit_code=STREET
            )
        )
    ).case
    assert (again.level, again.assigned_unit_code) == (S.LEVEL_STREET, STREET)


# --- extensions -------------------------------------------------------------------------


async def test_an_extension_approved_by_the_street_moves_the_deadline_by_working_hours(
    system: System,
) -> None:
    case = await new_case(system, "ext-1")
    asked = (
        await system.routing.RequestExtension(
            svc.RequestExtensionRequest(
                case_id=case.id, request_id="ext-1-a", hours=4, reason="等待配件"
            )
        )
    ).case
    assert asked.pending_extension_hours == 4
    assert asked.deadline_time == case.deadline_time

    err = await fails(
        system.routing.RequestExtension(
            svc.RequestExtensionRequest(
                case_id=case.id, request_id="ext-1-b", hours=2, reason="再等"
            )
        )
    )
    assert error_details(err)[0].reason == "EXTENSION_PENDING"

    def approve(rid: str, acting: str) -> object:
        return system.routing.ApproveExtension(
            svc.ApproveExtensionRequest(case_id=case.id, request_id=rid, acting_unit_code=acting)
        )

    err = await fails(approve("ext-1-c", XINZHUANG))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await fails(approve("ext-1-d", "370402004"))  # 光明路街道: not this case's street
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    approved = (await approve("ext-1-e", STREET)).case  # type: ignore[attr-defined]
    # 14:30 + 4 working hours: 3 until Tuesday 17:30, then Wednesday 08:30–09:30.
    assert at(approved.deadline_time) == datetime(2014, 11, 26, 9, 30, tzinfo=CST)
    assert approved.pending_extension_hours == 0
    assert approved.status == S.CASE_STATUS_DISPATCHED
    assert transitions(await get(system, case.id))[-2:] == [
        "EXTENSION_REQUESTED",
        "EXTENSION_APPROVED",
    ]


async def test_an_extension_refused_keeps_the_deadline_and_needs_a_reason(system: System) -> None:
    case = await new_case(system, "ext-2")
    await system.routing.RequestExtension(
        svc.RequestExtensionRequest(
            case_id=case.id, request_id="ext-2-a", hours=8, reason="人手不足"
        )
    )
    err = await fails(
        system.routing.RefuseExtension(
            svc.RefuseExtensionRequest(
                case_id=case.id, request_id="ext-2-b", acting_unit_code=STREET
            )
        )
    )
    assert violations(err) == {"reason": "is required"}
    refused = (
        await system.routing.RefuseExtension(
            svc.RefuseExtensionRequest(
                case_id=case.id,
                request_id="ext-2-c",
                acting_unit_code=STREET,
                reason="时限内可办结",
            )
        )
    ).case
    assert refused.deadline_time == case.deadline_time
    assert refused.pending_extension_hours == 0
    err = await fails(
        system.routing.ApproveExtension(
            svc.ApproveExtensionRequest(
                case_id=case.id, request_id="ext-2-d", acting_unit_code=STREET
            )
        )
    )
    assert error_details(err)[0].reason == "NO_EXTENSION_PENDING"


# --- explanation, rework, rating ---------------------------------------------------------


async def test_an_explained_case_tells_the_citizen_and_closes_as_explained(system: System) -> None:
    case = await new_case(system, "exp-1", category="neighbour_dispute")
    words = "涉及产权纠纷，需通过司法途径解决，已向居民解释说明"
    explained = (
        await system.routing.ExplainCase(
            svc.ExplainCaseRequest(case_id=case.id, request_id="exp-1-a", explanation=words)
        )
    ).case
    assert (explained.status, explained.result) == (S.CASE_STATUS_EXPLAINED, words)

    async def citizen_sees_it() -> bool:
        c = (await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case.id))).case
        return c.status == S.CASE_STATUS_EXPLAINED and c.result == words

    await eventually(citizen_sees_it)
    closed = await close(system, case.id, "exp-1-b")
    assert closed.disposition == S.DISPOSITION_EXPLAINED


async def test_a_failed_closing_check_sends_the_case_back_and_is_counted(system: System) -> None:
    case = await new_case(system, "rw-1", category="wild_advertising")
    await accept(system, case.id, "rw-1-a")
    await resolve(system, case.id, "rw-1-b")
    err = await fails(
        system.routing.ReworkCase(svc.ReworkCaseRequest(case_id=case.id, request_id="rw-1-x"))
    )
    assert violations(err) == {"reason": "is required"}
    back = (
        await system.routing.ReworkCase(
            svc.ReworkCaseRequest(case_id=case.id, request_id="rw-1-c", reason="仍有残留广告")
        )
    ).case
    assert (back.status, back.rework_count) == (S.CASE_STATUS_IN_PROGRESS, 1)
    await resolve(system, case.id, "rw-1-d")
    closed = await close(system, case.id, "rw-1-e")
    assert (closed.disposition, closed.rework_count) == (S.DISPOSITION_COMMUNITY, 1)


async def test_an_unsatisfied_rating_reopens_the_case_once_as_the_policy_says(
    system: System,
) -> None:
    case = await new_case(system, "rate-1", category="sanitation")

    def rate(rid: str, satisfaction: int) -> object:
        return system.routing.RateCase(
            svc.RateCaseRequest(case_id=case.id, request_id=rid, satisfaction=satisfaction)
        )

    err = await fails(rate("rate-1-x", S.SATISFACTION_SATISFIED))
    assert error_details(err)[0].reason == "ILLEGAL_TRANSITION"
    await accept(system, case.id, "rate-1-a")
    await resolve(system, case.id, "rate-1-b")
    await close(system, case.id, "rate-1-c")

    err = await fails(rate("rate-1-y", 0))
    assert "satisfaction" in violations(err)
    first = await rate("rate-1-d", S.SATISFACTION_UNSATISFIED)
    assert first.reopened  # type: ignore[attr-defined]
    reopened = first.case  # type: ignore[attr-defined]
    assert (reopened.status, reopened.reopen_count, reopened.assigned_unit_code) == (
        S.CASE_STATUS_DISPATCHED,
        1,
        XINZHUANG,
    )
    assert reopened.disposition == S.DISPOSITION_UNSPECIFIED

    await accept(system, case.id, "rate-1-e")
    await resolve(system, case.id, "rate-1-f")
    await close(system, case.id, "rate-1-g")
    second = await rate("rate-1-h", S.SATISFACTION_UNSATISFIED)
    assert not second.reopened  # type: ignore[attr-defined]  # max_times: 1
    assert second.case.status == S.CASE_STATUS_CLOSED  # type: ignore[attr-defined]
    assert second.case.satisfaction == S.SATISFACTION_UNSATISFIED  # type: ignore[attr-defined]
    err = await fails(rate("rate-1-i", S.SATISFACTION_SATISFIED))
    assert error_details(err)[0].reason == "ALREADY_RATED"
    assert transitions(await get(system, case.id))[-7:] == [
        "CLOSED",
        "RATED",
        "REOPENED",
        "ACCEPTED",
        "RESOLVED",
        "CLOSED",
        "RATED",
    ]


# --- supervision and work queues ---------------------------------------------------------


async def test_supervision_by_a_higher_level_sets_a_deadline_and_shows_in_the_queue(
    system: System, still_clock: FakeClock
) -> None:
    case = await new_case(system, "sup-1", category="employment_help", community=LONGSHAN)
    new_deadline = datetime(2014, 11, 26, 12, 0, tzinfo=CST)

    def supervise(
        rid: str, acting: str, when: datetime, note: str = "群众多次反映，限期办结"
    ) -> object:
        req = svc.SuperviseCaseRequest(
            case_id=case.id, request_id=rid, acting_unit_code=acting, note=note
        )
        req.deadline_time.FromDatetime(when)
        return system.routing.SuperviseCase(req)

    err = await fails(supervise("sup-1-a", LONGSHAN, new_deadline))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await fails(supervise("sup-1-b", STREET, still_clock.now() - timedelta(hours=1)))
    assert violations(err) == {"deadline_time": "must be in the future"}
    err = await fails(supervise("sup-1-c", STREET, new_deadline, note=""))
    assert violations(err) == {"note": "is required"}

    flagged = (await supervise("sup-1-d", STREET, new_deadline)).case  # type: ignore[attr-defined]
    assert flagged.supervised
    assert at(flagged.deadline_time) == new_deadline
    assert flagged.status == S.CASE_STATUS_DISPATCHED

    queue = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=STREET, supervised_only=True)
    )
    assert case.id in [c.id for c in queue.cases]
    assert all(c.supervised for c in queue.cases)


async def test_a_work_queue_lists_open_cases_oldest_deadline_first_page_by_page(
    system: System,
) -> None:
    community, town = "370402101001", "370402101"  # 税郭社区 of 税郭镇: only this test's cases
    ids = {}
    for category in ("neighbour_dispute", "household_electrical", "sanitation"):
        ids[category] = (
            await new_case(system, f"q-{category}", community=community, category=category)
        ).id
    street_case = await new_case(system, "q-light", community=community, category="street_light")

    seen: list[res.Case] = []
    token = ""
    while True:
        page = await system.routing.ListWorkQueue(
            svc.ListWorkQueueRequest(unit_code=town, page_size=2, page_token=token)
        )
        seen += page.cases
        token = page.next_page_token
        if not token:
            break
    # 4 h, 8 h, 16 h at the community; 16 h at the street (same instant: by id).
    assert [c.id for c in seen][:3] == [
        ids["household_electrical"],
        ids["sanitation"],
        *sorted([ids["neighbour_dispute"], street_case.id])[:1],
    ]
    assert len(seen) == 4
    deadlines = [c.deadline_time.ToDatetime() for c in seen]
    assert deadlines == sorted(deadlines)

    at_street = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=town, level=S.LEVEL_STREET)
    )
    assert [c.id for c in at_street.cases] == [street_case.id]
    community_only = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=community)
    )
    assert street_case.id not in [c.id for c in community_only.cases]
    none_overdue = await system.routing.ListWorkQueue(
        svc.ListWorkQueueRequest(unit_code=town, overdue_only=True)
    )
    assert list(none_overdue.cases) == []

    err = await fails(
        system.routing.ListWorkQueue(
            svc.ListWorkQueueRequest(unit_code=town, status=S.CASE_STATUS_CLOSED)
        )
    )
    assert "status" in violations(err)
    err = await fails(
        system.routing.ListWorkQueue(svc.ListWorkQueueRequest(unit_code=town, page_token="!!"))
    )
    assert "page_token" in violations(err)


# --- co-handling ------------------------------------------------------------------------


async def test_a_co_handled_case_is_in_each_units_queue_and_resolves_with_its_lead(
    system: System,
) -> None:
    case = await new_case(system, "co-1", category="illegal_vending", community=TANXIANG)
    up = await escalate(system, case.id, "co-1-a", "需城管、环卫联合执法")
    lead, helper = "370402-D-CITYMGMT", "370402-D-SANITATION"
    assert (up.assigned_unit_code, list(up.assisting_unit_codes)) == (lead, [helper])

    for unit in (lead, helper, DISTRICT):
        queue = await system.routing.ListWorkQueue(svc.ListWorkQueueRequest(unit_code=unit))
        assert case.id in [c.id for c in queue.cases], unit

    await accept(system, case.id, "co-1-b")
    err = await fails(
        system.routing.ResolveCase(
            svc.ResolveCaseRequest(
                case_id=case.id, request_id="co-1-c", result="已清理", acting_unit_code=helper
            )
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err)[0].reason == "NOT_LEAD_UNIT"
    err = await fails(
        system.routing.ResolveCase(
            svc.ResolveCaseRequest(
                case_id=case.id,
                request_id="co-1-d",
                result="已清理",
                acting_unit_code="370402-D-HRSS",
            )
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    resolved = await resolve(system, case.id, "co-1-e", acting=lead)
    assert resolved.status == S.CASE_STATUS_RESOLVED
    await close(system, case.id, "co-1-f")
    for unit in (lead, helper):
        queue = await system.routing.ListWorkQueue(svc.ListWorkQueueRequest(unit_code=unit))
        assert case.id not in [c.id for c in queue.cases], unit


async def test_escalating_to_a_named_department_with_helpers_overrides_the_policy(
    system: System,
) -> None:
    case = await new_case(system, "co-2", category="facility_repair", community=TANXIANG)
    up = (
        await system.routing.EscalateCase(
            svc.EscalateCaseRequest(
                case_id=case.id,
                request_id="co-2-a",
                reason="需多部门协同",
                unit_code="370402-D-CITYMGMT",
                assisting_unit_codes=["370402-D-MUNICIPAL", "370402-D-POWER"],
            )
        )
    ).case
    assert up.assigned_unit_code == "370402-D-CITYMGMT"
    assert sorted(up.assisting_unit_codes) == ["370402-D-MUNICIPAL", "370402-D-POWER"]
    err = await fails(
        system.routing.EscalateCase(
            svc.EscalateCaseRequest(
                case_id=(await new_case(system, "co-3", community=TANXIANG)).id,
                request_id="co-3-a",
                reason="x",
                unit_code="370402004",  # another street
            )
        )
    )
    assert "unit_code" in violations(err)


# --- duplicates -------------------------------------------------------------------------


async def test_the_same_problem_reported_on_two_hotlines_is_merged_and_both_are_told(
    system: System,
) -> None:
    spot = point_in(LONGSHAN)
    first = await system.intake.SubmitCase(
        submission(
            "12345-dup-1",
            point=spot,
            category="street_light",
            channel=intake_res.CHANNEL_MAYOR_HOTLINE,
            reporter="李女士",
            phone="13900001111",
        )
    )
    master = await routed(system, first.case.id)
    second = await system.intake.SubmitCase(
        submission(
            "96361-dup-1",
            point=nearby(spot, metres_north=30),
            category="street_light",
            channel=intake_res.CHANNEL_CONVENIENCE_HOTLINE,
            reporter="王先生",
            phone="13900002222",
        )
    )
    follower = await routed(system, second.case.id)
    assert follower.status == S.CASE_STATUS_MERGED
    assert follower.merged_into_case_id == master.id
    assert follower.assigned_unit_code == master.assigned_unit_code
    assert "相距 30 米" in follower.history[-1].note
    assert list((await get(system, master.id)).merged_case_ids) == [follower.id]

    farther = await system.intake.SubmitCase(
        submission("12345-dup-2", point=nearby(spot, metres_north=80), category="street_light")
    )
    other_kind = await system.intake.SubmitCase(
        submission("12345-dup-3", point=spot, category="facility_repair")
    )
    for separate in (farther, other_kind):
        assert (await routed(system, separate.case.id)).status == S.CASE_STATUS_DISPATCHED

    err = await fails(
        system.routing.AcceptCase(svc.AcceptCaseRequest(case_id=follower.id, request_id="dup-x"))
    )
    assert error_details(err)[0].reason == "CASE_MERGED"

    await accept(system, master.id, "dup-a")
    await resolve(system, master.id, "dup-b")
    await close(system, master.id, "dup-c")
    followed = await get(system, follower.id)
    assert followed.status == S.CASE_STATUS_CLOSED
    assert followed.disposition == S.DISPOSITION_STREET
    assert transitions(followed) == ["MERGED", "ACCEPTED", "RESOLVED", "CLOSED"]

    async def told(case_id: str) -> set[str]:
        ds = await system.notify.ListDeliveries(notify_svc.ListDeliveriesRequest(case_id=case_id))
        kinds = {d.recipient.kind for d in ds.deliveries if d.event_type == "case.closed"}
        return kinds if {"citizen", "hotline"} <= kinds else set()

    for case_id in (master.id, follower.id):
        await eventually(lambda case_id=case_id: told(case_id))

    async def hotline_sees_closed() -> bool:
        c = (await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=follower.id))).case
        return c.status == S.CASE_STATUS_CLOSED

    await eventually(hotline_sees_closed)


# --- errors -----------------------------------------------------------------------------


async def test_steps_on_an_unknown_case_are_not_found_and_bad_input_names_its_fields(
    system: System,
) -> None:
    err = await fails(system.routing.AcceptCase(svc.AcceptCaseRequest(case_id="no-such-case")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await fails(
        system.routing.EscalateCase(
            svc.EscalateCaseRequest(case_id="no-such-case", request_id="e", reason="r")
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await fails(
        system.routing.RequestExtension(
            svc.RequestExtensionRequest(case_id="", hours=-1, request_id="x" * 65)
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(err)) == {"case_id", "request_id", "hours", "reason"}
    err = await fails(
        system.routing.RedispatchCase(svc.RedispatchCaseRequest(case_id="c", unit_code="x"))
    )
    # The acting unit is the caller's own (from the token): not a field to fill in.
    assert set(violations(err)) == {"unit_code"}
    err = await fails(system.routing.GetStats(svc.GetStatsRequest(unit_code="龙山路")))
    assert "unit_code" in violations(err)


# --- statistics and the command line ----------------------------------------------------


async def test_stats_count_a_units_area_a_department_and_a_period(
    system: System, still_clock: FakeClock
) -> None:
    case = await new_case(system, "st-1", community=TANXIANG, category="sanitation")
    await escalate(system, case.id, "st-1-a")
    await escalate(system, case.id, "st-1-b", "需区环卫处置")

    async def received(unit: str, **period: datetime) -> int:
        req = svc.GetStatsRequest(unit_code=unit)
        for key, when in period.items():
            getattr(req, key).FromDatetime(when)
        reply = await system.routing.GetStats(req)
        return next(i.numerator for i in reply.indicators if i.id == "received")

    assert await received(TANXIANG) >= 1
    assert await received(DISTRICT) >= await received(STREET) >= await received(TANXIANG)
    assert await received("370402-D-SANITATION") >= 1
    now = still_clock.now()
    assert await received(TANXIANG, start_time=now + timedelta(seconds=1)) == 0
    assert await received(TANXIANG, end_time=now) == 0  # received at `now`: not before it
    err = await fails(system.routing.GetStats(svc.GetStatsRequest(unit_code="")))
    assert violations(err) == {"unit_code": "is required"}


async def test_the_command_line_finds_a_unit_by_its_name_for_stats_and_queues(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    case = await new_case(system, "cli-1", community=TANXIANG, category="wild_advertising")
    targets = [f"--{name}={host.address}" for name, host in system.hosts.items()]

    assert await asyncio.to_thread(main, [*targets, "queue", "檀香社区"]) == 0
    out = capsys.readouterr().out
    assert "work queue of 檀香社区 (370402003003)" in out
    assert case.id in out

    assert (
        await asyncio.to_thread(main, [*targets, "stats", "檀香社区", "--from", "2014-11-01"]) == 0
    )
    out = capsys.readouterr().out
    assert "檀香社区 (370402003003): requests received from 2014-11-01 00:00" in out

    with pytest.raises(SystemExit, match="no unit or department named '檀香'"):
        await asyncio.to_thread(main, [*targets, "stats", "檀香"])


async def test_a_retried_escalation_with_the_same_request_id_climbs_once(system: System) -> None:
    case = await new_case(system, "idem-1")
    first = await escalate(system, case.id, "idem-1-a")
    again = await escalate(system, case.id, "idem-1-a")
    assert (again.level, again.version) == (first.level, first.version)
    assert transitions(await get(system, case.id)).count("ESCALATED") == 1
    err = await fails(
        system.routing.ReturnCase(
            svc.ReturnCaseRequest(case_id=case.id, request_id="idem-1-a", reason="r")
        )
    )
    assert error_details(err)[0].reason == "REQUEST_ID_REUSED"


async def test_a_request_id_is_scoped_to_its_case(system: System) -> None:
    one = await new_case(system, "idem-2")
    two = await new_case(system, "idem-3")
    first = await escalate(system, one.id, "hotline-step-1")
    # The same request id on another case is another request: it escalates that case too.
    other = await escalate(system, two.id, "hotline-step-1")
    assert other.id == two.id and other.level == first.level
    assert transitions(await get(system, two.id)).count("ESCALATED") == 1
    again = await escalate(system, one.id, "hotline-step-1")
    assert again.version == first.version
