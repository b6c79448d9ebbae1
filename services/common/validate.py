"""Checks every request passes before any handler sees it, and helpers handlers use.

`shape_violations(message)` walks a request by its descriptor and finds what no RPC
accepts: an enum number the enum does not define (proto3 enums are open, so the wire
carries any integer), a Timestamp outside protobuf's range or the business range, a NUL
character in a string or a string over `MAX_STRING_CHARS`, a NaN or infinite number.
The request guard (services.common.guard) refuses such a request with INVALID_ARGUMENT
and a BadRequest listing every violation, before any effect.

`like_prefix` makes a LIKE pattern from user text with `%`, `_` and `\\` escaped.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

F = FieldDescriptor
TIMESTAMP = "google.protobuf.Timestamp"
# The business range of any instant a request may carry: from the Unix epoch to 2200.
# Protobuf's own range (years 1..9999) is wider than date arithmetic survives (a deadline
# extended past 9999 overflows), and no case, report or statistic lies outside this one.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_EARLIEST_S = int(EARLIEST.timestamp())
_LATEST_S = int(LATEST.timestamp())
MAX_FOUND = 50  # violations reported per request at most
# No string field of any request is longer (descriptions and results stop at 4,000);
# bounded so that even escaped, a LIKE pattern made of one stays under SQLite's 50,000
# bytes, and no error echoes more than this.
MAX_STRING_CHARS = 16_384
LIKE_ESCAPE = "\\"


def timestamp_problem(ts: Timestamp) -> str | None:
    """Why `ts` is not an instant a request may carry, or None."""
    if not 0 <= ts.nanos <= 999_999_999:
        return "nanos must be between 0 and 999999999"
    if not _EARLIEST_S <= ts.seconds < _LATEST_S:
        return f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
    return None


def shape_violations(msg: Message) -> list[tuple[str, str]]:
    """Every descriptor-level violation in `msg` (see the module doc), at most MAX_FOUND."""
    found: list[tuple[str, str]] = []
    _walk(msg, "", found)
    return found[:MAX_FOUND]


def _walk(msg: Message, prefix: str, found: list[tuple[str, str]]) -> None:
    if msg.DESCRIPTOR.full_name == TIMESTAMP:
        problem = timestamp_problem(msg)  # type: ignore[arg-type]
        if problem:
            found.append((prefix.rstrip("."), problem))
        return
    for field, value in msg.ListFields():
        if len(found) >= MAX_FOUND:
            return
        path = prefix + field.name
        if field.type == F.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                key_field, value_field = field.message_type.fields
                for k in value:
                    _scalar(key_field, k, path, found)
                    if value_field.type == F.TYPE_MESSAGE:
                        _walk(value[k], f"{path}[{k!r}].", found)
                    else:
                        _scalar(value_field, value[k], f"{path}[{k!r}]", found)
            elif field.is_repeated:
                for i, item in enumerate(value):
                    _walk(item, f"{path}[{i}].", found)
            else:
                _walk(value, f"{path}.", found)
        elif field.is_repeated:
            for i, item in enumerate(value):
                _scalar(field, item, f"{path}[{i}]", found)
        else:
            _scalar(field, value, path, found)


def _scalar(field: FieldDescriptor, value: object, path: str, found: list[tuple[str, str]]) -> None:
    t = field.type
    if t == F.TYPE_ENUM:
        if field.enum_type.values_by_number.get(value) is None:  # type: ignore[call-overload]
            names = ", ".join(v.name for v in field.enum_type.values[1:])
            found.append((path, f"unknown value {value}; must be one of {names}"))
    elif t == F.TYPE_STRING:
        if len(value) > MAX_STRING_CHARS:  # type: ignore[arg-type]
            found.append((path, f"must be at most {MAX_STRING_CHARS} characters"))
        elif "\x00" in value:  # type: ignore[operator]
            found.append((path, "must not contain NUL characters"))
    elif t in (F.TYPE_DOUBLE, F.TYPE_FLOAT) and not math.isfinite(value):  # type: ignore[arg-type]
        found.append((path, "must be a finite number"))


def escape_like(text: str) -> str:
    """`text` for a LIKE pattern with `\\` as the escape character: `%`, `_` and `\\`
    match themselves."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with `text` (use with `escape=LIKE_ESCAPE`)."""
    return escape_like(text) + "%"
