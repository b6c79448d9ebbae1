"""The loaded policy as routing's API shows it (ListCategories, GetPolicy).

Everything here is read from the `Policy` routing loaded at start, so a client (the
Open311 gateway, a command centre's screen) sees exactly the categories, deadlines and
calendar routing works by, with the version they come from."""

from __future__ import annotations

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.common import paging
from services.common.errors import InvalidArgument
from services.common.policy import WEEKDAYS, Category, Policy

LEVELS: dict[str, int] = {
    "community": res.LEVEL_COMMUNITY,
    "street": res.LEVEL_STREET,
    "district": res.LEVEL_DISTRICT,
}
WEEKDAY_VALUES: dict[str, int] = {d: i + 1 for i, d in enumerate(WEEKDAYS)}  # mon → MONDAY


def _deadlines(policy: Policy, category: Category | None) -> list[res.LevelDeadline]:
    out = []
    for level in policy.escalation.ladder:
        hours = (
            policy.deadline_hours(category, level)
            if category is not None
            else policy.default_deadline_hours[level]
        )
        out.append(res.LevelDeadline(level=LEVELS[level], working_hours=hours))
    return out


KINDS = {"component": res.STANDARD_KIND_COMPONENT, "event": res.STANDARD_KIND_EVENT}


def category_to_proto(policy: Policy, c: Category) -> res.Category:
    out = res.Category(
        code=c.code,
        name=c.name,
        first_level=LEVELS[c.first_level],
        deadlines=_deadlines(policy, c),
        department=c.department,
        assisting_departments=c.assisting_departments,
        hotline_class=c.hotline_class,
        reminder_fraction=policy.reminder_fraction,
    )
    if c.standard is not None:
        out.standard.CopyFrom(
            res.StandardClass(
                kind=KINDS[c.standard.kind],
                major_code=c.standard.major,
                major_name=c.standard.major_name,
                minor_code=c.standard.minor,
                minor_name=c.standard.minor_name,
            )
        )
    return out


def policy_to_proto(policy: Policy) -> res.Policy:
    cal = policy.calendar
    return res.Policy(
        version=policy.version,
        district_code=policy.district,
        calendar=res.WorkingCalendar(
            utc_offset=cal.timezone,
            work_days=[WEEKDAY_VALUES[d] for d in cal.work_days],
            work_hours=[
                res.WorkingHours(start=w.split("-")[0], end=w.split("-")[1]) for w in cal.work_hours
            ],
            holidays=[d.isoformat() for d in cal.holidays],
            extra_work_days=[d.isoformat() for d in cal.extra_work_days],
        ),
        reminder_fraction=policy.reminder_fraction,
        default_deadlines=_deadlines(policy, None),
        escalation_ladder=[LEVELS[level] for level in policy.escalation.ladder],
        category_count=len(policy.categories),
    )


def list_categories(
    policy: Policy, request: svc.ListCategoriesRequest
) -> svc.ListCategoriesResponse:
    size = paging.page_size(request.page_size)
    offset = paging.read_token(request.page_token, {"offset": int, "v": str})["offset"]
    if not 0 <= offset <= len(policy.categories):
        raise InvalidArgument([("page_token", "is not a token this service issued")])
    page = policy.categories[offset : offset + size]
    end = offset + len(page)
    return svc.ListCategoriesResponse(
        categories=[category_to_proto(policy, c) for c in page],
        next_page_token=(
            paging.encode_token({"offset": end, "v": policy.version})
            if end < len(policy.categories)
            else ""
        ),
        policy_version=policy.version,
    )
