"""Durable SLA clocks on a fake clock: 催办, 超时 and automatic escalation fire once each, in
working hours, across a restart of routing too. No test waits for SLA time: the clock is
moved, and the scheduler is asked for a round (as its own loop would do)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common.server import ServiceHost
from services.routing.app import create_server as create_routing
from services.routing.clock import FakeClock
from services.routing.config import RoutingSettings
from tests import callers
from tests.conftest import eventually, running, settings_for
from tests.routing.helpers import (
    CST,
    XINZHUANG,
    get,
    new_case,
    point_in,
    routed,
    start_clock,
    submission,
    transitions,
)
from tests.routing.test_filing import stream_events
from tests.system import running_system

S = res


def tuesday(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2014, 11, day, hour, minute, tzinfo=CST)


async def tick(host: ServiceHost, clock: FakeClock, when: datetime) -> None:
    """Move the clock and make sure the scheduler has looked at it."""
    clock.set(when)
    await host.parts["scheduler"].fire_due()


async def events_of(nats_url: str, case_id: str) -> Counter[str]:
    """routing's events about a case in the stream, by type."""
    return Counter(
        e.type
        for e in await stream_events(nats_url, "lianxin.case.>")
        if e.case_id == case_id and e.type != "case.received"
    )


async def test_reminder_overdue_and_automatic_escalation_fire_once_each_up_the_ladder(
    tmp_path: Path, nats_url: str
) -> None:
    clock = start_clock()
    async with running_system(tmp_path, nats_url, clock=clock) as system:
        routing = system.hosts["routing"]
        case = await new_case(system, "clk-1")  # household_electrical: 4 working hours
        assert case.deadline_time.ToDatetime().hour == 6  # 14:30 in 市中区 is 06:30 UTC
        assert (await get(system, case.id)).reminder_time.ToDatetime().hour == 4  # 12:00

        await tick(routing, clock, tuesday(11, 59))
        assert transitions(await get(system, case.id)) == ["FILED", "DISPATCHED"]

        await tick(routing, clock, tuesday(12, 0))  # 75 % of the working time
        await tick(routing, clock, tuesday(12, 30))
        assert transitions(await get(system, case.id)) == ["FILED", "DISPATCHED", "REMINDED"]

        # The deadline: overdue, and the community hands it up at once (0 h, the policy).
        await tick(routing, clock, tuesday(14, 30))
        street = await get(system, case.id)
        assert transitions(street)[-2:] == ["OVERDUE", "ESCALATED"]
        assert (street.level, street.assigned_unit_code) == (S.LEVEL_STREET, "370402003")
        assert not street.overdue  # a new deadline at the street: its own clock
        assert street.history[-2].unit_code == XINZHUANG

        # The street's 8 working hours end Wednesday 15:00; it missed its reminder
        # (Wednesday 11:30) while nobody looked: one reminder, then overdue.
        await tick(routing, clock, tuesday(15, 0, day=26))
        assert transitions(await get(system, case.id))[-2:] == ["REMINDED", "OVERDUE"]
        overdue = await system.routing.ListWorkQueue(
            svc.ListWorkQueueRequest(unit_code="370402003", overdue_only=True)
        )
        assert [c.id for c in overdue.cases] == [case.id]

        # The street hands it up 4 working hours after its deadline: Thursday 10:00.
        await tick(routing, clock, tuesday(9, 59, day=27))
        assert transitions(await get(system, case.id))[-1] == "OVERDUE"
        await tick(routing, clock, tuesday(10, 0, day=27))
        district = await get(system, case.id)
        assert transitions(district)[-1] == "ESCALATED"
        assert district.assigned_unit_code == "370402-D-POWER"

        # The top of the ladder: overdue once, and nothing more however long it waits.
        await tick(routing, clock, datetime(2014, 12, 8, 9, 0, tzinfo=CST))
        await tick(routing, clock, datetime(2014, 12, 15, 9, 0, tzinfo=CST))
        final = await get(system, case.id)
        assert Counter(transitions(final)) == Counter(
            FILED=1, DISPATCHED=1, REMINDED=3, OVERDUE=3, ESCALATED=2
        )
        assert final.overdue

        async def published() -> Counter[str]:
            got = await events_of(nats_url, case.id)
            return got if sum(got.values()) == 10 else Counter()

        assert await eventually(published) == Counter(
            {
                "case.filed": 1,
                "case.dispatched": 1,
                "case.reminded": 3,
                "case.overdue": 3,
                "case.escalated": 2,
            }
        )

        stats = await system.routing.GetStats(svc.GetStatsRequest(unit_code=XINZHUANG))
        figures = {i.id: (i.numerator, i.denominator) for i in stats.indicators}
        assert figures["overdue"] == (1, 1)
        assert figures["closure_rate_due"] == (0, 1)  # past its deadline, not closed


