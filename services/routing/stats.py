"""Key figures of a unit over a period, replayed from the stored history.

The cohort is every case of the unit received in [start, end) — merged duplicates
included, each is a citizen's request — and each case is judged by its history up to
`end` (so a period in the past reads the same tomorrow). Nothing here is stored; each
figure carries its numerator, denominator and the id of its formula:

- received (count(received)): requests collected (收集);
- handled_by_community / _street / _district (count(closed, <level>)): closed, solved by
  a community, the street, or the district platform and its departments;
- explained (count(explained)): explained to the citizen (解释说明), closed or not;
- voided (count(voided)): voided as invalid tickets (无效工单), never closed or rated;
- transferred (count(transferred)): transferred out of the district (转办), likewise;
- closed (count(closed)): closed (办结);
- closure_rate (closed/received): the article's 办结率;
- closure_rate_due (closed/due): GB/T 30428's 结案率, due = closed or past its deadline;
- on_time_rate (closed_on_time/closed): closed without ever having been overdue;
- overdue (count(overdue)): flagged 超时 at least once;
- supervised (count(supervised)): flagged 督办 by a higher level at least once;
- rework_rate (reworked/closed): closed cases that failed a closing check (返工);
- satisfaction_rate (satisfied_or_basically/rated): latest rating 满意 or 基本满意 (满意率).

Formula versions (`VERSIONS`; GetStats takes one, so that an old report is reproduced
exactly; every figure says which it was computed with):

- "1": the figures above, with 办结 (`closed`) = every closed case.
- "2" (the newest): 办结 = closed and solved by a level (community + street + district, the
  article's 192 = 66 + 68 + 58), so a case explained and then closed counts in `explained`
  only; `voided` and `transferred` on their own lines (final, never closed or rated); and
  - reopened (count(reopened)): reopened at least once after a rating;
  - rework_or_reopen_rate (reworked_or_reopened/closed_ever): cases ever closed that failed
    a closing check or were reopened ÷ cases ever closed (a reopened case counts though it
    is open again; rework_rate alone misses it);
  - reopen_rate (reopened/closed_ever);
  - response_rate (accepted_on_time/dispatched): dispatched cases first accepted before
    the deadline then in force (响应率).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lianxin.routing.v1 import resources_pb2 as res
from services.common.timeutil import aware

S = res
UNDONE = frozenset(
    {
        S.CASE_STATUS_FILED,
        S.CASE_STATUS_DISPATCHED,
        S.CASE_STATUS_IN_PROGRESS,
        S.CASE_STATUS_RESOLVED,
        S.CASE_STATUS_RETURNED,
        S.CASE_STATUS_EXPLAINED,
        S.CASE_STATUS_MERGED,
    }
)


VERSIONS = ("1", "2")
CURRENT = VERSIONS[-1]
LEVEL_DISPOSITIONS = frozenset(
    {S.DISPOSITION_COMMUNITY, S.DISPOSITION_STREET, S.DISPOSITION_DISTRICT}
)


@dataclass(frozen=True)
class Figure:
    id: str
    label: str
    numerator: int
    denominator: int
    formula_id: str
    formula: str
    rate: bool
    version: str = CURRENT

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else 0.0

    def to_proto(self) -> res.Indicator:
        return res.Indicator(
            id=self.id,
            label=self.label,
            numerator=self.numerator,
            denominator=self.denominator,
            value=self.value,
            formula_id=self.formula_id,
            formula=self.formula,
            rate=self.rate,
            formula_version=self.version,
        )


@dataclass
class _Tally:
    received: int = 0
    by_disposition: dict[int, int] | None = None
    explained: int = 0
    voided: int = 0
    transferred: int = 0
    closed: int = 0
    due: int = 0
    on_time: int = 0
    overdue: int = 0
    supervised: int = 0
    reworked: int = 0
    rated: int = 0
    satisfied: int = 0
    reopened: int = 0
    closed_ever: int = 0
    reworked_or_reopened: int = 0
    dispatched: int = 0
    accepted_on_time: int = 0


def compute(
    cases: Iterable[tuple[str, list[Any]]], *, end: datetime, version: str = CURRENT
) -> list[Figure]:
    """The figures of `version` over `cases` ((case id, history rows up to `end`))."""
    t = tally(cases, end=end, version=version)
    return figures(t, version)


def tally(cases: Iterable[tuple[str, list[Any]]], *, end: datetime, version: str) -> _Tally:
    t = _Tally(by_disposition={})
    assert t.by_disposition is not None
    for _case_id, rows in cases:
        t.received += 1
        status = rows[-1].to_status if rows else S.CASE_STATUS_RECEIVED
        deadline = rows[-1].deadline_time if rows else None
        transitions = {r.transition for r in rows}
        closed = status == S.CASE_STATUS_CLOSED
        disposition = 0
        if closed:
            disposition = next(
                (r.disposition for r in reversed(rows) if r.transition == S.TRANSITION_CLOSED), 0
            )
            t.by_disposition[disposition] = t.by_disposition.get(disposition, 0) + 1
            if version == "1" or disposition in LEVEL_DISPOSITIONS:
                t.closed += 1
            else:
                closed = False  # explained, then closed: counted as explained only
        if status == S.CASE_STATUS_EXPLAINED or disposition == S.DISPOSITION_EXPLAINED:
            t.explained += 1
        overdue = S.TRANSITION_OVERDUE in transitions
        t.overdue += overdue
        t.supervised += S.TRANSITION_SUPERVISED in transitions
        if closed:
            t.on_time += not overdue
            t.reworked += S.TRANSITION_REWORKED in transitions
        if closed or (status in UNDONE and deadline is not None and aware(deadline) <= end):
            t.due += 1
        t.voided += status == S.CASE_STATUS_VOIDED
        t.transferred += status == S.CASE_STATUS_TRANSFERRED
        reopened = S.TRANSITION_REOPENED in transitions
        t.reopened += reopened
        if S.TRANSITION_CLOSED in transitions:
            t.closed_ever += 1
            t.reworked_or_reopened += reopened or S.TRANSITION_REWORKED in transitions
        if S.TRANSITION_DISPATCHED in transitions:
            t.dispatched += 1
            first = next((r for r in rows if r.transition == S.TRANSITION_ACCEPTED), None)
            t.accepted_on_time += first is not None and (
                first.deadline_time is None or aware(first.time) <= aware(first.deadline_time)
            )
        rating = next(
            (r.satisfaction for r in reversed(rows) if r.transition == S.TRANSITION_RATED), 0
        )
        if rating:
            t.rated += 1
            t.satisfied += rating in (
                S.SATISFACTION_SATISFIED,
                S.SATISFACTION_BASICALLY_SATISFIED,
            )
    return t


def figures(t: _Tally, version: str) -> list[Figure]:
    def count(id_: str, label: str, n: int, what: str) -> Figure:
        return Figure(id_, label, n, 1, f"count({what})", f"number of cases {what}", False, version)

    def rate(id_: str, label: str, num: int, den: int, formula_id: str, words: str) -> Figure:
        return Figure(id_, label, num, den, formula_id, words, True, version)

    d = t.by_disposition or {}
    v2 = version != "1"
    closed_words = (
        "closed and solved by a level (community + street + district)" if v2 else "closed"
    )
    out = [
        count("received", "收集诉求", t.received, "received"),
        count(
            "handled_by_community",
            "社区办理",
            d.get(S.DISPOSITION_COMMUNITY, 0),
            "closed, community",
        ),
        count("handled_by_street", "街道办理", d.get(S.DISPOSITION_STREET, 0), "closed, street"),
        count(
            "handled_by_district",
            "区级平台办理",
            d.get(S.DISPOSITION_DISTRICT, 0),
            "closed, district",
        ),
        count("explained", "解释说明", t.explained, "explained"),
    ]
    if v2:
        out += [
            count("voided", "无效工单", t.voided, "voided"),
            count("transferred", "转办", t.transferred, "transferred"),
        ]
    out += [
        Figure(
            "closed",
            "办结",
            t.closed,
            1,
            "count(closed)",
            f"number of cases {closed_words}",
            False,
            version,
        ),
        rate(
            "closure_rate",
            "办结率",
            t.closed,
            t.received,
            "closed/received",
            "closed ÷ received (the article's 办结率)",
        ),
        rate(
            "closure_rate_due",
            "结案率（国标）",
            t.closed,
            t.due,
            "closed/due",
            "closed ÷ due, due = closed or past its deadline (GB/T 30428 结案率)",
        ),
        rate(
            "on_time_rate",
            "按时办结率",
            t.on_time,
            t.closed,
            "closed_on_time/closed",
            "closed without ever being overdue ÷ closed",
        ),
        count("overdue", "超时", t.overdue, "overdue"),
        count("supervised", "督办", t.supervised, "supervised"),
        rate(
            "rework_rate",
            "返工率",
            t.reworked,
            t.closed,
            "reworked/closed",
            "closed cases that failed a closing check ÷ closed",
        ),
        rate(
            "satisfaction_rate",
            "满意率",
            t.satisfied,
            t.rated,
            "satisfied_or_basically/rated",
            "latest rating satisfied or basically satisfied ÷ cases rated",
        ),
    ]
    if v2:
        out += [
            count("reopened", "重新办理", t.reopened, "reopened"),
            rate(
                "rework_or_reopen_rate",
                "返工或重办率",
                t.reworked_or_reopened,
                t.closed_ever,
                "reworked_or_reopened/closed_ever",
                "cases ever closed that failed a closing check or were reopened ÷ cases ever "
                "closed",
            ),
            rate(
                "reopen_rate",
                "重办率",
                t.reopened,
                t.closed_ever,
                "reopened/closed_ever",
                "cases reopened after a rating ÷ cases ever closed",
            ),
            rate(
                "response_rate",
                "按时响应率",
                t.accepted_on_time,
                t.dispatched,
                "accepted_on_time/dispatched",
                "dispatched cases first accepted before the deadline then in force ÷ dispatched",
            ),
        ]
    return out
