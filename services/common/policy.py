"""The district's routing and SLA policy: a versioned YAML file, validated at start.

Errors name the file, the line and the field, e.g.
`policy.yaml:14: categories[2].first_level: Input should be 'community', 'street' or 'district'`.
Every problem in the file is reported at once, not only the first.

What the file says (see `policies/370402.yaml`, which documents each key):
- `categories`: code, Chinese name, the level that handles a case first, the department
  (and assisting departments) that handle it at district level, the staff skill that
  picks the handler, and deadlines per level in working hours;
- `calendar`: working days and hours, holidays and adjusted working days (调休);
- `reminder_fraction`: 催办 when this fraction of the working time to a deadline is used;
- `escalation`: the ladder community → street → district, and after how many working
  hours past an overdue deadline a level hands the case up by itself;
- `reopen`: which ratings reopen a closed case, within how long, how often, and where to;
- `duplicates`: the radius and window within which a new case joins an open one (并单).

routing uses all of it; intake and notify use only the category list.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

DEFAULT_POLICY = Path(__file__).parent / "policies" / "370402.yaml"

LevelName = Literal["community", "street", "district"]
LEVEL_ORDER: dict[str, int] = {"community": 1, "street": 2, "district": 3}
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RatingName = Literal["satisfied", "basically_satisfied", "unsatisfied"]

_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


HotlineClass = Literal[
    "water",
    "power",
    "gas",
    "heating",
    "roads_transport",
    "housing_property",
    "environment_sanitation",
    "market_supervision",
    "labour_social_security",
    "neighbourhood_dispute",
    "other",
]


class StandardClass(_Strict):
    """A GB/T 30428.2 class: 部件 (component) or 事件 (event), 大类 and, where the category
    is exactly one, 小类 (whose code starts with the 大类's)."""

    kind: Literal["component", "event"]
    major: str = Field(pattern=r"^\d{2}$", description="大类 code, e.g. 02")
    major_name: str = Field(min_length=1, description="大类 name, e.g. 宣传广告")
    minor: str = Field("", pattern=r"^(\d{4})?$", description="小类 code, e.g. 0201")
    minor_name: str = ""

    @model_validator(mode="after")
    def _minor_in_major(self) -> StandardClass:
        if self.minor and not self.minor.startswith(self.major):
            raise ValueError(f"小类 {self.minor} is not in 大类 {self.major}")
        if bool(self.minor) != bool(self.minor_name):
            raise ValueError("give minor and minor_name together")
        return self


class Category(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str = Field(min_length=1, description="Chinese name, e.g. 家庭电路故障")
    first_level: LevelName = "community"
    department: str = Field(
        "", description="Department that leads at district level, e.g. 370402-D-POWER"
    )
    assisting_departments: list[str] = Field(
        default_factory=list, description="Departments that assist at district level (协办)"
    )
    skill: str = Field("", description="Staff skill that picks the handler, e.g. electrical")
    deadline_hours: dict[LevelName, PositiveFloat] = Field(default_factory=dict)
    hotline_class: HotlineClass = Field("other", description="The common 12345 class")
    standard: StandardClass | None = Field(None, description="GB/T 30428.2 class, if any")


class Calendar(_Strict):
    """Working time: deadlines count only hours inside `work_hours` on working days."""

    timezone: str = Field("+08:00", description="UTC offset of the district, e.g. +08:00")
    work_days: list[Weekday] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1
    )
    work_hours: list[str] = Field(
        default_factory=lambda: ["08:30-12:00", "13:30-17:30"], min_length=1
    )
    holidays: list[date] = Field(default_factory=list, description="Days off (法定节假日)")
    extra_work_days: list[date] = Field(
        default_factory=list, description="Weekend days worked instead (调休上班)"
    )

    @property
    def tzinfo(self) -> timezone:
        m = _OFFSET.match(self.timezone)
        assert m, "validated by check_policy"
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))

    @property
    def windows(self) -> list[tuple[time, time]]:
        out = []
        for w in self.work_hours:
            m = _WINDOW.match(w)
            assert m, "validated by check_policy"
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            out.append((time(h1, m1), time(h2, m2)))
        return out


class Escalation(_Strict):
    ladder: list[LevelName] = Field(
        default_factory=lambda: ["community", "street", "district"], min_length=1
    )
    automatic_after_overdue_hours: dict[LevelName, float] = Field(
        default_factory=dict,
        description="Level → working hours after an overdue deadline when the case goes up "
        "by itself; a level not listed never escalates automatically",
    )

    def next_level(self, level: str) -> str | None:
        if level not in self.ladder:
            return None
        i = self.ladder.index(level)
        return self.ladder[i + 1] if i + 1 < len(self.ladder) else None


class Reopen(_Strict):
    ratings: list[RatingName] = Field(default_factory=lambda: ["unsatisfied"])
    within_days: PositiveFloat = 15.0
    max_times: int = Field(1, ge=0)
    back_to: Literal["same_unit", "level_above"] = "same_unit"


class Duplicates(_Strict):
    radius_m: PositiveFloat = 50.0
    window_hours: PositiveFloat = 24.0


class Policy(_Strict):
    version: str = Field(min_length=1)
    district: str = Field(pattern=r"^\d{6}$", description="District code, e.g. 370402")
    calendar: Calendar = Field(default_factory=Calendar)
    reminder_fraction: float = Field(0.75, gt=0, lt=1)
    escalation: Escalation = Field(default_factory=Escalation)
    reopen: Reopen = Field(default_factory=Reopen)
    duplicates: Duplicates = Field(default_factory=Duplicates)
    default_deadline_hours: dict[LevelName, PositiveFloat] = Field(
        default_factory=lambda: {"community": 24.0, "street": 72.0, "district": 120.0}
    )
    categories: list[Category] = Field(min_length=1)

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def deadline_hours(self, category: Category, level: LevelName | str) -> float:
        return category.deadline_hours.get(level) or self.default_deadline_hours[level]  # type: ignore[index]


