"""NATS's own numbers for Prometheus in embedded mode: a small exporter of the nats-server
monitoring endpoint (`/varz`, `/jsz?consumers=true`), run by `lianxin up`.

nats-server serves JSON, not Prometheus text, and Debian packages no
prometheus-nats-exporter; in clusters the official NATS chart runs that exporter as a
sidecar (`promExporter.enabled`, deploy/helm/nats/values.yaml). This module yields the
same metric names the official exporter gives the same fields, so one dashboard serves
both:

- `/varz`: every top-level number as `<core>_varz_<field>` (connections, total_connections,
  subscriptions, slow_consumers, in_msgs, out_msgs, in_bytes, out_bytes, mem, cpu, …) and
  the JetStream numbers under it flattened (`<core>_varz_jetstream_stats_storage`,
  `…_stats_memory`, `…_config_max_storage`, `…_stats_api_errors`, …); label `server_id`.
- `/jsz?consumers=true`: `<js>_server_total_streams`, `…_total_consumers`,
  `…_total_messages`, `…_total_message_bytes`, `…_max_memory`, `…_max_storage`,
  `…_jetstream_disabled`; per stream `<js>_stream_total_messages`, `…_total_bytes`,
  `…_first_seq`, `…_last_seq`, `…_consumer_count`; per consumer `<js>_consumer_num_pending`,
  `…_num_ack_pending`, `…_num_redelivered`, `…_num_waiting`, `…_delivered_stream_seq`,
  `…_delivered_consumer_seq`, `…_ack_floor_stream_seq`, `…_ack_floor_consumer_seq` (labels
  `server_id`, `server_name`, `cluster`, `domain`, `account`, `stream_name`,
  `consumer_name`: a subset of the official ones).

`<core>` is `gnatsd` and `<js>` is `jetstream`, as in the official exporter, unless a
`prefix` replaces both (its `-prefix` flag). The official chart runs its sidecar with
`-prefix=nats`, so `lianxin up` uses `prefix="nats"` too (`CHART_PREFIX`): the dashboards
query `nats_varz_connections`, `nats_consumer_num_pending`, … in both shapes.

The official exporter reports nothing when it cannot read the server; this one also says
so: `lianxin_nats_exporter_up` is 1 when both reads answered, else 0 (and the series of a
failed read are left out). A scrape never fails because NATS is down: a failed read is
logged once per outage, with its reason, and the scrape answers 200.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CHART_PREFIX = "nats"  # what the official chart passes to its sidecar (-prefix=nats)
UP = "lianxin_nats_exporter_up"
# Short: both reads must end within Prometheus's scrape timeout (1 s in the live test).
READ_TIMEOUT_SECONDS = 0.5

SERVER_LABELS = ("server_id", "server_name", "cluster", "domain")
STREAM_LABELS = (*SERVER_LABELS, "account", "stream_name")
CONSUMER_LABELS = (*STREAM_LABELS, "consumer_name")

# (metric suffix, path in the JSON, help) — the official exporter's names for these fields.
JSZ_SERVER = (
    ("server_jetstream_disabled", ("disabled",), "JetStream disabled or not"),
    ("server_total_streams", ("streams",), "Total number of streams in JetStream"),
    ("server_total_consumers", ("consumers",), "Total number of consumers in JetStream"),
    ("server_total_messages", ("messages",), "Total number of stored messages in JetStream"),
    ("server_total_message_bytes", ("bytes",), "Total number of bytes stored in JetStream"),
    ("server_max_memory", ("config", "max_memory"), "JetStream Max Memory"),
    ("server_max_storage", ("config", "max_storage"), "JetStream Max Storage"),
)
JSZ_STREAM = (
    ("stream_total_messages", ("state", "messages"), "Total number of messages from a stream"),
    ("stream_total_bytes", ("state", "bytes"), "Total stored bytes from a stream"),
    ("stream_first_seq", ("state", "first_seq"), "First sequence from a stream"),
    ("stream_last_seq", ("state", "last_seq"), "Last sequence from a stream"),
    ("stream_consumer_count", ("state", "consumer_count"), "Total number of consumers"),
)
JSZ_CONSUMER = (
    ("consumer_num_pending", ("num_pending",), "Number of pending messages from a consumer"),
    ("consumer_num_ack_pending", ("num_ack_pending",), "Number of pending acks"),
    ("consumer_num_redelivered", ("num_redelivered",), "Number of redelivered messages"),
    ("consumer_num_waiting", ("num_waiting",), "Inflight fetch requests of a pull consumer"),
    ("consumer_delivered_stream_seq", ("delivered", "stream_seq"), "Latest stream sequence"),
    ("consumer_delivered_consumer_seq", ("delivered", "consumer_seq"), "Latest sequence"),
    ("consumer_ack_floor_stream_seq", ("ack_floor", "stream_seq"), "Ack floor stream seq"),
    ("consumer_ack_floor_consumer_seq", ("ack_floor", "consumer_seq"), "Ack floor seq"),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _at(doc: Mapping[str, Any], path: tuple[str, ...]) -> float:
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return _number(value) or 0.0


def _flatten(prefix: str, doc: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    """Numeric leaves of a nested object as (`prefix_key_subkey`, value); bools skipped."""
    for key, value in doc.items():
        name = f"{prefix}_{key}"
        if isinstance(value, Mapping):
            yield from _flatten(name, value)
        elif not isinstance(value, bool) and (number := _number(value)) is not None:
            yield name, number


class NatsCollector(Collector):
    """Reads the monitoring endpoint at `monitor_url` at every scrape (see the module)."""

    def __init__(
        self, monitor_url: str, *, prefix: str = "", timeout: float = READ_TIMEOUT_SECONDS
    ) -> None:
        self.monitor_url = monitor_url.rstrip("/")
        self.core = prefix or "gnatsd"
        self.js = prefix or "jetstream"
        self.timeout = timeout
        self._lock = threading.Lock()
        self._failing: str | None = None  # the reason of the outage being reported, if any

    def describe(self) -> list[Any]:
        return []  # registering must not read NATS

    def _read(self, path: str) -> Mapping[str, Any]:
        url = self.monitor_url + path
        with urllib.request.urlopen(url, timeout=self.timeout) as reply:
            doc = json.load(reply)
        if not isinstance(doc, Mapping):
            raise ValueError(f"{url}: not a JSON object")
        return doc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:  # one scrape at a time reads NATS
            families: list[GaugeMetricFamily] = []
            failures = []
            for path, build in (("/varz", self._varz), ("/jsz?consumers=true", self._jsz)):
                try:
                    families.extend(build(self._read(path)))
                except Exception as exc:  # never out of collect: the scrape still answers
                    failures.append(f"{path}: {type(exc).__name__}: {exc}")
                    if path == "/varz":
                        break  # NATS is not there: do not wait for it twice
            self._report(failures)
            up = GaugeMetricFamily(
                UP, "1 when the nats-server monitoring endpoint answered this scrape, else 0."
            )
            up.add_metric([], 0.0 if failures else 1.0)
            families.append(up)
        yield from families

    def _report(self, failures: list[str]) -> None:
        if failures and self._failing is None:
            self._failing = "; ".join(failures)
            log.warning(
                "NATS monitoring at %s cannot be read (%s): reporting %s 0 until it answers "
                "(logged once per outage)",
                self.monitor_url,
                self._failing,
                UP,
            )
        elif not failures and self._failing is not None:
            log.info("NATS monitoring at %s answers again", self.monitor_url)
            self._failing = None

    def _varz(self, varz: Mapping[str, Any]) -> list[GaugeMetricFamily]:
        server = str(varz.get("server_id", ""))
        values = [
            (f"{self.core}_varz_{key}", number)
            for key, value in varz.items()
            if not isinstance(value, bool | Mapping | list)
            and (number := _number(value)) is not None
        ]
        js = varz.get("jetstream")
        if isinstance(js, Mapping):
            for part in ("config", "stats"):
                if isinstance(js.get(part), Mapping):
                    values.extend(_flatten(f"{self.core}_varz_jetstream_{part}", js[part]))
        out = []
        for name, number in values:
            family = GaugeMetricFamily(name, name.rpartition("_varz_")[2], labels=["server_id"])
            family.add_metric([server], number)
            out.append(family)
        return out

    def _jsz(self, jsz: Mapping[str, Any]) -> list[GaugeMetricFamily]:
        meta = jsz.get("meta_cluster") if isinstance(jsz.get("meta_cluster"), Mapping) else {}
        config = jsz.get("config") if isinstance(jsz.get("config"), Mapping) else {}
        server = [
            str(jsz.get("server_id", "")),
            str(jsz.get("server_name", jsz.get("server_id", ""))),
            str(meta.get("name", "")),
            str(config.get("domain", "")),
        ]

        def families(
            specs: tuple[tuple[str, tuple[str, ...], str], ...], labels: tuple[str, ...]
        ) -> dict[str, tuple[tuple[str, ...], GaugeMetricFamily]]:
            return {
                s: (path, GaugeMetricFamily(f"{self.js}_{s}", text, labels=list(labels)))
                for s, path, text in specs
            }

        top = families(JSZ_SERVER, SERVER_LABELS)
        streams = families(JSZ_STREAM, STREAM_LABELS)
        consumers = families(JSZ_CONSUMER, CONSUMER_LABELS)
        for path, family in top.values():
            family.add_metric(server, _at(jsz, path))
        for account in jsz.get("account_details") or ():
            for stream in account.get("stream_detail") or ():
                at_stream = [*server, str(account.get("name", "")), str(stream.get("name", ""))]
                for path, family in streams.values():
                    family.add_metric(at_stream, _at(stream, path))
                for consumer in stream.get("consumer_detail") or ():
                    at_consumer = [*at_stream, str(consumer.get("name", ""))]
                    for path, family in consumers.values():
                        family.add_metric(at_consumer, _at(consumer, path))
        return [f for group in (top, streams, consumers) for _, f in group.values()]


@dataclass
class Exporter:
    """A running exporter: its HTTP server (`/metrics`) and the port it listens on."""

    server: Any
    thread: threading.Thread
    port: int

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# The launcher takes these signals in its main thread (sigtimedwait): the exporter's
# threads must not take them instead.
_LAUNCHER_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP}


def serve(monitor_url: str, *, host: str, port: int, prefix: str = CHART_PREFIX) -> Exporter:
    """Serve the metrics of the nats-server at `monitor_url` on `host:port` (`/metrics`; 0
    picks a free port) from threads of this process, which end with it. A port in use
    raises OSError."""
    registry = CollectorRegistry()
    registry.register(NatsCollector(monitor_url, prefix=prefix))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _LAUNCHER_SIGNALS)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return Exporter(server, thread, int(server.server_address[1]))
