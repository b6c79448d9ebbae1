"""notify's rules: who hears about which event, over which channel, in which words, when
(quiet hours, back-off, rate limits), and how a stored delivery reads back.

Who is told (AUDIENCES; every transition also goes to the subscribed hotline systems):

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

Urgent events (URGENT) reach staff by SMS even in quiet hours; everything else sent by
SMS — every citizen SMS, reminders, resolved/closed texts — waits for the end of quiet
hours. App push, webhooks and the file sink are never held back.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.ids import uuid7
from services.common.pii import mask_phone
from services.common.policy import Policy
from services.common.timeutil import aware, from_ts, to_ts
from services.notify import templates

# Recipient kinds.
STAFF = "staff"
CITIZEN = "citizen"
HOTLINE = "hotline"

# Audiences: why someone hears about a case (templates are chosen by these).
UNIT = "unit"
GRID = "grid"
ABOVE = "above"
ORIGIN = "hotline"  # the hotline system that handed the case over
SUBSCRIBER = "subscriber"
CITIZEN_AUDIENCE = "citizen"

AUDIENCES: dict[str, tuple[str, ...]] = {
    "case.filed": (),
    "case.filing_failed": (ORIGIN,),
    "case.voided": (ORIGIN,),
    "case.transferred": (CITIZEN_AUDIENCE, ORIGIN),
    "case.dispatched": (UNIT, GRID),
    "case.redispatched": (UNIT, GRID),
    "case.accepted": (),
    "case.resolved": (CITIZEN_AUDIENCE, ORIGIN, GRID),
    "case.closed": (CITIZEN_AUDIENCE, ORIGIN),
    "case.returned": (ABOVE,),
    "case.escalated": (UNIT,),
    "case.extension_requested": (ABOVE,),
    "case.extension_approved": (UNIT,),
    "case.extension_refused": (UNIT,),
    "case.explained": (CITIZEN_AUDIENCE, ORIGIN),
    "case.reworked": (UNIT,),
    "case.rated": (),
    "case.reopened": (UNIT,),
    "case.merged": (CITIZEN_AUDIENCE, ORIGIN),
    "case.reminded": (UNIT, ABOVE),
    "case.overdue": (UNIT, ABOVE),
    "case.supervised": (UNIT,),
}

# Staff must act now: these go by SMS even in quiet hours.
URGENT: frozenset[str] = frozenset(
    {
        "case.dispatched",
        "case.redispatched",
        "case.escalated",
        "case.reworked",
        "case.reopened",
        "case.overdue",
        "case.supervised",
    }
)

# On these the unit gets both an app push and an SMS (when both channels exist).
PUSH_AND_SMS: frozenset[str] = frozenset({"case.dispatched", "case.redispatched"})

# The hotline systems that hand cases over, by the intake channel they use.
HOTLINES: dict[int, str] = {
    intake_res.CHANNEL_MAYOR_HOTLINE: "12345市长热线",
    intake_res.CHANNEL_DISTRICT_HOTLINE: "区长热线",
    intake_res.CHANNEL_CONVENIENCE_HOTLINE: "96361便民服务热线",
}

# Preferred channels per recipient kind, best first; the first one configured is used.
# The embedded mode configures only FILE, so everything goes to the sink file.
PREFERENCES: dict[str, tuple[int, ...]] = {
    STAFF: (res.DELIVERY_CHANNEL_APP_PUSH, res.DELIVERY_CHANNEL_SMS, res.DELIVERY_CHANNEL_FILE),
    CITIZEN: (res.DELIVERY_CHANNEL_SMS, res.DELIVERY_CHANNEL_FILE),
    HOTLINE: (res.DELIVERY_CHANNEL_WEBHOOK, res.DELIVERY_CHANNEL_FILE),
}

# Deadlines and quiet hours are in the district's local time (China has no daylight saving).
LOCAL_TZ = timezone(timedelta(hours=8), "CST")


def event_type_of(transition: int) -> str:
    """TRANSITION_EXTENSION_REQUESTED → "case.extension_requested"."""
    return "case." + routing_res.Transition.Name(transition).removeprefix("TRANSITION_").lower()


@dataclass(frozen=True)
class Recipient:
    kind: str
    id: str
    name: str
    address: str  # full phone (citizen, staff), webhook URL, or the hotline system's id
    audience: str = field(default="", compare=False)
    subscription_id: str = field(default="", compare=False)

    @property
    def masked_address(self) -> str:
        return mask_address(self.kind, self.address)


@dataclass(frozen=True)
class Outgoing:
    """One delivery as a channel sees it."""

    id: str
    event_id: str
    event_type: str
    case_id: str
    recipient: Recipient
    channel: int
    body: str
    template_version: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as matching needs it."""

    id: str
    hotline: int
    webhook_url: str
    unit_code: str
    case_channels: frozenset[int]
    event_types: frozenset[str]


