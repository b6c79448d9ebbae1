"""The embedded NATS exporter against a real nats-server with monitoring on: the official
exporter's names with the chart's prefix, values equal to what /varz and /jsz say, and a
NATS that stops turns the up gauge to 0 while the scrape still answers."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.natsserver import NatsServer, free_port
from services.ops import natsexporter
from services.ops.natsexporter import UP, NatsCollector

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert reply.status == 200
        text = reply.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def one(samples: Samples, name: str, **labels: str) -> float:
    found = [v for got, v in samples[name] if labels.items() <= got.items()]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def monitor(server: NatsServer, path: str) -> dict:  # type: ignore[type-arg]
    assert server.monitor_url
    with urllib.request.urlopen(server.monitor_url + path, timeout=5) as reply:
        return json.load(reply)  # type: ignore[no-any-return]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    s = NatsServer(tmp_path / "nats", port=free_port(), monitor_port=0)
    s.start()
    yield s
    s.stop()


async def test_the_exporter_reports_what_varz_and_jsz_say_and_says_when_nats_is_down(
    server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert server.monitor_url
    exporter = natsexporter.serve(server.monitor_url, host="127.0.0.1", port=0)
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="LIANXIN", subjects=["lianxin.>"])
        sub = await js.pull_subscribe("lianxin.case.>", durable="routing", stream="LIANXIN")
        for i in range(3):
            await js.publish("lianxin.case.received", f"event {i}".encode())
        samples = scrape(exporter.port)
        varz, jsz = monitor(server, "/varz"), monitor(server, "/jsz")
        assert one(samples, UP) == 1
        server_id = {"server_id": varz["server_id"]}
        # The chart's sidecar names (-prefix=nats): nats_varz_*, nats_server_*, nats_consumer_*.
        assert one(samples, "nats_varz_connections", **server_id) == varz["connections"] == 1
        assert one(samples, "nats_varz_subscriptions") == varz["subscriptions"]
        assert one(samples, "nats_varz_slow_consumers") == varz["slow_consumers"] == 0
        assert one(samples, "nats_varz_in_msgs") >= 3
        assert one(samples, "nats_varz_mem") > 0
        stored = one(samples, "nats_varz_jetstream_stats_storage")
        assert stored == varz["jetstream"]["stats"]["storage"] == jsz["storage"] > 0
        assert one(samples, "nats_server_total_streams") == jsz["streams"] == 1
        assert one(samples, "nats_server_total_consumers") == jsz["consumers"] == 1
        assert one(samples, "nats_server_total_messages") == 3
        consumer = {"stream_name": "LIANXIN", "consumer_name": "routing"}
        assert one(samples, "nats_stream_total_messages", stream_name="LIANXIN") == 3
        assert one(samples, "nats_consumer_num_pending", **consumer) == 3
        assert one(samples, "nats_consumer_num_ack_pending", **consumer) == 0

        # Two fetched and not acked: ack pending, the rest still pending.
        await sub.fetch(2, timeout=5)
        samples = scrape(exporter.port)
        assert one(samples, "nats_consumer_num_ack_pending", **consumer) == 2
        assert one(samples, "nats_consumer_num_pending", **consumer) == 1

        # Without a prefix: the official exporter's own default names.
        default = {f.name: f for f in NatsCollector(server.monitor_url).collect()}
        assert default["gnatsd_varz_connections"].samples[0].value == 1
        assert "jetstream_consumer_num_pending" in default
        assert "jetstream_server_total_streams" in default
    finally:
        await sub.unsubscribe()
        await nc.close()

    try:
        server.stop()
        with caplog.at_level(logging.WARNING, logger=natsexporter.__name__):
            down = scrape(exporter.port)  # answers 200 (asserted in scrape)
            again = scrape(exporter.port)
        assert one(down, UP) == 0 and one(again, UP) == 0
        assert not [n for n in down if n.startswith("nats_")], sorted(down)
        warnings = [r.getMessage() for r in caplog.records if r.name == natsexporter.__name__]
        assert len(warnings) == 1, warnings  # once per outage, with the reason
        assert server.monitor_url in warnings[0] and "/varz" in warnings[0]
    finally:
        exporter.stop()


def test_a_port_in_use_is_an_error(server: NatsServer) -> None:
    assert server.monitor_url
    first = natsexporter.serve(server.monitor_url, host="127.0.0.1", port=0)
    try:
        with pytest.raises(OSError):
            natsexporter.serve(server.monitor_url, host="127.0.0.1", port=first.port)
    finally:
        first.stop()
