"""Background loops under supervision: a failure is logged, counted and restarted, and
readiness says so while the loop is down; consumers outlive nats-server restarts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common.natsserver import NatsServer
from services.common.supervise import Backoff
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import eventually, settings_for
from tests.system import HOME, running_system, story_submission

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class FlakyLoop:
    """Fails when told to, or returns (which a loop must not do)."""

    def __init__(self) -> None:
        self.heartbeat = lambda: None
        self.fail = asyncio.Event()
        self.end = asyncio.Event()
        self.starts = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.starts += 1
        self.heartbeat()
        waits = [asyncio.ensure_future(e.wait()) for e in (self.fail, self.end, stop)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if self.fail.is_set():
            self.fail.clear()
            raise RuntimeError("the flaky loop broke")
        self.end.clear()


def restarts(loop: str) -> float:
    value = REGISTRY.get_sample_value(
        "lianxin_background_loop_restarts_total", {"lianxin_service": "intake", "loop": loop}
    )
    return value or 0.0


async def status(stub: health_pb2_grpc.HealthStub, service: str) -> int:
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status


async def test_a_failing_loop_is_logged_restarted_counted_and_shown_in_readiness(
    tmp_path: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    host = await create_server(settings_for(IntakeSettings, tmp_path, nats_url))
    flaky = FlakyLoop()
    host.background("flaky", flaky)
    # Slow restarts, so that the test sees the loop down (the default starts at 0.25 s).
    host.supervisor._backoff = lambda: Backoff(base=3.0, cap=3.0)
    await host.start()
    try:
        async with callers.channel(host.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert await status(health, "") == SERVING
            assert await status(health, "loop:flaky") == SERVING
            assert await status(health, "liveness") == SERVING
            before = restarts("flaky")

            with caplog.at_level(logging.ERROR, logger="services.common.supervise"):
                flaky.fail.set()

                async def down() -> bool:
                    return await status(health, "") == NOT_SERVING

                await eventually(down, timeout=5)
            assert await status(health, "loop:flaky") == NOT_SERVING
            assert await status(health, "liveness") == SERVING  # not stuck, just degraded
            assert "background loop flaky failed" in caplog.text
            assert "the flaky loop broke" in caplog.text
            assert restarts("flaky") == before + 1

            async def up_again() -> bool:
                return await status(health, "") == SERVING

            await eventually(up_again, timeout=10)
            assert flaky.starts == 2

            flaky.end.set()  # returning is a failure too
            await eventually(down, timeout=5)
            await eventually(up_again, timeout=10)
            assert restarts("flaky") == before + 2
            assert flaky.starts == 3
    finally:
        await host.stop(grace=0.5)


@pytest.mark.slow
async def test_consumers_keep_filing_across_five_nats_server_kills(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    async with running_system(tmp_path, nats_server.url) as system:
        async with callers.channel(system.hosts["intake"].address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for i in range(5):
                # 111 m apart, so that no case joins another as a duplicate.
                point = (HOME[0] + 0.001 * i, HOME[1])
                created = await system.intake.SubmitCase(
                    story_submission(f"restart-{i}", point=point)
                )

                async def dispatched(case_id: str = created.case.id) -> bool:
                    reply = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))
                    return reply.case.status == routing_res.CASE_STATUS_DISPATCHED

                await eventually(dispatched, timeout=60)
                nats_server.kill()
                # Intake takes cases while NATS is down (the outbox holds them): still ready.
                await asyncio.sleep(0.5)
                assert await status(health, "") == SERVING
                assert await status(health, "dependency:nats") == NOT_SERVING
                nats_server.start()
        reply = await system.intake.ListCases(intake_svc.ListCasesRequest(page_size=50))
        assert len(reply.cases) == 5
        for case in reply.cases:
            history = (
                await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=case.id))
            ).case.history
            assert [h.transition for h in history].count(routing_res.TRANSITION_FILED) == 1
