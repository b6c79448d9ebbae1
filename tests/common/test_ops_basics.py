"""What ops rely on from every service before any traffic: every known series at 0 from
start, labels that never clash with Prometheus/Kubernetes target labels, a port in use is
a clear error, and a NATS outage is logged with its reason, not once per reconnect."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import urllib.request
from pathlib import Path

import pytest

from services.common import bus
from services.common.natsserver import NatsServer, free_port
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests.conftest import running, settings_for

TARGET_LABELS = ("service", "job", "instance", "namespace", "pod")


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


async def test_counters_exist_at_zero_from_start_and_no_label_is_a_target_label(
    tmp_path: Path, nats_url: str
) -> None:
    settings = settings_for(
        IntakeSettings, tmp_path, nats_url, metrics_port=0, ops_poll_seconds=0.05
    )
    async with running(create_server, settings) as host:
        assert host.metrics_port
        await asyncio.sleep(0.3)  # the ops poller's first round
        text = metrics_text(host.metrics_port)
    samples = [line for line in text.splitlines() if line.startswith("lianxin_")]
    # Series (name and labels) present before any traffic; their values are this process's
    # (other tests' services share the registry), so only their presence is checked.
    series = {line.rsplit(" ", 1)[0] for line in samples}
    for sample in (
        'lianxin_intake_cases_submitted_total{category="street_light",channel="mayor_hotline"} 0.0',
        'lianxin_grpc_server_handled_total{grpc_code="INVALID_ARGUMENT",grpc_method="SubmitCase",'
        'grpc_service="lianxin.intake.v1.IntakeService"} 0.0',
        'lianxin_grpc_server_streams_active{grpc_method="WatchCases",'
        'grpc_service="lianxin.intake.v1.IntakeService"} 0.0',
        'lianxin_relay_publish_failures_total{lianxin_service="intake"} 0.0',
        'lianxin_events_published_total{lianxin_service="intake",type="case.received"} 0.0',
        'lianxin_events_consumed_total{consumer="intake-read-model",outcome="retry",'
        'type="case.closed"} 0.0',
        'lianxin_nats_consumer_pending_messages{consumer="intake-read-model"} 0.0',
    ):
        assert sample.removesuffix(" 0.0") in series, sample
    assert any(s.startswith('lianxin_build_info{lianxin_service="intake"') for s in samples)
    assert any(
        s.startswith('lianxin_outbox_oldest_age_seconds{lianxin_service="intake"}') for s in samples
    )
    for s in samples:
        labels = re.findall(r"[{,]([a-z_]+)=", s)
        assert not set(labels) & set(TARGET_LABELS), s


async def test_a_grpc_port_in_use_is_a_clear_error_not_a_shared_port(
    tmp_path: Path, nats_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(IntakeSettings, tmp_path, nats_url, grpc_port=port)
        host = await create_server(settings)
        with pytest.raises(RuntimeError, match=rf"cannot listen for gRPC on 127.0.0.1:{port}"):
            await host.start()
        await host.stop(grace=0)


def test_a_nats_port_in_use_is_refused_and_an_orphan_of_the_same_store_is_replaced(
    tmp_path: Path,
) -> None:
    port = free_port()
    orphan = NatsServer(tmp_path / "nats", port=port)
    orphan.start()  # as if its launcher had been SIGKILLed: still running
    try:
        stranger = NatsServer(tmp_path / "other", port=port)
        with pytest.raises(RuntimeError, match=rf"127.0.0.1:{port} \(client port\) is in use"):
            stranger.start()
        again = NatsServer(tmp_path / "nats", port=port, monitor_port=0)
        again.start()
        try:
            assert orphan.proc is not None and orphan.proc.wait(timeout=10) is not None
            assert any("earlier run" in n for n in again.notes)
            assert again.monitor_url is not None
            with urllib.request.urlopen(again.monitor_url + "/varz", timeout=5) as r:
                assert b'"jetstream"' in r.read()
        finally:
            again.stop()
    finally:
        orphan.stop()


async def test_a_nats_outage_is_logged_with_its_reason_once_per_kind_of_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = NatsServer(tmp_path / "nats", port=free_port())
    server.start()
    nc = await bus.connect(server.url, name="lianxin-test")
    try:
        with caplog.at_level(logging.WARNING):
            server.stop()
            await asyncio.sleep(3)  # six reconnect attempts
        lines = [r.getMessage() for r in caplog.records if "NATS at" in r.getMessage()]
        # The lost connection, then the refused reconnects: six attempts, one line.
        refused = [line for line in lines if "ConnectionRefusedError" in line]
        assert len(refused) == 1, lines
        assert len(lines) <= 2, lines
        assert server.url in refused[0] and "Connect call failed" in refused[0]
        assert not [r for r in caplog.records if r.getMessage() == "nats: encountered error"]
    finally:
        await nc.close()
