"""Helpers for routing's tests: a fake clock at a known working time, submissions at
distinct points, waiting for routing to file a case, acting as a unit."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.routing.clock import FakeClock
from tests import callers
from tests.conftest import eventually
from tests.system import System

CST = timezone(timedelta(hours=8))
# Tuesday 25 November 2014, 09:00 in 市中区: the day of the article's story.
STORY_MORNING = datetime(2014, 11, 25, 9, 0, tzinfo=CST)

# Communities of 龙山路街道 and their boxes (south, west, north, east), from the demo map.
XINZHUANG = "370402003001"
LONGSHAN = "370402003002"
TANXIANG = "370402003003"
STREET = "370402003"
DISTRICT = "370402"
BOXES = {
    XINZHUANG: (34.85, 117.55, 34.87, 117.58),
    LONGSHAN: (34.87, 117.55, 34.885, 117.58),
    TANXIANG: (34.885, 117.55, 34.90, 117.58),
    "370402101001": (34.84, 117.58, 34.86, 117.62),  # 税郭社区 of 税郭镇
}
_points = {code: itertools.count() for code in BOXES}


def start_clock() -> FakeClock:
    return FakeClock(STORY_MORNING)


def point_in(community: str) -> tuple[float, float]:
    """A fresh point in `community`, about 200 m from every other one handed out."""
    south, west, _north, east = BOXES[community]
    i = next(_points[community])
    cols = int((east - west - 0.001) / 0.0022)
    row, col = divmod(i, cols)
    return (south + 0.00061 + row * 0.0019, west + 0.00067 + col * 0.0022)


def nearby(point: tuple[float, float], *, metres_north: float) -> tuple[float, float]:
    return (point[0] + metres_north / 111_320.0, point[1])


def submission(
    ref: str,
    *,
    point: tuple[float, float],
    category: str = "household_electrical",
    channel: int = intake_res.CHANNEL_GRID_APP,
    reporter: str = "张胜起",
    phone: str = "13806325566",
) -> intake_svc.SubmitCaseRequest:
    return intake_svc.SubmitCaseRequest(
        channel=channel,
        external_ref=ref,
        reporter=intake_res.Reporter(name=reporter, phone=phone),
        location=intake_res.Location(
            point=intake_res.LatLng(latitude=point[0], longitude=point[1]), address="龙山路街道"
        ),
        category=category,
        description="市民诉求",
    )


async def routed(system: System, case_id: str) -> res.Case:
    """The case once routing has filed it (dispatched or merged)."""

    async def probe() -> res.Case | None:
        try:
            case = (await system.routing.GetCase(svc.GetCaseRequest(case_id=case_id))).case
        except Exception:
            return None
        return case if case.status != res.CASE_STATUS_RECEIVED else None

    return await eventually(probe)


async def new_case(
    system: System, ref: str, *, community: str = XINZHUANG, **kwargs: object
) -> res.Case:
    """A case submitted to intake at a fresh point and dispatched by routing."""
    created = await system.intake.SubmitCase(
        submission(ref, point=point_in(community), **kwargs)  # type: ignore[arg-type]
    )
    return await routed(system, created.case.id)


def by(actor: str) -> tuple[tuple[str, str], ...]:
    return callers.as_actor(actor)


def transitions(case: res.Case) -> list[str]:
    return [res.Transition.Name(h.transition).removeprefix("TRANSITION_") for h in case.history]


async def get(system: System, case_id: str) -> res.Case:
    return (await system.routing.GetCase(svc.GetCaseRequest(case_id=case_id))).case
