"""Reading GeoReport parameters: every problem found at once, each naming its parameter,
before anything is sent to intake (bad input has no effect)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from services.common.ids import uuid7
from services.open311.errors import bad_request
from services.open311.keys import Identity
from services.open311.upstream import Catalog

ATTRIBUTE = re.compile(r"^attribute\[(.*)\]$")
CJK = re.compile(r"[\u3400-\u9fff]")
MAX_IDS = 100
MAX_REFERENCE = 100


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, parameter: str, description: str) -> None:
        self.items.append(f"{parameter}: {description}")

    def raise_if_any(self) -> None:
        if self.items:
            raise bad_request(*self.items)


def parse_time(p: Problems, name: str, value: str | None, tz: timezone) -> datetime | None:
    """A W3C datetime (2010-01-01T00:00:00Z, or with an offset); the district's offset
    when none is given; a date alone is its midnight."""
    if value is None or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        p.add(name, f"{value!r} is not a W3C datetime, e.g. 2014-11-25T09:00:00+08:00")
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def window(
    p: Problems,
    start_raw: str | None,
    end_raw: str | None,
    *,
    tz: timezone,
    now: datetime,
    max_days: int,
    default: timedelta,
) -> tuple[datetime, datetime]:
    """start_date..end_date: both, one (the other is `default` away) or none (the last
    `default` up to now); never longer than `max_days`."""
    start = parse_time(p, "start_date", start_raw, tz)
    end = parse_time(p, "end_date", end_raw, tz)
    if start is None and end is None:
        end, start = now, now - default
    elif start is None:
        assert end is not None
        start = end - default
    elif end is None:
        end = start + default
    if start >= end:
        p.add("end_date", "must be after start_date")
    elif end - start > timedelta(days=max_days):
        p.add("start_date/end_date", f"may not span more than {max_days} days")
    return start, end


def page(
    p: Problems, raw_page: str | None, raw_size: str | None, *, default: int, maximum: int
) -> tuple[int, int]:
    number, size = 1, default
    if raw_page:
        if raw_page.isdigit() and int(raw_page) >= 1:
            number = int(raw_page)
        else:
            p.add("page", "must be a whole number from 1")
    if raw_size:
        if raw_size.isdigit() and 1 <= int(raw_size) <= maximum:
            size = int(raw_size)
        else:
            p.add("page_size", f"must be a whole number from 1 to {maximum}")
    return number, size


def comma_list(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def ids(p: Problems, value: str | None) -> list[str]:
    out = comma_list(value)
    if len(out) > MAX_IDS:
        p.add("service_request_id", f"at most {MAX_IDS} ids at once")
    return out[:MAX_IDS]


def statuses(p: Problems, value: str | None) -> set[str]:
    out = set(comma_list(value))
    if out - {"open", "closed"}:
        p.add("status", "must be open, closed or both (comma separated)")
    return out


def service_codes(p: Problems, value: str | None, catalog: Catalog) -> list[str]:
    codes = comma_list(value)
    for code in codes:
        if code not in catalog.by_code:
            p.add("service_code", f"unknown service code {code!r}")
    return codes


def _float(p: Problems, name: str, value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        x = float(value)
    except ValueError:
        p.add(name, f"{value!r} is not a number")
        return None
    if not math.isfinite(x):
        p.add(name, f"{value!r} is not a number")
        return None
    return x


def _text(p: Problems, name: str, value: str | None, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        p.add(name, f"must be at most {limit} characters")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        p.add(name, "must not contain control characters")
    return text


@dataclass(frozen=True)
class Submission:
    request: intake_svc.SubmitCaseRequest
    media_url: str


def reporter_name(first: str, last: str) -> str:
    """姓 before 名 without a space in Chinese; first then last otherwise."""
    if CJK.search(first + last):
        return f"{last}{first}"
    return " ".join(x for x in (first, last) if x)


def submission(form: Mapping[str, str], catalog: Catalog, identity: Identity) -> Submission:
    """POST /requests' parameters as intake's SubmitCase, or every problem with them."""
    p = Problems()
    code = (form.get("service_code") or "").strip()
    category = catalog.by_code.get(code)
    if not code:
        p.add("service_code", "is required")
    elif category is None:
        known = ", ".join(catalog.by_code)
        p.add("service_code", f"unknown service code {code!r}; known: {known}")
    for key in form:
        m = ATTRIBUTE.match(key)
        if key.startswith("attribute") and (m is None or not m.group(1).strip()):
            p.add(key, "is not an attribute parameter: write attribute[CODE]")
        elif m is not None and category is not None:
            # No category of the district's policy declares extra fields (metadata=false).
            p.add(key, f"service {code!r} has no attribute {m.group(1)!r}")
    before = len(p.items)
    lat, lon = _float(p, "lat", form.get("lat")), _float(p, "long", form.get("long"))
    parsed = len(p.items) == before
    address = _text(p, "address_string", form.get("address_string"), 500)
    if parsed and (lat is None) != (lon is None):
        p.add("lat/long", "give both lat and long, or neither")
    if parsed and lat is None and lon is None and not address:
        p.add("lat/long or address_string", "a location is required")
    first = _text(p, "first_name", form.get("first_name"), 50)
    last = _text(p, "last_name", form.get("last_name"), 50)
    phone = _text(p, "phone", form.get("phone"), 20)
    email = _text(p, "email", form.get("email"), 254)
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        p.add("email", f"{email!r} is not an email address")
    for name in ("device_id", "account_id", "address_id"):
        _text(p, name, form.get(name), 100)
    media_url = _text(p, "media_url", form.get("media_url"), 2048)
    if media_url and (
        urlsplit(media_url).scheme not in ("http", "https") or not urlsplit(media_url).netloc
    ):
        p.add("media_url", "must be an http or https URL")
    reference = _text(p, "client_reference", form.get("client_reference"), MAX_REFERENCE)
    description = form.get("description") or ""
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in description):
        p.add("description", "must not contain control characters")
    p.raise_if_any()
    assert category is not None
    if not description.strip():
        description = category.name  # optional in GeoReport, required by intake
    request = intake_svc.SubmitCaseRequest(
        channel=identity.channel,
        external_ref=f"o311:{identity.key_id}:{reference or uuid7()}",
        reporter=intake_res.Reporter(name=reporter_name(first, last), phone=phone),
        location=intake_res.Location(address=address),
        category=code,
        # intake checks the length (its own limit) and names `description`.
        description=description,
    )
    if lat is not None and lon is not None:
        request.location.point.latitude, request.location.point.longitude = lat, lon
    return Submission(request=request, media_url=media_url)