# --- masking and labels ------------------------------------------------------------------

_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    """Mobile numbers inside free text (errors, logs) masked as 138****1234."""
    return _PHONE.sub(r"\1****\2", text)


def mask_address(kind: str, address: str) -> str:
    """Phones are personal data: masked wherever they are shown or logged."""
    return mask_phone(address) if kind in (STAFF, CITIZEN) and address else address


def channel_label(channel: int) -> str:
    """A delivery channel as a bounded label, e.g. "file"."""
    return res.DeliveryChannel.Name(channel).removeprefix("DELIVERY_CHANNEL_").lower()


def status_label(status: int) -> str:
    return res.DeliveryStatus.Name(status).removeprefix("DELIVERY_STATUS_").lower()


def channel_value(label: str) -> int:
    return res.DeliveryChannel.Value("DELIVERY_CHANNEL_" + label.upper())


def hotline_id(channel: int) -> str:
    """The channel name a hotline recipient is known by, e.g. "mayor_hotline"."""
    return intake_res.Channel.Name(channel).removeprefix("CHANNEL_").lower()


def hotline_channel(hotline: str) -> int | None:
    """ "mayor_hotline" → CHANNEL_MAYOR_HOTLINE; None when it is not a hotline system."""
    value = next((c for c in HOTLINES if hotline_id(c) == hotline), None)
    return value


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


# --- recipients --------------------------------------------------------------------------


def reporter_row(case: intake_res.Case, now: datetime) -> dict[str, Any]:
    """What notify keeps of a received case: enough to tell the citizen and the hotline."""
    return {
        "case_id": case.id,
        "name": case.reporter.name,
        "phone": case.reporter.phone,
        "staff_id": case.reporter.staff_id,
        "channel": case.channel,
        "external_ref": case.external_ref,
        "address": case.location.address,
        "category": case.category,
        "received_at": now,
    }


def citizen(reporter: Any) -> Recipient | None:
    """The citizen to tell, when the reporter left a phone."""
    if reporter is None or not reporter.phone:
        return None
    return Recipient(CITIZEN, reporter.case_id, reporter.name, reporter.phone, CITIZEN_AUDIENCE)


def hotline(reporter: Any) -> Recipient | None:
    """The hotline that handed the case over, when it came from one."""
    if reporter is None or reporter.channel not in HOTLINES:
        return None
    name = hotline_id(reporter.channel)
    return Recipient(HOTLINE, name, HOTLINES[reporter.channel], name, ORIGIN)


def subscription_matches(
    sub: SubscriptionView, *, event_type: str, case: routing_res.Case, case_channel: int | None
) -> bool:
    """Does the subscription want this event about this case?"""
    if sub.event_types and event_type not in sub.event_types:
        return False
    if sub.case_channels and case_channel not in sub.case_channels:
        return False
    if sub.unit_code:
        codes = (
            case.assigned_unit_code,
            case.grid_code,
            case.community_code,
            case.street_code,
            case.district_code,
        )
        if not any(c.startswith(sub.unit_code) for c in codes if c):
            return False
    return True


def hotline_recipients(
    *,
    event_type: str,
    case: routing_res.Case,
    reporter: Any,
    subscriptions: Iterable[SubscriptionView],
    origin_told: bool,
) -> list[Recipient]:
    """The hotline systems to tell, each once: the one that handed the case over (when
    `origin_told`), then every system with a matching subscription. A system hears over
    its oldest matching subscription; the origin over any of its subscriptions when none
    matches (it must hear back whatever its filters), else through the file sink."""
    subs = list(subscriptions)  # oldest first
    case_channel = reporter.channel if reporter is not None else None
    matching: dict[int, SubscriptionView] = {}
    for s in subs:
        if s.hotline not in matching and subscription_matches(
            s, event_type=event_type, case=case, case_channel=case_channel
        ):
            matching[s.hotline] = s
    out: list[Recipient] = []
    origin = hotline(reporter) if origin_told else None
    if origin is not None:
        via = matching.get(reporter.channel) or next(
            (s for s in subs if s.hotline == reporter.channel), None
        )
        out.append(_via(origin, via))
    for system, sub in matching.items():
        if origin is not None and system == reporter.channel:
            continue
        name = hotline_id(system)
        out.append(_via(Recipient(HOTLINE, name, HOTLINES[system], name, SUBSCRIBER), sub))
    return out


def _via(r: Recipient, sub: SubscriptionView | None) -> Recipient:
    if sub is None:
        return r
    return Recipient(
        r.kind, r.id, r.name, sub.webhook_url or r.id, r.audience, subscription_id=sub.id
    )


