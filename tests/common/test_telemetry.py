"""Tracing is configured by the standard OTEL_* variables: an OTLP endpoint turns the
exporter on, the protocol picks gRPC or HTTP, anything else is a clear error; a stored
traceparent becomes a span link to the case's first trace."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
from opentelemetry.sdk.trace import TracerProvider

from services.common import telemetry

FIRST = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_an_otlp_endpoint_turns_the_exporter_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert telemetry.exporter_kind("none") == "none"
    assert telemetry.exporter_kind("console") == "console"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    assert telemetry.exporter_kind("none") == "otlp"


@pytest.mark.parametrize(
    ("protocol", "kind"), [("grpc", Grpc), ("http/protobuf", Http), (None, Grpc)]
)
def test_the_protocol_picks_the_exporter(
    monkeypatch: pytest.MonkeyPatch, protocol: str | None, kind: type
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    if protocol is None:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    else:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    exporter = telemetry._otlp_exporter()
    try:
        assert isinstance(exporter, kind)
    finally:
        exporter.shutdown()


def test_an_unknown_protocol_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ValueError, match="grpc or http/protobuf"):
        telemetry._otlp_exporter()


def test_a_later_step_links_to_the_cases_first_trace() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("AcceptCase") as span:
        telemetry.link_to(span, FIRST, case_id="c-1")
        telemetry.link_to(span, None)  # a case filed before traces were kept: no link
        telemetry.link_to(span, "garbage")
    (link,) = span.links
    assert format(link.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert link.attributes["lianxin.case_id"] == "c-1"


def test_a_producer_span_makes_the_consumer_its_child_in_the_staged_trace() -> None:
    headers = telemetry.producer_span("lianxin.case.received", "e-1", FIRST)
    parent = telemetry.span_context_of(headers["traceparent"])
    assert parent is not None
    assert format(parent.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
