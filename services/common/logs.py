"""Logging for every service: one JSON object a line (or plain text for a terminal), with
the trace, request and case of the work that wrote it, and never a full phone or ID number.

`configure(service, level=…, fmt="json"|"text")` is called once per process by
`telemetry.setup()`. The fields of a JSON line: `time` (UTC, RFC 3339 with ms), `level`,
`service`, `logger`, `message`, and when known `trace_id`, `span_id` (W3C hex),
`request_id`, `case_id`; `exc` carries a traceback. Extra fields given with
`log.info(..., extra={"grpc_method": …})` are added as they are (bounded names only).

`redact()` masks mainland mobile numbers (1[3-9] + 9 digits → 138****5566) and resident ID
numbers (GB 11643, 18 characters → 370402********1234) in every message and field, so
no log — access logs, tracebacks, third-party libraries' messages — leaks them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any

from opentelemetry import trace

case_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("case_id", default="")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# An 18-character resident ID (17 digits + digit or X) and an 11-digit mobile number, each
# not part of a longer run of digits (UUIDs, timestamps and trace ids stay intact: they
# contain hex letters or are longer).
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")

# LogRecord attributes that are not "extra" fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(text: str) -> str:
    """`text` with ID numbers and mobile numbers masked (keeps the region and the tail)."""
    if not any(c.isdigit() for c in text):
        return text
    text = _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


class ContextFilter(logging.Filter):
    """Adds trace_id, span_id, request_id and case_id of the current work to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        if rid := request_id_var.get():
            record.request_id = rid
        if cid := case_id_var.get():
            record.case_id = cid
        return True


def _message(record: logging.LogRecord) -> str:
    msg = record.getMessage()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    return msg


class JsonFormatter(logging.Formatter):
    """One JSON object a line; every string redacted."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": redact(_message(record)),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            out[key] = redact(value) if isinstance(value, str) else value
        if record.exc_text:
            out["exc"] = redact(record.exc_text)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: time level logger: message [trace request case], redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{k}={getattr(record, k)}"
            for k in ("trace_id", "request_id", "case_id")
            if getattr(record, k, "")
        )
        line = super().format(record)
        return redact(f"{line} [{ids}]" if ids else line)


def configure(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger to stderr through the context filter and the chosen format."""
    # The process's own stderr (fd 2), not whatever `sys.stderr` is swapped for later.
    handler = logging.StreamHandler(sys.__stderr__ or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter())
    handler._lianxin = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for h in list(root.handlers):  # ours from an earlier call; others' (pytest's) stay
        if getattr(h, "_lianxin", False):
            root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
