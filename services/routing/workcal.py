"""Working time: deadlines in working hours, on the district's calendar.

A working day is one of the policy's `work_days` that is not a holiday, or one of its
`extra_work_days` (调休). Only time inside the day's `work_hours` windows counts, e.g.
08:30–12:00 and 13:30–17:30: 4 working hours from Friday 16:00 end on Monday 11:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.common.policy import WEEKDAYS, Calendar

MAX_DAYS = 3660  # ten years: a policy with no working day at all cannot loop forever


class WorkCalendar:
    def __init__(self, calendar: Calendar) -> None:
        self.tz = calendar.tzinfo
        self.windows: list[tuple[time, time]] = calendar.windows
        self.work_days = {WEEKDAYS.index(d) for d in calendar.work_days}
        self.holidays = set(calendar.holidays)
        self.extra = set(calendar.extra_work_days)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra:
            return True
        return day.weekday() in self.work_days and day not in self.holidays

    def _day_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [
            (datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz))
            for s, e in self.windows
        ]

    def add(self, start: datetime, hours: float) -> datetime:
        """The instant `hours` working hours after `start` (UTC)."""
        t = start.astimezone(self.tz)
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return start.astimezone(UTC)
        day = t.date()
        for _ in range(MAX_DAYS):
            for s, e in self._day_windows(day):
                cur = max(s, t)
                if cur >= e:
                    continue
                available = e - cur
                if remaining <= available:
                    return (cur + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time in ten years")

    def between(self, a: datetime, b: datetime) -> float:
        """Working hours from `a` to `b` (0 when `b` is not after `a`)."""
        if b <= a:
            return 0.0
        a, b = a.astimezone(self.tz), b.astimezone(self.tz)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            for s, e in self._day_windows(day):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 3600.0

    def fraction_point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        """The instant when `fraction` of the working time from `start` to `end` is used."""
        hours = self.between(start, end)
        if hours <= 0:
            return end.astimezone(UTC)
        return min(self.add(start, hours * fraction), end.astimezone(UTC))
