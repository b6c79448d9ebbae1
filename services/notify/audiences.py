"""Who hears about a case: recipient kinds and audiences (AUDIENCES, URGENT), the hotline
systems, channel preferences, the district's local time, masking and labels, and the
recipients of an event (the citizen, the hotline systems)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.pii import mask_phone

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
