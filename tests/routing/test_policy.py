"""The district policy is data, checked at start: a bad file is refused with messages that
name the line and the field; `lianxin policy check FILE` says the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.main import main
from services.common.policy import DEFAULT_POLICY, PolicyError, load_policy, parse_policy
from services.routing.app import create_server as create_routing
from services.routing.config import RoutingSettings

GOOD = DEFAULT_POLICY.read_text(encoding="utf-8")


def test_the_district_policy_names_the_categories_the_article_needs() -> None:
    policy = load_policy()
    names = {c.code: c.name for c in policy.categories}
    assert (
        names.items()
        >= {
            "household_electrical": "家庭电路故障",
            "street_light": "路灯不亮",
            "illegal_vending": "占道经营",
            "wild_advertising": "野广告",
            "sanitation": "环境卫生与垃圾",
            "facility_repair": "公共设施维修",
            "neighbour_dispute": "邻里纠纷",
            "employment_help": "就业与社保求助",
        }.items()
    )
    assert policy.escalation.ladder == ["community", "street", "district"]
    assert policy.duplicates.radius_m == 50 and policy.duplicates.window_hours == 24
    assert policy.calendar.work_hours == ["08:30-12:00", "13:30-17:30"]
    electrical = policy.category("household_electrical")
    assert electrical is not None and electrical.department == "370402-D-POWER"
    assert policy.deadline_hours(electrical, "street") == 8


def line_of(text: str, snippet: str) -> int:
    return text[: text.index(snippet)].count("\n") + 1


# (what to change, into what, which line of the change is wrong, the field, the words)
BROKEN = [
    (
        "first_level: street\n",
        "first_level: town\n",
        0,
        "categories[1].first_level",
        "'community', 'street' or 'district'",
    ),
    ("reminder_fraction: 0.75", "reminder_fraction: 1.5", 0, "reminder_fraction", "less than 1"),
    ("    - 2014-10-02", "    - 2014-13-02", 0, "calendar.holidays[1]", "month"),
    (
        '"08:30-12:00", "13:30-17:30"',
        '"08:30-12:00", "11:30-17:30"',
        0,
        "calendar.work_hours[1]",
        "overlaps",
    ),
    (
        "    - 2014-10-11",
        "    - 2014-10-03",
        0,
        "calendar.extra_work_days[1]",
        "also listed as a holiday",
    ),
    (
        "    street: 4\n",
        "    district: 4\n",
        0,
        "escalation.automatic_after_overdue_hours.district",
        "top of the ladder",
    ),
    ("  - code: sanitation", "  - code: street_light", 0, "categories[4].code", "appears twice"),
    (
        "department: 370402-D-HRSS",
        "department: 370403-D-HRSS",
        0,
        "categories[7].department",
        "must be a department of 370402",
    ),
    (
        "deadline_hours: {street: 24, district: 40}",
        "deadline_hours: {street: -24, district: 40}",
        0,
        "categories[5].deadline_hours.street",
        "greater than 0",
    ),
    (
        'minor: "0201"',
        'minor: "0301"',
        0,
        "categories[3].standard",
        "小类 0301 is not in 大类 02",
    ),
    (
        "    hotline_class: power\n",
        "    hotline_class: electricity\n",
        0,
        "categories[0].hotline_class",
        "Input should be",
    ),
    (
        "  back_to: same_unit",
        "  back_to: elsewhere",
        0,
        "reopen.back_to",
        "'same_unit' or 'level_above'",
    ),
    (
        "  radius_m: 50",
        "  radius_m: 50\n  radius: 60",
        1,
        "duplicates.radius",
        "Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("old", "new", "offset", "field", "says"), BROKEN)
def test_a_policy_with_an_error_is_refused_naming_the_line_and_the_field(
    old: str, new: str, offset: int, field: str, says: str
) -> None:
    assert GOOD.count(old) >= 1
    text = GOOD.replace(old, new, 1)
    line = line_of(GOOD, old) + offset
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="370402.yaml")
    message = str(caught.value)
    assert f"370402.yaml:{line}: {field}: " in message, message
    assert says in message, message


def test_every_problem_in_a_policy_is_reported_at_once() -> None:
    text = GOOD.replace("first_level: street\n", "first_level: town\n", 1).replace(
        "reminder_fraction: 0.75", "reminder_fraction: 0"
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.yaml")
    assert len(str(caught.value).splitlines()) == 2


def test_a_file_that_is_not_yaml_or_not_there_is_refused() -> None:
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_policy("version: [1, 2", source="p.yaml")
    with pytest.raises(PolicyError, match="must be a mapping"):
        parse_policy("- a\n- b\n", source="p.yaml")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy("/nonexistent/policy.yaml")


def test_policy_check_says_ok_or_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", str(DEFAULT_POLICY)]) == 0
    assert "ok:" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("reminder_fraction: 0.75", "reminder_fraction: 2"), "utf-8")
    assert main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    line = line_of(GOOD, "reminder_fraction: 0.75")
    assert f"bad.yaml:{line}: reminder_fraction: Input should be less than 1" in err


async def test_routing_does_not_start_with_a_bad_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("first_level: street\n", "first_level: town\n", 1), "utf-8")
    with pytest.raises(PolicyError, match="first_level"):
        await create_routing(RoutingSettings(policy_file=bad, data_dir=tmp_path, metrics_port=None))
