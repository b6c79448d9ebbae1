"""What every service gets from the shared host: health, graceful SIGTERM, /metrics, and a
trace that follows a case across the bus."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import nats
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import intake_service_pb2_grpc
from services.cli.up import wait_serving
from services.common.natsserver import free_port
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import eventually, running, settings_for
from tests.system import running_system, story_submission

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def scrape(port: int, sample: str) -> float:
    """The value of one sample line on /metrics, 0 when absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_each_rpc_and_each_case_taken_in(tmp_path: Path, nats_url: str) -> None:
    settings = settings_for(IntakeSettings, tmp_path, nats_url, metrics_port=0)
    handled = (
        'lianxin_grpc_server_handled_total{grpc_code="OK",grpc_method="SubmitCase",'
        'grpc_service="lianxin.intake.v1.IntakeService"}'
    )
    submitted = (
        'lianxin_intake_cases_submitted_total{category="household_electrical",channel="grid_app"}'
    )
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        assert host.metrics_port
        before = scrape(host.metrics_port, handled), scrape(host.metrics_port, submitted)
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)
        await stub.SubmitCase(story_submission("metrics-1"))
        await stub.SubmitCase(story_submission("metrics-1"))  # a resubmission
        assert scrape(host.metrics_port, handled) == before[0] + 2
        assert scrape(host.metrics_port, submitted) == before[1] + 1


async def test_health_says_serving_only_while_the_service_runs(
    tmp_path: Path, nats_url: str
) -> None:
    settings = settings_for(IntakeSettings, tmp_path, nats_url)
    async with running(create_server, settings) as host:
        async with callers.channel(host.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "lianxin.intake.v1.IntakeService"):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await host.stop()
    async with callers.channel(host.address) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
            raise AssertionError("a stopped service answered")
        except grpc.aio.AioRpcError as err:
            assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_sigterm_stops_a_service_gracefully(tmp_path: Path, nats_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LIANXIN_INTAKE_DATA_DIR": str(tmp_path),
        "LIANXIN_INTAKE_NATS_URL": nats_url,
        "LIANXIN_INTAKE_GRPC_PORT": str(port),
        "LIANXIN_INTAKE_METRICS_PORT": "off",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.intake"], env=env, stderr=subprocess.PIPE
    )
    try:
        assert wait_serving(f"127.0.0.1:{port}")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    assert "intake stopped" in err.decode()


async def test_a_case_carries_its_trace_from_the_hotline_through_the_bus_to_routing(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        created = await system.intake.SubmitCase(
            story_submission("trace-1"), metadata=(("traceparent", TRACEPARENT),)
        )
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()

            async def headers_of(subject: str) -> dict[str, str] | None:
                sub = await js.pull_subscribe(subject, stream="LIANXIN")
                try:
                    for msg in await sub.fetch(10, timeout=1):
                        if event_pb2.Event.FromString(msg.data).case_id == created.case.id:
                            return dict(msg.headers or {})
                except TimeoutError:
                    return None
                finally:
                    await sub.unsubscribe()
                return None

            received = await eventually(lambda: headers_of("lianxin.case.received"))
            filed = await eventually(lambda: headers_of("lianxin.case.filed"))
        finally:
            await nc.close()
        assert received["traceparent"].split("-")[1] == TRACE_ID
        assert filed["traceparent"].split("-")[1] == TRACE_ID
