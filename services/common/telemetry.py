"""Logging, tracing and the metrics every service shares.

Tracing: one OpenTelemetry tracer provider per process (exporter off by default; "console"
prints spans). The W3C `traceparent` travels in gRPC metadata and in NATS headers, so one
case can be followed from intake through the bus to routing, registry and notify.

Metrics are declared once here (RED per RPC, the event path) and in each service's
`metrics` module (business counters); labels are bounded, never ids.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from prometheus_client import Counter, Gauge, Histogram

GRPC_HANDLED = Counter(
    "lianxin_grpc_server_handled_total",
    "RPCs completed on the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    "lianxin_grpc_server_handling_seconds",
    "Time to handle an RPC on the server.",
    ["grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge(
    "lianxin_outbox_backlog", "Events written but not yet published.", ["service"]
)
EVENTS_PUBLISHED = Counter(
    "lianxin_events_published_total", "Events published to JetStream.", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "lianxin_events_consumed_total",
    "Events taken from JetStream, by outcome (applied, duplicate, retry, rejected).",
    ["consumer", "type", "outcome"],
)

_configured = False


def setup(service: str, *, log_level: str = "INFO", trace_exporter: str = "none") -> None:
    """Configure logging and the tracer provider once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    logging.basicConfig(
        level=log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # With no exporter nothing would read a span, so only traces a caller started (a
    # sampled traceparent) are recorded; the rest get cheap non-recording spans that still
    # carry a trace id from intake through the bus to routing and notify.
    sampler = ParentBased(ALWAYS_ON if trace_exporter != "none" else ALWAYS_OFF)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"lianxin-{service}"}), sampler=sampler
    )
    if trace_exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)


_TRACER = trace.get_tracer("lianxin")  # a proxy: follows the provider set by setup()


def tracer() -> trace.Tracer:
    return _TRACER


def inject_headers(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The current trace context as headers (W3C traceparent)."""
    out: dict[str, str] = dict(carrier or {})
    propagate.inject(out)
    return out


def extract_context(carrier: Mapping[str, str] | None) -> otel_context.Context:
    return propagate.extract(dict(carrier or {}))
