"""Hotline systems' webhook subscriptions: what a valid one is, making one, the default one.

A subscription names a hotline system (12345, the district head hotline, 96361), where its
webhooks go, and which cases it wants (a unit code prefix, the channels cases came in
through, event types). Its secret is made here, returned by create and rotate only, and
kept in notify's database (HMAC needs it in the clear).

The embedded default (settings `default_hotline`, on by default for the 12345 hotline) is
a subscription to every case of the policy's district, created at start with a fixed
request id, so a restart finds it instead of making another. Without a webhook URL it
delivers through the file sink; set `default_hotline_webhook_url` to send webhooks.
Deleting it keeps it deleted (the request id stays taken).
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as res
from services.common.errors import Violations
from services.common.ids import uuid7
from services.common.timeutil import to_ts
from services.notify import audiences, subscription_store

UNIT_CODE = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def new_secret() -> str:
    return "lxs_" + secrets.token_urlsafe(32)


def validate(
    sub: res.Subscription, *, request_id: str, file_sink: bool, v: Violations | None = None
) -> None:
    """Every problem with a subscription to create, as field violations."""
    v = v or Violations()
    hotlines = ", ".join(intake_res.Channel.Name(c) for c in audiences.HOTLINES)
    v.check(sub.hotline in audiences.HOTLINES, "subscription.hotline", f"must be one of {hotlines}")
    url = sub.webhook_url.strip()
    if url:
        parts = urllib.parse.urlsplit(url)
        v.check(
            parts.scheme in ("http", "https") and bool(parts.hostname),
            "subscription.webhook_url",
            "must be an http:// or https:// URL with a host",
        )
        v.check(len(url) <= 2000, "subscription.webhook_url", "must be at most 2000 characters")
    elif not file_sink:
        v.add("subscription.webhook_url", "is required (this notify has no file sink)")
    if sub.unit_code:
        v.check(
            bool(UNIT_CODE.match(sub.unit_code)),
            "subscription.unit_code",
            "must be a unit code: up to 64 letters, digits or '-'",
        )
    for i, c in enumerate(sub.case_channels):
        v.check(
            c in intake_res.Channel.values() and c != intake_res.CHANNEL_UNSPECIFIED,
            f"subscription.case_channels[{i}]",
            f"must be one of {', '.join(intake_res.Channel.keys()[1:])}",
        )
    for i, t in enumerate(sub.event_types):
        v.check(
            t in audiences.AUDIENCES,
            f"subscription.event_types[{i}]",
            f"unknown event type {t!r}; e.g. case.dispatched, case.closed",
        )
    v.check(len(request_id) <= 128, "request_id", "must be at most 128 characters")
    v.raise_if_any()


def new_row(sub: res.Subscription, *, request_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "request_id": request_id or None,
        "hotline": sub.hotline,
        "webhook_url": sub.webhook_url.strip(),
        "unit_code": sub.unit_code,
        "case_channels": ",".join(str(c) for c in sorted(set(sub.case_channels))),
        "event_types": ",".join(sorted(set(sub.event_types))),
        "secret": new_secret(),
        "previous_secret": "",
        "previous_secret_until": None,
        "created_at": now,
        "updated_at": now,
        "secret_rotated_at": now,
        "deleted_at": None,
    }


def to_proto(row: Any, *, with_secret: bool = False) -> res.Subscription:
    s = res.Subscription(
        id=row.id,
        hotline=row.hotline,
        webhook_url=row.webhook_url,
        unit_code=row.unit_code,
        case_channels=[int(c) for c in row.case_channels.split(",") if c],
        event_types=[t for t in row.event_types.split(",") if t],
        secret=row.secret if with_secret else "",
    )
    to_ts(row.created_at, s.create_time)
    to_ts(row.updated_at, s.update_time)
    to_ts(row.secret_rotated_at, s.secret_rotate_time)
    return s


def ensure_default(
    conn: Connection, *, hotline: str, unit_code: str, webhook_url: str, now: datetime
) -> Any:
    """The default subscription: made once, its URL kept as the settings say."""
    channel = audiences.hotline_channel(hotline)
    if channel is None:
        return None
    request_id = f"default:{hotline}:{unit_code}"
    existing = subscription_store.get_subscription_by_request(conn, request_id=request_id)
    if existing is not None:
        if existing.deleted_at is None and existing.webhook_url != webhook_url:
            subscription_store.set_webhook_url(
                conn, subscription_id=existing.id, url=webhook_url, now=now
            )
        return existing
    sub = res.Subscription(hotline=channel, webhook_url=webhook_url, unit_code=unit_code)
    row, _ = subscription_store.create_subscription(
        conn, row=new_row(sub, request_id=request_id, now=now)
    )
    return row
