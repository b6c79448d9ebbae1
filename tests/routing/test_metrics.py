"""The command centre's numbers as metrics: open and overdue cases by street and level
read from routing's database, and the counters and histograms of each step (SLA breach,
reminder, escalation by street; time to dispatch and close; ratings), counted once after
the step's commit."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from tests.routing.helpers import STREET, by, new_case, start_clock
from tests.routing.test_clocks import tick, tuesday
from tests.system import running_system

STREET_WORKER = by("staff-cc-370402003")
LOCATE = {"grpc_service": "lianxin.registry.v1.RegistryService", "grpc_method": "LocateGrid"}
LOCATE_OK = {**LOCATE, "grpc_code": "OK"}
LOCATE_DENIED = {**LOCATE, "grpc_code": "PERMISSION_DENIED"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counters() -> dict[str, float]:
    return {
        "overdue": value("lianxin_routing_overdue_total", street=STREET, level="community"),
        "escalated": value("lianxin_routing_escalations_total", street=STREET, level="street"),
        "reminded": value("lianxin_routing_reminders_total", street=STREET),
        "dispatch": value("lianxin_routing_time_to_dispatch_seconds_count", level="community"),
        "close": value("lianxin_routing_time_to_close_seconds_count", level="street"),
        "satisfied": value("lianxin_routing_ratings_total", rating="satisfied"),
        "closed": value("lianxin_routing_transitions_total", transition="closed", level="street"),
    }


async def test_a_case_moves_through_the_command_centres_numbers(
    tmp_path: Path, nats_url: str
) -> None:
    clock = start_clock()
    async with running_system(tmp_path, nats_url, clock=clock) as system:
        routing = system.hosts["routing"]
        before = counters()
        # routing's calls to registry are counted from 0 (the series exist before the first
        # call: other tests' services share this registry, so the value is this process's).
        located = REGISTRY.get_sample_value("lianxin_grpc_client_handled_total", LOCATE_OK)
        assert located is not None
        refused = REGISTRY.get_sample_value("lianxin_grpc_client_handled_total", LOCATE_DENIED)
        assert refused is not None
        case = await new_case(system, "metrics-1")  # household_electrical, at the community
        assert value("lianxin_grpc_client_handled_total", **LOCATE_OK) == located + 1
        assert value("lianxin_grpc_client_handled_total", **LOCATE_DENIED) == refused
        assert value("lianxin_routing_open_cases", street=STREET, level="community") == 1
        assert value("lianxin_routing_open_cases", street=STREET, level="street") == 0
        assert counters()["dispatch"] == before["dispatch"] + 1

        # The deadline passes at the community: a reminder, overdue, escalated to the street.
        await tick(routing, clock, tuesday(12, 0))
        await tick(routing, clock, tuesday(14, 30))
        now = counters()
        assert now["reminded"] == before["reminded"] + 1
        assert now["overdue"] == before["overdue"] + 1
        assert now["escalated"] == before["escalated"] + 1
        assert value("lianxin_routing_open_cases", street=STREET, level="community") == 0
        assert value("lianxin_routing_open_cases", street=STREET, level="street") == 1
        # The escalated case has a fresh deadline at the street: not overdue there (yet).
        assert value("lianxin_routing_overdue_open_cases", street=STREET, level="street") == 0

        await routing_step(system, "AcceptCase", svc.AcceptCaseRequest(case_id=case.id))
        await routing_step(
            system, "ResolveCase", svc.ResolveCaseRequest(case_id=case.id, result="已修复")
        )
        await routing_step(system, "CloseCase", svc.CloseCaseRequest(case_id=case.id))
        await routing_step(
            system,
            "RateCase",
            svc.RateCaseRequest(case_id=case.id, satisfaction=res.SATISFACTION_SATISFIED),
        )
        now = counters()
        assert now["closed"] == before["closed"] + 1
        assert now["close"] == before["close"] + 1
        assert now["satisfied"] == before["satisfied"] + 1
        assert value("lianxin_routing_open_cases", street=STREET, level="street") == 0
        # A step refused (the case is closed) counts nothing.
        with pytest.raises(grpc.aio.AioRpcError):
            await routing_step(system, "AcceptCase", svc.AcceptCaseRequest(case_id=case.id))
        assert counters() == now


async def routing_step(system: object, method: str, request: object) -> None:
    await getattr(system.routing, method)(request, metadata=STREET_WORKER)  # type: ignore[attr-defined]