class PolicyError(ValueError):
    """The policy file is wrong; the message names where."""


# --- checks pydantic cannot express (they need several fields), with their locations --


def check_policy(p: Policy) -> list[tuple[tuple[int | str, ...], str]]:
    """Problems that span fields, each with the location of the field to fix."""
    out: list[tuple[tuple[int | str, ...], str]] = []
    cal = p.calendar
    if not _OFFSET.match(cal.timezone):
        out.append((("calendar", "timezone"), "must be a UTC offset like +08:00"))
    previous_end: time | None = None
    for i, w in enumerate(cal.work_hours):
        m = _WINDOW.match(w)
        if not m:
            out.append((("calendar", "work_hours", i), f"{w!r} must look like 08:30-12:00"))
            continue
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            out.append((("calendar", "work_hours", i), f"{w!r} is not a time of day"))
            continue
        start, end = time(h1, m1), (time(23, 59, 59) if h2 == 24 else time(h2, m2))
        if start >= end:
            out.append((("calendar", "work_hours", i), f"{w!r} must end after it starts"))
        elif previous_end is not None and start < previous_end:
            out.append(
                (("calendar", "work_hours", i), f"{w!r} overlaps or precedes the window before")
            )
        previous_end = end
    if len(set(cal.work_days)) != len(cal.work_days):
        out.append((("calendar", "work_days"), "names a day twice"))
    holidays = set(cal.holidays)
    for i, d in enumerate(cal.extra_work_days):
        if d in holidays:
            out.append((("calendar", "extra_work_days", i), f"{d} is also listed as a holiday"))
    ladder = p.escalation.ladder
    if len(set(ladder)) != len(ladder):
        out.append((("escalation", "ladder"), "names a level twice"))
    elif [LEVEL_ORDER[x] for x in ladder] != sorted(LEVEL_ORDER[x] for x in ladder):
        out.append((("escalation", "ladder"), "must go up: community, street, district"))
    for level in p.escalation.automatic_after_overdue_hours:
        loc: tuple[int | str, ...] = ("escalation", "automatic_after_overdue_hours", level)
        if level not in ladder:
            out.append((loc, f"{level} is not on the ladder"))
        elif p.escalation.next_level(level) is None:
            out.append((loc, f"{level} is the top of the ladder; there is nowhere to go"))
        if p.escalation.automatic_after_overdue_hours[level] < 0:
            out.append((loc, "must not be negative"))
    for level in ladder:
        if level not in p.default_deadline_hours:
            out.append((("default_deadline_hours",), f"needs a deadline for {level}"))
    seen: dict[str, int] = {}
    for i, c in enumerate(p.categories):
        if c.code in seen:
            out.append(
                (("categories", i, "code"), f"{c.code!r} appears twice (first at [{seen[c.code]}])")
            )
        seen.setdefault(c.code, i)
        if c.first_level not in ladder:
            out.append((("categories", i, "first_level"), f"{c.first_level} is not on the ladder"))
        for field, codes in (("department", [c.department]), ("assisting_departments", None)):
            for j, code in enumerate(codes if codes is not None else c.assisting_departments):
                if not code:
                    continue
                where: tuple[int | str, ...] = ("categories", i, field)
                if codes is None:
                    where = (*where, j)
                if not code.startswith(p.district + "-"):
                    out.append((where, f"{code!r} must be a department of {p.district}"))
        if c.department and c.department in c.assisting_departments:
            out.append(
                (("categories", i, "assisting_departments"), "must not repeat the department")
            )
    return out


# --- loading with line numbers -------------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping key and sequence item, for error messages.
    Dates stay strings so that pydantic (not the YAML parser) reports a bad one with
    its line."""


_LineLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _LineDict(dict[str, Any]):
    lines: dict[str, int]
    line: int


class _LineList(list[Any]):
    lines: list[int]
    line: int


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
    mapping.line = node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    seq = _LineList(loader.construct_sequence(node, deep=True))
    seq.lines = [item.start_mark.line + 1 for item in node.value]
    seq.line = node.start_mark.line + 1
    return seq


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    node, line = doc, getattr(doc, "line", None)
    for part in loc:
        if isinstance(node, _LineDict) and isinstance(part, str) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            if isinstance(node, _LineList):
                line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _known(loc: tuple[Any, ...]) -> tuple[int | str, ...]:
    # pydantic adds union member names ("literal[...]", "function-…") and "[key]" to a
    # location; keep only the parts a person finds in the file.
    return tuple(
        p
        for p in loc
        if not (isinstance(p, str) and (p.startswith(("literal", "function")) or p == "[key]"))
    )


def _format(source: str, doc: Any, loc: tuple[int | str, ...], message: str) -> str:
    line = _line_of(doc, loc)
    where = f"{source}:{line}" if line else source
    return f"{where}: {_path(loc) or '(top)'}: {message}"


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: must be a mapping with version, district, categories")
    try:
        policy = Policy.model_validate(doc)
    except ValidationError as exc:
        problems = [_format(source, doc, _known(e["loc"]), e["msg"]) for e in exc.errors()]
        raise PolicyError("\n".join(problems)) from exc
    problems = [_format(source, doc, loc, msg) for loc, msg in check_policy(policy)]
    if problems:
        raise PolicyError("\n".join(problems))
    return policy


def load_policy(path: Path | str = DEFAULT_POLICY) -> Policy:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read: {exc.strerror}") from exc
    return parse_policy(text, source=str(p))
