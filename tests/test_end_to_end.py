"""One citizen's case travels the whole path through the four real services."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import resources_pb2 as reg_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.cli.demo import tiny_png
from tests import callers
from tests.conftest import error_details, eventually
from tests.postgres import PostgresServer, postgres_server  # noqa: F401 - a fixture
from tests.system import System, running_system, story_submission

S = routing_res


async def intake_status(system: System, case_id: str) -> int:
    reply = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))
    return reply.case.status


@pytest.fixture(params=["sqlite", "postgresql"])
def database_urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each service's database: SQLite files (the default), or one PostgreSQL database
    per service on a throwaway server."""
    if request.param == "sqlite":
        return {}
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return {
        name: server.create_database(name) for name in ("registry", "intake", "routing", "notify")
    }


async def test_a_flickering_light_is_filed_dispatched_notified_resolved_and_closed(
    tmp_path: Path, nats_url: str, database_urls: dict[str, str]
) -> None:
    async with running_system(tmp_path, nats_url, database_urls=database_urls) as system:
        created = await system.intake.SubmitCase(story_submission("story-1"))
        case_id = created.case.id

        async def dispatched() -> bool:
            return await intake_status(system, case_id) == S.CASE_STATUS_DISPATCHED

        await eventually(dispatched)
        routed = (await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=case_id))).case
        assert routed.grid_code == "370402003001001"
        assert routed.community_code == "370402003001"
        assert routed.assigned_unit_code == "370402003001"
        assert routed.level == S.LEVEL_COMMUNITY
        assert routed.assignee_staff_id == "staff-xinzhuang-electrician"
        assert routed.deadline_time.seconds > routed.create_time.seconds
        assert [h.transition for h in routed.history] == [
            S.TRANSITION_FILED,
            S.TRANSITION_DISPATCHED,
        ]

        async def notified() -> set[str]:
            ds = await system.notify.ListDeliveries(
                notify_svc.ListDeliveriesRequest(case_id=case_id)
            )
            got = {d.recipient.id for d in ds.deliveries if d.event_type == "case.dispatched"}
            return got if {"staff-hanliyuan", "staff-xinzhuang-electrician"} <= got else set()

        await eventually(notified)

        actor = callers.as_actor("staff-xinzhuang-electrician")
        await system.routing.AcceptCase(
            routing_svc.AcceptCaseRequest(case_id=case_id, request_id="acc-1"), metadata=actor
        )
        resolved = await system.routing.ResolveCase(
            routing_svc.ResolveCaseRequest(
                case_id=case_id,
                request_id="res-1",
                result="电路虚接，已修复",
                photos=[S.Photo(filename="fix.png", content_type="image/png", content=tiny_png())],
            ),
            metadata=actor,
        )
        assert resolved.case.status == S.CASE_STATUS_RESOLVED
        await system.routing.CloseCase(
            routing_svc.CloseCaseRequest(
                case_id=case_id, request_id="close-1", note="居民确认灯已不闪"
            ),
            metadata=callers.as_actor("staff-hanliyuan"),
        )

        async def closed() -> bool:
            return await intake_status(system, case_id) == S.CASE_STATUS_CLOSED

        await eventually(closed)
        case = (await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))).case
        assert [t.status for t in case.timeline] == [
            S.CASE_STATUS_FILED,
            S.CASE_STATUS_DISPATCHED,
            S.CASE_STATUS_IN_PROGRESS,
            S.CASE_STATUS_RESOLVED,
            S.CASE_STATUS_CLOSED,
        ]
        assert case.result == "电路虚接，已修复"
        assert case.assigned_unit_name == "辛庄社区"
        history = (
            await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=case_id))
        ).case.history
        assert history[2].actor == "staff-xinzhuang-electrician"
        assert history[3].photos[0].size_bytes == len(tiny_png())
        assert history[4].actor == "staff-hanliyuan"


async def test_a_point_outside_every_grid_is_kept_with_a_clear_filing_error(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await system.registry.LocateGrid(
                reg.LocateGridRequest(location=reg_res.LatLng(latitude=35.5, longitude=118.5))
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_details(caught.value)[0].reason == "OUTSIDE_ALL_GRIDS"

        created = await system.intake.SubmitCase(story_submission("far-1", point=(35.5, 118.5)))

        async def filing_failed() -> str:
            c = (
                await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=created.case.id))
            ).case
            return c.filing_error

        error = await eventually(filing_failed)
        assert error.startswith("NOT_FOUND")
        case = (
            await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=created.case.id))
        ).case
        assert case.status == S.CASE_STATUS_RECEIVED
        assert case.description == "家中电灯一直闪个不停"


async def test_an_illegal_step_is_failed_precondition_naming_the_states(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        created = await system.intake.SubmitCase(story_submission("illegal-1"))

        async def dispatched() -> bool:
            return await intake_status(system, created.case.id) == S.CASE_STATUS_DISPATCHED

        await eventually(dispatched)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await system.routing.CloseCase(routing_svc.CloseCaseRequest(case_id=created.case.id))
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "is DISPATCHED" in caught.value.details()
        assert "needs RESOLVED" in caught.value.details()
        assert error_details(caught.value)[0].reason == "ILLEGAL_TRANSITION"


async def test_a_retried_step_with_the_same_request_id_happens_once(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        created = await system.intake.SubmitCase(story_submission("retry-1"))

        async def dispatched() -> bool:
            return await intake_status(system, created.case.id) == S.CASE_STATUS_DISPATCHED

        await eventually(dispatched)
        req = routing_svc.AcceptCaseRequest(case_id=created.case.id, request_id="same")
        first = await system.routing.AcceptCase(req)
        again = await system.routing.AcceptCase(req)
        assert first.case.version == again.case.version
        history = (
            await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=created.case.id))
        ).case.history
        assert [h.transition for h in history].count(S.TRANSITION_ACCEPTED) == 1
