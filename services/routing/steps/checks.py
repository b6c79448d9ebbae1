"""The checks of each step's own fields, before anything else happens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.blobs import check_upload, digest
from services.common.errors import Violations
from services.common.timeutil import from_ts
from services.routing import domain, locating
from services.routing.config import RoutingSettings
from services.routing.steps.base import Check, optional, required

MAX_EXTENSION_HOURS = 400.0
# Result photos per step (the request guard's size for ResolveCase assumes this many).
MAX_PHOTOS = 9


def check_resolve(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
    result = request.result.strip()
    v.check(bool(result), "result", "is required: say what was done")
    v.check(
        len(request.result) <= s.result_max_chars,
        "result",
        f"must be at most {s.result_max_chars} characters",
    )
    v.check(len(request.photos) <= MAX_PHOTOS, "photos", f"at most {MAX_PHOTOS} photos")
    for i, p in enumerate(request.photos):
        check_upload(
            v,
            f"photos[{i}]",
            filename=p.filename,
            content_type=p.content_type,
            content=p.content,
            limit=s.photo_max_bytes,
        )
    photos = [
        {
            "filename": p.filename,
            "content_type": p.content_type,
            "sha256": digest(p.content),
            "size_bytes": len(p.content),
        }
        for p in request.photos
    ]
    return {"result": result, "photos": photos}


def check_extension(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
    values = required("reason")(request, v, s)
    if not (0 < request.hours <= MAX_EXTENSION_HOURS):
        v.add("hours", f"must be more than 0 and at most {MAX_EXTENSION_HOURS:g} working hours")
    return values


def check_rate(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
    if request.satisfaction not in domain.RATING_NAMES:
        v.add("satisfaction", "must be SATISFIED, BASICALLY_SATISFIED or UNSATISFIED")
    return optional("note")(request, v, s)


def check_final(validate: Callable[[Any, Violations], None]) -> Check:
    def check(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
        validate(request, v)
        return required("reason", long=True)(request, v, s)

    return check


def check_file(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
    locating.validate(request, v)
    field_name = "grid_code" if request.grid_code.strip() else "unit_code"
    return optional("note")(request, v, s) | {
        "field": field_name,
        "chosen": (request.grid_code or request.unit_code).strip(),
    }


def check_redispatch(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
    v.check(bool(request.unit_code), "unit_code", "is required")
    values = optional("note")(request, v, s)
    level = domain.unit_level(request.unit_code)
    if request.unit_code and level == 0:
        v.add("unit_code", "must be a district, street, community or department code")
    for i, code in enumerate(request.assisting_unit_codes):
        if domain.unit_level(code) == 0:
            v.add(f"assisting_unit_codes[{i}]", "must be a unit or department code")
    return values | {"level": level}


def check_supervise(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
    values = required("note")(request, v, s)
    deadline = from_ts(request.deadline_time)
    if deadline is None:
        v.add("deadline_time", "is required: the new deadline")
    return values | {"deadline": deadline}
