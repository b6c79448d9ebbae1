"""routing files each received case exactly once: across duplicate events and a crash."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common.natsserver import free_port
from tests.conftest import eventually
from tests.system import System, running_system, story_submission

S = routing_res


async def stream_events(nats_url: str, subject: str) -> list[event_pb2.Event]:
    """Every event on `subject` in the stream, read with an ephemeral consumer."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject, stream="LIANXIN")
        out: list[event_pb2.Event] = []
        while True:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except TimeoutError:
                return out
            out += [event_pb2.Event.FromString(m.data) for m in msgs]
    finally:
        await nc.close()


async def dispatched(system: System, case_id: str) -> bool:
    case = (await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))).case
    return case.status == S.CASE_STATUS_DISPATCHED


async def test_the_same_event_delivered_twice_files_the_case_once(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        created = await system.intake.SubmitCase(story_submission("dup-1"))
        case_id = created.case.id
        await eventually(lambda: dispatched(system, case_id))
        (received,) = [
            e
            for e in await stream_events(nats_url, "lianxin.case.received")
            if e.case_id == case_id
        ]
        # Published again under another message id, so JetStream's dedupe lets it through:
        # only routing's inbox stands between it and a second filing.
        nc = await nats.connect(nats_url)
        await nc.jetstream().publish(
            "lianxin.case.received",
            received.SerializeToString(),
            headers={"Nats-Msg-Id": "redelivery-" + received.id},
        )
        await nc.close()

        async def consumer_caught_up() -> bool:
            nc = await nats.connect(nats_url)
            try:
                info = await nc.jetstream().consumer_info("LIANXIN", "routing")
                return info.num_pending == 0 and info.num_ack_pending == 0
            finally:
                await nc.close()

        await eventually(consumer_caught_up)
        history = (
            await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=case_id))
        ).case.history
        assert [h.transition for h in history] == [S.TRANSITION_FILED, S.TRANSITION_DISPATCHED]
        filed = [
            e for e in await stream_events(nats_url, "lianxin.case.filed") if e.case_id == case_id
        ]
        assert len(filed) == 1


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a registry that hangs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"127.0.0.1:{s.getsockname()[1]}"


def start_routing(
    tmp_path: Path, nats_url: str, registry: str, port: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIANXIN_ROUTING_DATA_DIR": str(tmp_path / "routing"),
        "LIANXIN_ROUTING_NATS_URL": nats_url,
        "LIANXIN_ROUTING_GRPC_PORT": str(port),
        "LIANXIN_ROUTING_METRICS_PORT": "off",
        "LIANXIN_ROUTING_REGISTRY_TARGET": registry,
        "LIANXIN_ROUTING_REGISTRY_TIMEOUT_SECONDS": "60",
        "LIANXIN_ROUTING_ACK_WAIT_SECONDS": "2",
    }
    log = open(tmp_path / f"routing-{port}.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "services.routing"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


@pytest.mark.slow
async def test_a_routing_process_killed_between_receiving_and_filing_files_the_case_once(
    tmp_path: Path, nats_url: str, blackhole: str
) -> None:
    port = free_port()
    async with running_system(tmp_path, nats_url, without=("routing",)) as system:
        # routing in its own process, asking a registry that never answers: it takes the
        # event and hangs before it can file.
        proc = start_routing(tmp_path, nats_url, blackhole, port)
        try:
            created = await system.intake.SubmitCase(story_submission("crash-1"))
            case_id = created.case.id

            async def taken_not_acked() -> bool:
                nc = await nats.connect(nats_url)
                try:
                    info = await nc.jetstream().consumer_info("LIANXIN", "routing")
                    return info.num_ack_pending == 1
                except nats.js.errors.NotFoundError:
                    return False
                finally:
                    await nc.close()

            await eventually(taken_not_acked, timeout=30)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert not await dispatched(system, case_id)

            proc = start_routing(tmp_path, nats_url, system.hosts["registry"].address, port)
            await eventually(lambda: dispatched(system, case_id), timeout=30)
        finally:
            proc.kill()
            proc.wait(timeout=10)
        filed = [
            e for e in await stream_events(nats_url, "lianxin.case.filed") if e.case_id == case_id
        ]
        assert len(filed) == 1
        dispatched_events = [
            e
            for e in await stream_events(nats_url, "lianxin.case.dispatched")
            if e.case_id == case_id
        ]
        assert len(dispatched_events) == 1
