"""notify's rules: who hears about which event, over which channel, in which words, and how
a stored delivery reads back."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.ids import uuid7
from services.common.pii import mask_phone
from services.common.policy import Policy
from services.common.timeutil import aware, from_ts, to_ts
from services.notify import templates

STAFF = "staff"
CITIZEN = "citizen"
HOTLINE = "hotline"

# Who hears about each event type (case.received is remembered, not announced).
AUDIENCES: dict[str, tuple[str, ...]] = {
    "case.dispatched": (STAFF,),
    "case.resolved": (CITIZEN, STAFF),
    "case.closed": (CITIZEN, STAFF, HOTLINE),
}

# The hotline systems that hand cases over and want to hear when they are closed.
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

# Deadlines are shown in the district's local time (China has no daylight saving).
LOCAL_TZ = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True)
class Recipient:
    kind: str
    id: str
    name: str
    address: str  # full phone (citizen, staff) or the hotline's channel name

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


def pick_channel(kind: str, available: Collection[int]) -> int | None:
    return next((c for c in PREFERENCES.get(kind, ()) if c in available), None)


def hotline_id(channel: int) -> str:
    """The channel name a hotline recipient is known by, e.g. "mayor_hotline"."""
    return intake_res.Channel.Name(channel).removeprefix("CHANNEL_").lower()


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
    return Recipient(CITIZEN, reporter.case_id, reporter.name, reporter.phone)


def hotline(reporter: Any) -> Recipient | None:
    """The hotline that handed the case over, when it came from one."""
    if reporter is None or reporter.channel not in HOTLINES:
        return None
    name = hotline_id(reporter.channel)
    return Recipient(HOTLINE, name, HOTLINES[reporter.channel], name)


def format_deadline(ts: Any) -> str:
    dt = from_ts(ts)
    if dt is None:
        return ""
    local = dt.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def fields(case: routing_res.Case, reporter: Any, policy: Policy) -> dict[str, str]:
    """The values templates may use."""
    category = policy.category(case.category)
    return {
        "case_id": case.id,
        "case_id_short": case.id[-8:],
        "category_name": category.name if category else case.category,
        "address": reporter.address if reporter is not None else "",
        "deadline": format_deadline(case.deadline_time),
        "result": case.result.strip().rstrip("。．.！!"),  # the template ends the sentence
        "unit_name": case.assigned_unit_name,
        "external_ref": reporter.external_ref if reporter is not None else "",
    }


def plan(
    *,
    event_id: str,
    event_type: str,
    case_id: str,
    recipients: Iterable[Recipient],
    values: dict[str, str],
    available: Collection[int],
    now: datetime,
) -> list[dict[str, Any]]:
    """Delivery rows for one event: one per recipient (deduplicated), rendered now."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for r in recipients:
        if (r.kind, r.id) in seen:
            continue
        seen.add((r.kind, r.id))
        channel = pick_channel(r.kind, available)
        if channel is None:
            continue
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
                "body": templates.render(event_type, r.kind, values),
                "template_version": templates.TEMPLATE_VERSION,
                "attempts": 0,
                "last_error": "",
                "created_at": now,
                "sent_at": None,
                "next_attempt_at": now,
            }
        )
    return rows


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failure: 2, 4, 8 … seconds, at most 5 minutes."""
    return timedelta(seconds=min(300, 2 ** max(1, attempts)))


def outgoing(row: Any) -> Outgoing:
    return Outgoing(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        case_id=row.case_id,
        recipient=Recipient(row.recipient_kind, row.recipient_id, row.recipient_name, row.address),
        channel=row.channel,
        body=row.body,
        template_version=row.template_version,
        created_at=aware(row.created_at),
    )


def delivery_to_proto(row: Any) -> res.Delivery:
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
    )
    to_ts(row.created_at, d.create_time)
    if row.sent_at is not None:
        to_ts(row.sent_at, d.sent_time)
    return d
