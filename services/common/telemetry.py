"""Tracing and the metrics every service shares; logging is in `logs`.

Tracing is the OpenTelemetry SDK configured the standard way, by `OTEL_*` variables:
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) turns the OTLP exporter on, with
`OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`, the default, or `http/protobuf`), behind a batch
processor; `OTEL_SERVICE_NAME` (default `lianxin-<service>`), `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` as the SDK reads them. The embedded
mode sets none of them: no exporter, and only traces a caller started are recorded.
The setting `TRACE_EXPORTER` (`none`, `console`, `otlp`) chooses explicitly.

gRPC server and client spans come from `opentelemetry-instrumentation-grpc` (see
`interceptors`), database spans from `opentelemetry-instrumentation-sqlalchemy`
(`instrument_engine`), NATS producer/consumer spans from `bus`. A case's later steps link
to the case's first trace (`link_to`), so one search finds the whole story.

Metrics are declared once here (RED per RPC, the event path, the database, the build) and
in each service's `metrics` module; labels are bounded, never ids, and never a name a
Prometheus or Kubernetes target label takes (`service`, `job`, `instance`, `namespace`,
`pod`): the service is `lianxin_service`.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Gauge, Histogram

from services.common import logs

log = logging.getLogger(__name__)

VERSION = "0.1.0"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
GRPC_CODES = [c.name for c in grpc.StatusCode]

GRPC_HANDLED = Counter(
    "lianxin_grpc_server_handled_total",
    "RPCs completed on the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    "lianxin_grpc_server_handling_seconds",
    "Time to handle a unary RPC on the server (streams are not timed).",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
GRPC_STREAMS = Gauge(
    "lianxin_grpc_server_streams_active",
    "Server streams open now (WatchCases' followers), by method.",
    ["grpc_service", "grpc_method"],
)
GRPC_CLIENT_HANDLED = Counter(
    "lianxin_grpc_client_handled_total",
    "RPCs this service made to another, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_CLIENT_SECONDS = Histogram(
    "lianxin_grpc_client_handling_seconds",
    "Time until the answer of an RPC this service made to another.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = Gauge(
    "lianxin_outbox_backlog", "Events written but not yet published.", ["lianxin_service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "lianxin_outbox_oldest_age_seconds",
    "Age of the oldest event in the outbox (0 when it is empty).",
    ["lianxin_service"],
)
EVENTS_PUBLISHED = Counter(
    "lianxin_events_published_total",
    "Events published to JetStream.",
    ["lianxin_service", "type"],
)
RELAY_FAILURES = Counter(
    "lianxin_relay_publish_failures_total",
    "Rounds of the outbox relay that failed to publish (NATS down, no ack in time).",
    ["lianxin_service"],
)
EVENTS_CONSUMED = Counter(
    "lianxin_events_consumed_total",
    "Events taken from JetStream, by outcome (applied, duplicate, retry, rejected).",
    ["consumer", "type", "outcome"],
)
CONSUMER_PENDING = Gauge(
    "lianxin_nats_consumer_pending_messages",
    "Messages in the stream the durable consumer has not been given yet (lag).",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "lianxin_nats_consumer_ack_pending_messages",
    "Messages given to the consumer and not acknowledged yet.",
    ["consumer"],
)
CONSUMER_REDELIVERED = Gauge(
    "lianxin_nats_consumer_redelivered_messages",
    "Messages delivered more than once and not acknowledged yet (JetStream's num_redelivered).",
    ["consumer"],
)
CONSUMER_INFO_FAILURES = Counter(
    "lianxin_nats_consumer_info_failures_total",
    "Failed looks at a consumer's JetStream info (NATS down).",
    ["consumer"],
)
DB_QUEUE = Gauge(
    "lianxin_db_writer_queue_jobs",
    "Write jobs waiting for the database writer thread.",
    ["lianxin_service"],
)
DB_COMMIT_SECONDS = Histogram(
    "lianxin_db_commit_seconds",
    "Time of one write transaction of the writer thread (a group of jobs), commit included.",
    ["lianxin_service"],
    buckets=LATENCY_BUCKETS,
)
DB_GROUP_JOBS = Histogram(
    "lianxin_db_commit_group_jobs",
    "Jobs committed together in one transaction.",
    ["lianxin_service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BUILD_INFO = Gauge(
    "lianxin_build_info",
    "Always 1; the labels say what runs.",
    ["lianxin_service", "version", "python_version"],
)

_configured = False
_provider: TracerProvider | None = None


def exporter_kind(setting: str = "none") -> str:
    """`none`, `console` or `otlp`: the setting, or `otlp` when an OTLP endpoint is set."""
    if setting != "none":
        return setting
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "otlp":
        return "otlp"
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    ):
        return "otlp"
    return "none"


def _otlp_exporter() -> SpanExporter:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol in ("http/protobuf", "http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter()
    raise ValueError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this build speaks grpc or http/protobuf"
    )


def setup(
    service: str,
    *,
    log_level: str = "INFO",
    trace_exporter: str = "none",
    log_format: str = "json",
) -> None:
    """Configure logging and the tracer provider once per process."""
    global _configured, _provider
    BUILD_INFO.labels(service, VERSION, platform.python_version()).set(1)
    if _configured:
        return
    _configured = True
    logs.configure(service, level=log_level, fmt=log_format)
    kind = exporter_kind(trace_exporter)
    # Without an exporter nothing would read a span, so only traces a caller started (a
    # sampled traceparent) are recorded; the rest get cheap non-recording spans that still
    # carry a trace id from intake through the bus to routing and notify. With one, the
    # SDK's own OTEL_TRACES_SAMPLER(_ARG) rules, else every trace is kept.
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        sampler = None
    else:
        sampler = ParentBased(ALWAYS_ON if kind != "none" else ALWAYS_OFF)
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"lianxin-{service}"}
    )
    _provider = TracerProvider(resource=resource, sampler=sampler)
    if kind == "console":
        _provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif kind == "otlp":
        _provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
        log.info("traces go to OTLP (%s)", os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
    trace.set_tracer_provider(_provider)


def shutdown() -> None:
    """Flush spans still in the batch processor (at the end of a process)."""
    if _provider is not None:
        _provider.shutdown()


def tracing_on() -> bool:
    """True when spans go somewhere (an exporter is configured)."""
    return _provider is not None and bool(_provider._active_span_processor._span_processors)


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


_W3C = TraceContextTextMapPropagator()


def span_context_of(traceparent: str | None) -> trace.SpanContext | None:
    """The span context a stored `traceparent` names, or None."""
    if not traceparent:
        return None
    ctx = _W3C.extract({"traceparent": traceparent})
    sc = trace.get_current_span(ctx).get_span_context()
    return sc if sc.is_valid else None


def link_to(span: Any, traceparent: str | None, *, case_id: str = "") -> None:
    """Link `span` to the trace a stored `traceparent` names (a case's first trace)."""
    sc = span_context_of(traceparent)
    if sc is None or not span.is_recording():
        return
    if sc.trace_id == span.get_span_context().trace_id:
        return
    span.add_link(sc, {"lianxin.link": "case.origin", "lianxin.case_id": case_id})


def label_case(case_id: str) -> None:
    """Name the case the current work is about: on the span, and in its log lines."""
    if not case_id:
        return
    trace.get_current_span().set_attribute("lianxin.case_id", case_id)
    logs.case_id_var.set(case_id)


# --- NATS spans (semantic conventions for messaging) --------------------------------------


def producer_span(subject: str, event_id: str, traceparent: str | None) -> dict[str, str]:
    """A PRODUCER span for one publish, child of the trace the event was staged under;
    returns the headers that make the consumer's span its child."""
    parent = extract_context({"traceparent": traceparent} if traceparent else None)
    span = _TRACER.start_span(
        f"publish {subject}",
        context=parent,
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": subject,
            "messaging.message.id": event_id,
        },
    )
    try:
        headers: dict[str, str] = {}
        propagate.inject(headers, context=trace.set_span_in_context(span, parent))
        return headers
    finally:
        span.end()


