"""Time helpers: UTC everywhere, and conversion to protobuf Timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """SQLite returns naive datetimes; they are UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def to_ts(dt: datetime | None, ts: Timestamp | None = None) -> Timestamp:
    out = ts if ts is not None else Timestamp()
    if dt is not None:
        out.FromDatetime(aware(dt))
    return out


def from_ts(ts: Timestamp) -> datetime | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)