async def test_a_restart_of_routing_across_a_deadline_fires_each_stage_exactly_once(
    tmp_path: Path, nats_url: str
) -> None:
    clock = start_clock()
    async with running_system(tmp_path, nats_url, clock=clock) as system:
        case = await new_case(system, "clk-2")
        # routing stops before the reminder (12:00), the deadline and the escalation (14:30)
        await system.hosts["routing"].stop(grace=0.5)
        clock.set(tuesday(16, 0))

        settings = settings_for(
            RoutingSettings,
            tmp_path,
            nats_url,
            registry_target=system.hosts["registry"].address,
            clock=clock,
        )
        async with (
            running(create_routing, settings) as routing,
            callers.channel(routing.address) as channel,
        ):
            stub = routing_service_pb2_grpc.RoutingServiceStub(channel)

            async def escalated() -> res.Case | None:
                c = (await stub.GetCase(svc.GetCaseRequest(case_id=case.id))).case
                return c if "ESCALATED" in transitions(c) else None

            await eventually(escalated)  # the restarted scheduler's own first round
            await routing.parts["scheduler"].fire_due()
            clock.set(tuesday(16, 1))
            await routing.parts["scheduler"].fire_due()
            after = (await stub.GetCase(svc.GetCaseRequest(case_id=case.id))).case
            assert transitions(after) == ["FILED", "DISPATCHED", "REMINDED", "OVERDUE", "ESCALATED"]
            assert after.level == S.LEVEL_STREET

        async def published() -> Counter[str]:
            got = await events_of(nats_url, case.id)
            return got if got["case.escalated"] else Counter()

        got = await eventually(published)
        assert (got["case.reminded"], got["case.overdue"], got["case.escalated"]) == (1, 1, 1)


async def test_a_resolved_case_has_no_clock_but_a_reworked_one_late_goes_overdue(
    tmp_path: Path, nats_url: str
) -> None:
    clock = start_clock()
    async with running_system(tmp_path, nats_url, clock=clock) as system:
        routing = system.hosts["routing"]
        case = await new_case(system, "clk-3", category="sanitation")  # 8 h: Wed 09:30
        await system.routing.AcceptCase(svc.AcceptCaseRequest(case_id=case.id))
        await system.routing.ResolveCase(svc.ResolveCaseRequest(case_id=case.id, result="已清运"))
        await tick(routing, clock, tuesday(12, 0, day=26))
        assert transitions(await get(system, case.id))[-1] == "RESOLVED"

        await system.routing.ReworkCase(svc.ReworkCaseRequest(case_id=case.id, reason="仍有垃圾"))
        await tick(routing, clock, tuesday(12, 1, day=26))
        late = await get(system, case.id)
        # The clock runs again, late: reminded, overdue, and handed up to the street.
        assert transitions(late)[-4:] == ["REWORKED", "REMINDED", "OVERDUE", "ESCALATED"]
        assert (late.status, late.level) == (S.CASE_STATUS_DISPATCHED, S.LEVEL_STREET)


async def test_an_approved_extension_rearms_the_reminder_and_the_deadline(
    tmp_path: Path, nats_url: str
) -> None:
    clock = start_clock()
    async with running_system(tmp_path, nats_url, clock=clock) as system:
        routing = system.hosts["routing"]
        case = await new_case(system, "clk-4")  # deadline 14:30, reminder 12:00
        await tick(routing, clock, tuesday(12, 0))
        await system.routing.RequestExtension(
            svc.RequestExtensionRequest(case_id=case.id, hours=4, reason="等电力部门")
        )
        approved = await system.routing.ApproveExtension(
            svc.ApproveExtensionRequest(case_id=case.id, acting_unit_code="370402003")
        )
        # From 14:30, 4 more working hours: Wednesday 09:30. Reminded again at 75 % of the
        # working time from now (12:00) to then, 5 h: Tuesday 17:15.
        assert approved.case.deadline_time.ToDatetime().day == 26
        await tick(routing, clock, tuesday(14, 31))
        assert transitions(await get(system, case.id))[-1] == "EXTENSION_APPROVED"
        await tick(routing, clock, tuesday(17, 30))
        assert transitions(await get(system, case.id))[-1] == "REMINDED"
        await tick(routing, clock, tuesday(9, 30, day=26))
        assert transitions(await get(system, case.id))[-2:] == ["OVERDUE", "ESCALATED"]


async def test_a_report_after_the_duplicate_window_is_a_case_of_its_own(
    tmp_path: Path, nats_url: str
) -> None:
    clock = start_clock()
    async with running_system(tmp_path, nats_url, clock=clock) as system:
        spot = point_in(XINZHUANG)
        first = await system.intake.SubmitCase(
            submission("win-1", point=spot, category="facility_repair")
        )
        await routed(system, first.case.id)
        clock.advance(hours=25)
        later = await system.intake.SubmitCase(
            submission("win-2", point=spot, category="facility_repair")
        )
        assert (await routed(system, later.case.id)).status == S.CASE_STATUS_DISPATCHED