# --- texts -------------------------------------------------------------------------------


def format_deadline(ts: Any) -> str:
    dt = from_ts(ts)
    if dt is None:
        return ""
    local = dt.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _sentence(text: str) -> str:
    return text.strip().rstrip("。．.！!")  # the template ends the sentence


def fields(
    case: routing_res.Case,
    reporter: Any,
    policy: Policy,
    entry: routing_res.HistoryEntry | None = None,
) -> dict[str, str]:
    """The values templates may use."""
    category = policy.category(case.category)
    unit_name = case.assigned_unit_name
    return {
        "case_id": case.id,
        "case_id_short": case.id[-8:],
        "category_name": category.name if category else case.category,
        "address": reporter.address if reporter is not None else "",
        "deadline": format_deadline(case.deadline_time),
        "result": _sentence(case.result or (entry.note if entry is not None else "")),
        "note": _sentence(entry.note) if entry is not None else "",
        "unit_name": unit_name,
        "handled_by": f"，承办单位{unit_name}" if unit_name else "",
        "external_ref": reporter.external_ref if reporter is not None else "",
    }


def webhook_data(
    event_type: str, case: routing_res.Case, entry: routing_res.HistoryEntry, reporter: Any
) -> dict[str, Any]:
    """The structured part of a hotline's message: what its system files the change by."""
    deadline = from_ts(case.deadline_time)
    when = from_ts(entry.time)
    return {
        "case_id": case.id,
        "external_ref": reporter.external_ref if reporter is not None else "",
        "case_channel": hotline_id(reporter.channel) if reporter is not None else "",
        "event_type": event_type,
        "status": routing_res.CaseStatus.Name(case.status).removeprefix("CASE_STATUS_"),
        "category": case.category,
        "unit_code": case.assigned_unit_code,
        "unit_name": case.assigned_unit_name,
        "level": routing_res.Level.Name(case.level).removeprefix("LEVEL_"),
        "note": entry.note,
        "result": case.result,
        "deadline_time": deadline.isoformat() if deadline else "",
        "time": when.isoformat() if when else "",
        "overdue": case.overdue,
        "supervised": case.supervised,
        "version": case.version,
    }


# --- when --------------------------------------------------------------------------------


def quiet_until(t: datetime, quiet: tuple[time, time] | None) -> datetime | None:
    """The end of the quiet hours `t` falls in (UTC), or None when it is not in them."""
    if quiet is None:
        return None
    start, end = quiet
    local = aware(t).astimezone(LOCAL_TZ)
    now = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:  # e.g. 12:00-14:00
        if not start <= now < end:
            return None
    elif now >= start:  # e.g. 22:00-07:00, before midnight
        day = day + timedelta(days=1)
    elif now >= end:
        return None
    return datetime.combine(day, end, tzinfo=LOCAL_TZ).astimezone(UTC)


def not_before(
    t: datetime, *, channel: int, urgent: bool, quiet: tuple[time, time] | None
) -> datetime:
    """When a delivery may go at the earliest: non-urgent SMS wait out the quiet hours."""
    if channel == res.DELIVERY_CHANNEL_SMS and not urgent:
        return quiet_until(t, quiet) or t
    return t


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with full jitter, then the dead letter."""

    max_attempts: int = 10
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the `attempt`-th failure: base, 2·base, 4·base … cap."""
        return min(self.max_seconds, self.base_seconds * 2 ** max(0, min(attempt - 1, 30)))

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Full jitter (uniform between 0 and the ceiling): retries of many deliveries that
        failed together do not come back together."""
        return timedelta(seconds=rng.uniform(0, self.ceiling(attempt)))

    def exhausted(self, attempts_in_budget: int) -> bool:
        return attempts_in_budget >= self.max_attempts


def rate_limited(
    rows: Iterable[Any],
    sent: Mapping[str, list[datetime]],
    *,
    limit: int,
    window: timedelta,
    now: datetime,
) -> dict[str, datetime]:
    """SMS rows over the per-number limit: delivery id → when to look at it again.

    `sent` holds, per number, when SMS to it were sent inside the window. Rows to the
    same number in this round count too, in order."""
    if limit <= 0:
        return {}
    used: dict[str, list[datetime]] = {a: sorted(aware(t) for t in ts) for a, ts in sent.items()}
    out: dict[str, datetime] = {}
    for r in rows:
        if r.channel != res.DELIVERY_CHANNEL_SMS:
            continue
        times = used.setdefault(r.address, [])
        if len(times) >= limit:
            out[r.id] = times[len(times) - limit] + window
        else:
            times.append(now)
    return out


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
