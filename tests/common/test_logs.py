"""Log lines: JSON with the trace, request and case of the work that wrote them; phone and
ID numbers masked in every message and field, while ids that merely hold digits stay."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from services.common import logs


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("lianxin.test", logging.WARNING, __file__, 1, message, args, None)
    for k, v in extra.items():
        setattr(r, k, v)
    return r


def test_phone_and_id_numbers_are_masked_keeping_region_and_tail() -> None:
    text = "张胜起 13806325566 身份证 370402195601011234 and 37040219560101123X"
    masked = logs.redact(text)
    assert "13806325566" not in masked and "138****5566" in masked
    assert "370402195601011234" not in masked and "370402********1234" in masked
    assert "370402********123X" in masked


def test_ids_and_timestamps_that_hold_digits_are_left_alone() -> None:
    for text in (
        "case 0195f3a2-7c4e-7d1a-9b2e-13806325566a",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "ref SZT-20261201-083012-123456",
        "grid 370402003001001 unit 370402003",
        "took 1733038212345678901 ns",
    ):
        assert logs.redact(text) == text


def test_a_json_line_carries_the_trace_request_and_case_of_the_work() -> None:
    tracer = TracerProvider().get_tracer("test")
    f = logs.JsonFormatter("intake")
    flt = logs.ContextFilter()
    with tracer.start_as_current_span("SubmitCase") as span:
        t1 = logs.request_id_var.set("req-1")
        t2 = logs.case_id_var.set("case-1")
        try:
            r = record("submitted for %s", "13806325566", grpc_code="OK")
            assert flt.filter(r)
            line = json.loads(f.format(r))
        finally:
            logs.case_id_var.reset(t2)
            logs.request_id_var.reset(t1)
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
    assert line["request_id"] == "req-1" and line["case_id"] == "case-1"
    assert line["service"] == "intake" and line["level"] == "WARNING"
    assert line["logger"] == "lianxin.test" and line["grpc_code"] == "OK"
    assert line["message"] == "submitted for 138****5566"
    assert line["time"].endswith("Z")


def test_a_traceback_is_one_json_field_and_is_masked_too() -> None:
    try:
        raise ValueError("bad phone 13806325566")
    except ValueError:
        import sys

        r = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = logs.JsonFormatter("notify").format(r)
    assert "\n" not in line
    assert "138****5566" in json.loads(line)["exc"] and "13806325566" not in line


def test_the_text_format_is_for_a_terminal_and_masks_too() -> None:
    r = record("call 13806325566")
    logs.ContextFilter().filter(r)
    out = logs.TextFormatter().format(r)
    assert "WARNING lianxin.test: call 138****5566" in out