class consumer_span:
    """The CONSUMER span of handling one event, child of the producer's; the event's case
    names the span and the log lines written while it is handled."""

    def __init__(
        self, consumer: str, subject: str, headers: Mapping[str, str] | None, event: Any
    ) -> None:
        self._cm = _TRACER.start_as_current_span(
            f"process {subject}",
            context=extract_context(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": subject,
                "messaging.consumer.group.name": consumer,
                "messaging.message.id": event.id,
                "lianxin.case_id": event.case_id,
                "lianxin.event_type": event.type,
            },
        )
        self._case = event.case_id
        self._token: Any = None

    def __enter__(self) -> trace.Span:
        span = self._cm.__enter__()
        self._token = logs.case_id_var.set(self._case)
        return span

    def __exit__(self, *exc: Any) -> None:
        logs.case_id_var.reset(self._token)
        self._cm.__exit__(*exc)


def span_failed(span: trace.Span, exc: BaseException) -> None:
    """Mark a span failed by an exception that was handled (a retried event)."""
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def nats_error_logger(url: str, name: str) -> Any:
    """nats.py's error callback: says what failed and why, once per kind of error per
    minute instead of "encountered error" on every reconnect attempt."""
    last: dict[str, float] = {}

    async def on_error(exc: Exception) -> None:
        kind = type(exc).__name__
        now = time.monotonic()
        if now - last.get(kind, -1e9) < 60:
            return
        last[kind] = now
        log.warning(
            "%s: NATS at %s: %s: %s; reconnecting every 0.5 s (events wait in the outbox, "
            "this message repeats at most once a minute)",
            name,
            url,
            kind,
            exc or "connection lost",
        )

    return on_error
