"""intake's rules: what a valid submission is, and how a stored case reads back."""

from __future__ import annotations

from typing import Any

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import resources_pb2 as res
from services.common.blobs import check_upload
from services.common.errors import Violations
from services.common.pii import mask_name, mask_phone
from services.common.policy import Policy
from services.common.timeutil import to_ts
from services.intake.config import IntakeSettings

SOURCE = "lianxin/intake"


def validate_submission(
    req: svc.SubmitCaseRequest, *, policy: Policy, settings: IntakeSettings
) -> None:
    """Every problem with a submission at once, as field violations."""
    v = Violations()
    if req.channel == res.CHANNEL_UNSPECIFIED or req.channel not in res.Channel.values():
        v.add("channel", f"must be one of {', '.join(res.Channel.keys()[1:])}")
    ref = req.external_ref.strip()
    v.check(bool(ref), "external_ref", "is required (the channel's own reference)")
    v.check(len(ref) <= 128, "external_ref", "must be at most 128 characters")
    loc = req.location
    has_point = req.HasField("location") and loc.HasField("point")
    if not has_point and not loc.address.strip():
        v.add("location", "is required: a point (latitude, longitude), an address, or both")
    if has_point:
        v.check(
            -90 <= loc.point.latitude <= 90, "location.point.latitude", "must be between -90 and 90"
        )
        v.check(
            -180 <= loc.point.longitude <= 180,
            "location.point.longitude",
            "must be between -180 and 180",
        )
    v.check(len(loc.address) <= 500, "location.address", "must be at most 500 characters")
    if not req.category:
        v.add("category", "is required")
    elif policy.category(req.category) is None:
        codes = ", ".join(c.code for c in policy.categories)
        v.add("category", f"unknown category {req.category!r}; known: {codes}")
    desc = req.description.strip()
    v.check(bool(desc), "description", "is required")
    v.check(
        len(req.description) <= settings.description_max_chars,
        "description",
        f"is {len(req.description)} characters; at most {settings.description_max_chars}",
    )
    v.check(len(req.reporter.name) <= 100, "reporter.name", "must be at most 100 characters")
    phone = req.reporter.phone
    if phone and not (phone.replace("-", "").replace("+", "").isdigit() and 5 <= len(phone) <= 20):
        v.add("reporter.phone", "must be 5 to 20 digits")
    if len(req.attachments) > settings.max_attachments:
        v.add("attachments", f"at most {settings.max_attachments} files")
    for i, a in enumerate(req.attachments):
        check_upload(
            v,
            f"attachments[{i}]",
            filename=a.filename,
            content_type=a.content_type,
            content=a.content,
            limit=settings.attachment_max_bytes,
        )
    v.raise_if_any()


# What "the same content" means for a resubmission (AIP-155): the fields a submitter sets
# besides the idempotency key, as stored (text trimmed, files by digest). Documented in
# SubmitCaseRequest; a resubmission that differs in any of them is ALREADY_EXISTS.
CONTENT_FIELDS = (
    "reporter.name",
    "reporter.phone",
    "reporter.staff_id",
    "location.point",
    "location.address",
    "category",
    "description",
    "attachments",
)


def content_of(row: Any, attachment_rows: list[Any]) -> dict[str, Any]:
    """A case's content (CONTENT_FIELDS → value), from a stored row or a fresh one."""
    point = None if row.latitude is None else (float(row.latitude), float(row.longitude))
    return {
        "reporter.name": row.reporter_name,
        "reporter.phone": row.reporter_phone,
        "reporter.staff_id": row.reporter_staff_id,
        "location.point": point,
        "location.address": row.address,
        "category": row.category,
        "description": row.description,
        "attachments": [(a.filename, a.content_type, a.sha256) for a in attachment_rows],
    }


def content_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The CONTENT_FIELDS in which two contents differ."""
    return [f for f in CONTENT_FIELDS if a[f] != b[f]]


def case_to_proto(
    row: Any,
    attachment_rows: list[Any],
    timeline_rows: list[Any] | None = None,
    *,
    unmasked: bool = False,
) -> res.Case:
    """A stored case as the API shows it; the reporter's name and phone are masked unless
    `unmasked` (see `may_read_reporters`)."""
    c = res.Case(
        id=row.id,
        channel=row.channel,
        external_ref=row.external_ref,
        reporter=res.Reporter(
            name=row.reporter_name if unmasked else mask_name(row.reporter_name),
            phone=row.reporter_phone if unmasked else mask_phone(row.reporter_phone),
            staff_id=row.reporter_staff_id,
        ),
        location=res.Location(address=row.address),
        category=row.category,
        description=row.description,
        status=row.status,
        grid_code=row.grid_code,
        assigned_unit_code=row.assigned_unit_code,
        assigned_unit_name=row.assigned_unit_name,
        level=row.level,
        result=row.result,
        filing_error=row.filing_error,
    )
    if row.latitude is not None:
        c.location.point.latitude = row.latitude
        c.location.point.longitude = row.longitude
    if row.deadline_time is not None:
        to_ts(row.deadline_time, c.deadline_time)
    to_ts(row.created_at, c.create_time)
    to_ts(row.updated_at, c.update_time)
    for a in attachment_rows:
        c.attachments.add(
            id=a.id,
            filename=a.filename,
            content_type=a.content_type,
            size_bytes=a.size_bytes,
            sha256=a.sha256,
        )
    c.timeline.extend(change_to_proto(t) for t in timeline_rows or ())
    return c


def change_to_proto(t: Any) -> res.StatusChange:
    """A timeline row as the API shows it."""
    change = res.StatusChange(
        status=t.status,
        transition=t.transition,
        unit_code=t.unit_code,
        unit_name=t.unit_name,
        note=t.note,
        case_id=t.case_id,
        sequence=t.seq,
    )
    to_ts(t.time, change.time)
    return change


def channel_label(channel: int) -> str:
    """A channel as a bounded metric label, e.g. "mayor_hotline"."""
    return res.Channel.Name(channel).removeprefix("CHANNEL_").lower()
