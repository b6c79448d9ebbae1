"""notify's rules: who hears about which event, over which channel, in which words, when
(quiet hours, back-off, rate limits), and how a stored delivery reads back.

Who is told (audiences.AUDIENCES; every transition also goes to the subscribed hotline systems):

| event                         | told                                                    |
|-------------------------------|---------------------------------------------------------|
| dispatched, redispatched      | the unit (app push *and* SMS), the grid manager         |
| resolved                      | the citizen (SMS), the hotline that handed it over, the |
|                               | grid manager (she checks the result)                    |
| closed, explained, merged     | the citizen (SMS; the explanation text), the hotline    |
| reminded, overdue             | the unit and the level above (its command centre)       |
| supervised, escalated,        | the unit                                                |
| reworked, reopened,           |                                                         |
| extension_approved/refused    |                                                         |
| returned, extension_requested | the level above (it re-dispatches / decides)            |
| filing_failed                 | the hotline that handed it over (kept for manual filing)|
| voided                        | the hotline (the reason class and words; no citizen SMS)|
| transferred                   | the citizen (SMS: where to), the hotline                |
| filed, accepted, rated        | subscribers only                                        |

"The unit" is the named assignee when routing picked one, else the unit's handling staff
(unit staff, department staff, command centre). "The level above" is the unit's parent in
registry (a department's is its district), and there the command-centre staff.

Urgent events (audiences.URGENT) reach staff by SMS even in quiet hours; everything else sent by
SMS — every citizen SMS, reminders, resolved/closed texts — waits for the end of quiet
hours. App push, webhooks and the file sink are never held back.

Where each part is: audiences.py (recipient kinds, audiences, the hotline systems, channel
preferences, masking and labels, who the recipients of an event are), texts.py (the values
templates use, a hotline's structured data), policies.py (quiet hours, back-off, rate
limits); here the choice of channels, the planning of an event's deliveries and how a
stored delivery reads back.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime, time
from typing import Any

from lianxin.notify.v1 import resources_pb2 as res
from services.common.ids import uuid7
from services.common.timeutil import aware, to_ts
from services.notify import templates
from services.notify.audiences import (
    ABOVE,
    AUDIENCES,
    CITIZEN_AUDIENCE,
    GRID,
    HOTLINE,
    ORIGIN,
    PREFERENCES,
    PUSH_AND_SMS,
    STAFF,
    UNIT,
    URGENT,
    Outgoing,
    Recipient,
    SubscriptionView,
    channel_label,
    citizen,
    hotline_recipients,
    mask_address,
    mask_phones,
    reporter_row,
    status_label,
)
from services.notify.policies import RetryPolicy, not_before, rate_limited
from services.notify.texts import fields, webhook_data

# domain's own rules, and what notify's events.py and sender.py reach through domain
# though it now lives in audiences.py, texts.py or policies.py.
__all__ = [
    "ABOVE",
    "AUDIENCES",
    "CITIZEN_AUDIENCE",
    "GRID",
    "ORIGIN",
    "STAFF",
    "UNIT",
    "Recipient",
    "RetryPolicy",
    "SubscriptionView",
    "channel_label",
    "channels_for",
    "citizen",
    "delivery_to_proto",
    "fields",
    "hotline_recipients",
    "is_urgent",
    "mask_address",
    "mask_phones",
    "not_before",
    "outgoing",
    "pick_channel",
    "plan",
    "rate_limited",
    "reporter_row",
    "status_label",
    "webhook_data",
]


# --- channels ----------------------------------------------------------------------------


def channels_for(r: Recipient, event_type: str, available: Collection[int]) -> list[int]:
    """The channels one recipient gets this event over (usually one)."""
    if r.kind == HOTLINE:
        if r.address.startswith(("http://", "https://")):
            return [res.DELIVERY_CHANNEL_WEBHOOK]
        return [res.DELIVERY_CHANNEL_FILE] if res.DELIVERY_CHANNEL_FILE in available else []
    if r.kind == STAFF and r.audience == UNIT and event_type in PUSH_AND_SMS:
        both = [
            c for c in (res.DELIVERY_CHANNEL_APP_PUSH, res.DELIVERY_CHANNEL_SMS) if c in available
        ]
        if both:
            return both
    first = next((c for c in PREFERENCES.get(r.kind, ()) if c in available), None)
    return [first] if first is not None else []


def pick_channel(kind: str, available: Collection[int]) -> int | None:
    return next((c for c in PREFERENCES.get(kind, ()) if c in available), None)


def is_urgent(event_type: str, kind: str) -> bool:
    """Citizens are never woken at night; staff are when they must act now."""
    return kind == STAFF and event_type in URGENT


# --- planning ----------------------------------------------------------------------------


def plan(
    *,
    event_id: str,
    event_type: str,
    case_id: str,
    recipients: Iterable[Recipient],
    values: dict[str, str],
    available: Collection[int],
    now: datetime,
    quiet: tuple[time, time] | None = None,
    data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Delivery rows for one event: one per recipient (deduplicated: the first audience a
    recipient is in decides the text) and channel, rendered now."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for r in recipients:
        if (r.kind, r.id) in seen:
            continue
        seen.add((r.kind, r.id))
        audience = r.audience or r.kind
        tpl = templates.template(event_type, audience)
        body = templates.render(event_type, audience, values)
        for channel in channels_for(r, event_type, available):
            urgent = is_urgent(event_type, r.kind)
            rows.append(
                {
                    "id": uuid7(),
                    "event_id": event_id,
                    "event_type": event_type,
                    "case_id": case_id,
                    "recipient_kind": r.kind,
                    "recipient_id": r.id,
                    "recipient_name": r.name,
                    "address": r.address,
                    "channel": channel,
                    "status": res.DELIVERY_STATUS_PENDING,
                    "body": body,
                    "template_version": tpl.version,
                    "attempts": 0,
                    "retry_base": 0,
                    "last_error": "",
                    "created_at": now,
                    "sent_at": None,
                    "next_attempt_at": not_before(now, channel=channel, urgent=urgent, quiet=quiet),
                    "urgent": urgent,
                    "subscription_id": r.subscription_id,
                    "data": json.dumps(data or {}, ensure_ascii=False)
                    if r.kind == HOTLINE
                    else "{}",
                }
            )
    return rows


# --- reading back ------------------------------------------------------------------------


def outgoing(row: Any) -> Outgoing:
    return Outgoing(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        case_id=row.case_id,
        recipient=Recipient(
            row.recipient_kind,
            row.recipient_id,
            row.recipient_name,
            row.address,
            subscription_id=row.subscription_id,
        ),
        channel=row.channel,
        body=row.body,
        template_version=row.template_version,
        created_at=aware(row.created_at),
        data=json.loads(row.data or "{}"),
    )


def delivery_to_proto(row: Any, attempts: Iterable[Any] = ()) -> res.Delivery:
    """A stored delivery as the API shows it; phones masked."""
    d = res.Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        case_id=row.case_id,
        recipient=res.Recipient(
            kind=row.recipient_kind,
            id=row.recipient_id,
            name=row.recipient_name,
            address=mask_address(row.recipient_kind, row.address),
        ),
        channel=row.channel,
        status=row.status,
        body=row.body,
        attempts=row.attempts,
        last_error=row.last_error,
        template_version=row.template_version,
        urgent=bool(row.urgent),
        subscription_id=row.subscription_id,
    )
    to_ts(row.created_at, d.create_time)
    if row.sent_at is not None:
        to_ts(row.sent_at, d.sent_time)
    if row.status in (res.DELIVERY_STATUS_PENDING, res.DELIVERY_STATUS_FAILED):
        to_ts(row.next_attempt_at, d.next_attempt_time)
    for a in attempts:
        log = d.attempt_log.add(number=a.number, outcome=a.outcome, error=a.error)
        to_ts(a.attempted_at, log.attempt_time)
    return d
