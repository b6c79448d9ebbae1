"""Deadlines in working hours on 市中区's calendar: lunch breaks, weekends, holidays, 调休."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.common.policy import load_policy
from services.routing.workcal import WorkCalendar
from tests.routing.helpers import CST


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar(load_policy().calendar)


def t(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        (t(2014, 11, 25, 9), 4, t(2014, 11, 25, 14, 30)),  # over the lunch break
        (t(2014, 11, 25, 11), 2, t(2014, 11, 25, 14, 30)),
        (t(2014, 11, 28, 16), 4, t(2014, 12, 1, 11, 0)),  # Friday → Monday
        (t(2014, 11, 29, 10), 1, t(2014, 12, 1, 9, 30)),  # from a Saturday
        (t(2014, 11, 25, 7), 1, t(2014, 11, 25, 9, 30)),  # before the day starts
        (t(2014, 11, 25, 12, 45), 1, t(2014, 11, 25, 14, 30)),  # during lunch
        (t(2014, 9, 30, 17), 1, t(2014, 10, 8, 9, 0)),  # across 国庆 (Oct 1–7)
        (t(2014, 10, 10, 17), 1, t(2014, 10, 11, 9, 0)),  # into the worked Saturday (调休)
        (t(2014, 11, 25, 9), 0, t(2014, 11, 25, 9)),
    ],
)
def test_working_hours_count_only_inside_the_working_windows_of_working_days(
    calendar: WorkCalendar, start: datetime, hours: float, end: datetime
) -> None:
    assert calendar.add(start, hours) == end
    assert calendar.between(start, end) == pytest.approx(hours)


def test_a_working_day_is_a_weekday_not_on_holiday_or_a_listed_weekend_day(
    calendar: WorkCalendar,
) -> None:
    assert calendar.is_working_day(t(2014, 11, 25, 0).date())
    assert not calendar.is_working_day(t(2014, 11, 29, 0).date())  # Saturday
    assert not calendar.is_working_day(t(2014, 10, 1, 0).date())  # 国庆
    assert calendar.is_working_day(t(2014, 9, 28, 0).date())  # Sunday worked for 国庆


def test_the_reminder_falls_at_the_policys_fraction_of_the_working_time(
    calendar: WorkCalendar,
) -> None:
    start, deadline = t(2014, 11, 25, 9), t(2014, 11, 25, 14, 30)  # 4 working hours
    assert calendar.fraction_point(start, deadline, 0.75) == t(2014, 11, 25, 12, 0)
    assert calendar.fraction_point(deadline, deadline, 0.75) == deadline
