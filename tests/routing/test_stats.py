"""GetStats' figures from history rows: each with numerator, denominator and formula."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from lianxin.routing.v1 import resources_pb2 as res
from services.routing import stats

S = res
END = datetime(2014, 11, 30, tzinfo=UTC)
PAST = END - timedelta(days=2)
LATER = END + timedelta(days=2)


def row(transition: int, to_status: int, **kw: Any) -> SimpleNamespace:
    values = {"disposition": 0, "satisfaction": 0, "deadline_time": LATER}
    values.update(kw)
    return SimpleNamespace(transition=transition, to_status=to_status, **values)


def dispatched(deadline: datetime = LATER) -> list[SimpleNamespace]:
    return [
        row(S.TRANSITION_FILED, S.CASE_STATUS_FILED, deadline_time=None),
        row(S.TRANSITION_DISPATCHED, S.CASE_STATUS_DISPATCHED, deadline_time=deadline),
    ]


def closed(disposition: int, *extra: SimpleNamespace) -> list[SimpleNamespace]:
    return [
        *dispatched(),
        row(S.TRANSITION_RESOLVED, S.CASE_STATUS_RESOLVED),
        *extra,
        row(S.TRANSITION_CLOSED, S.CASE_STATUS_CLOSED, disposition=disposition),
    ]


def rated(satisfaction: int) -> SimpleNamespace:
    return row(S.TRANSITION_RATED, S.CASE_STATUS_CLOSED, satisfaction=satisfaction)


def figures(cases: list[list[SimpleNamespace]]) -> dict[str, tuple[int, int]]:
    out = stats.compute([(f"c{i}", rows) for i, rows in enumerate(cases)], end=END)
    return {f.id: (f.numerator, f.denominator) for f in out}


def test_each_figure_is_counted_from_the_history_as_its_formula_says() -> None:
    got = figures(
        [
            [*closed(S.DISPOSITION_COMMUNITY), rated(S.SATISFACTION_SATISFIED)],
            [
                *closed(
                    S.DISPOSITION_STREET,
                    row(S.TRANSITION_REWORKED, S.CASE_STATUS_IN_PROGRESS),
                    row(S.TRANSITION_RESOLVED, S.CASE_STATUS_RESOLVED),
                ),
                rated(S.SATISFACTION_UNSATISFIED),
            ],
            [
                *closed(S.DISPOSITION_DISTRICT, row(S.TRANSITION_OVERDUE, S.CASE_STATUS_RESOLVED)),
                rated(S.SATISFACTION_UNSATISFIED),
                rated(S.SATISFACTION_BASICALLY_SATISFIED),
            ],
            [*dispatched(), row(S.TRANSITION_EXPLAINED, S.CASE_STATUS_EXPLAINED)],
            [
                *dispatched(deadline=PAST),
                row(S.TRANSITION_SUPERVISED, S.CASE_STATUS_DISPATCHED, deadline_time=PAST),
            ],  # supervised, and past even its new deadline: due, not closed
            dispatched(),  # open, not yet due
            [row(S.TRANSITION_FILING_FAILED, S.CASE_STATUS_RECEIVED, deadline_time=None)],
        ]
    )
    assert got["received"] == (7, 1)
    assert got["handled_by_community"] == (1, 1)
    assert got["handled_by_street"] == (1, 1)
    assert got["handled_by_district"] == (1, 1)
    assert got["explained"] == (1, 1)
    assert got["closed"] == (3, 1)
    assert got["closure_rate"] == (3, 7)
    assert got["closure_rate_due"] == (3, 4)
    assert got["on_time_rate"] == (2, 3)
    assert got["overdue"] == (1, 1)
    assert got["supervised"] == (1, 1)
    assert got["rework_rate"] == (1, 3)
    assert got["satisfaction_rate"] == (2, 3)  # the latest rating of each case counts


def test_a_rate_with_nothing_to_divide_is_zero_not_an_error() -> None:
    out = {f.id: f for f in stats.compute([], end=END)}
    assert out["closure_rate"].value == 0.0
    assert out["closure_rate"].denominator == 0
    assert out["closure_rate"].formula_id == "closed/received"
    assert out["satisfaction_rate"].to_proto().rate


def accepted(at: datetime, deadline: datetime) -> SimpleNamespace:
    return row(S.TRANSITION_ACCEPTED, S.CASE_STATUS_IN_PROGRESS, time=at, deadline_time=deadline)


def test_reopens_count_and_an_explained_then_closed_case_is_no_longer_in_closed() -> None:
    reopened_case = [
        *closed(S.DISPOSITION_COMMUNITY),
        rated(S.SATISFACTION_UNSATISFIED),
        row(S.TRANSITION_REOPENED, S.CASE_STATUS_DISPATCHED),
    ]  # reopened after an unsatisfied rating: open again
    reworked_case = closed(
        S.DISPOSITION_STREET,
        row(S.TRANSITION_REWORKED, S.CASE_STATUS_IN_PROGRESS),
        row(S.TRANSITION_RESOLVED, S.CASE_STATUS_RESOLVED),
    )
    explained_closed = [
        *dispatched(),
        row(S.TRANSITION_EXPLAINED, S.CASE_STATUS_EXPLAINED),
        row(S.TRANSITION_CLOSED, S.CASE_STATUS_CLOSED, disposition=S.DISPOSITION_EXPLAINED),
    ]
    plain = closed(S.DISPOSITION_DISTRICT)
    cases = [reopened_case, reworked_case, explained_closed, plain]
    now = figures(cases)
    assert now["reopened"] == (1, 1)
    assert now["closed"] == (2, 1)  # street + district: 办结 = the levels' sum
    assert now["closed"][0] == sum(
        now[k][0] for k in ("handled_by_community", "handled_by_street", "handled_by_district")
    )
    assert now["explained"] == (1, 1)
    assert now["rework_rate"] == (1, 2)  # misses the reopened case …
    assert now["rework_or_reopen_rate"] == (2, 4)  # … which this one counts
    assert now["reopen_rate"] == (1, 4)

    old = {
        f.id: (f.numerator, f.denominator, f.version)
        for f in stats.compute([(f"c{i}", r) for i, r in enumerate(cases)], end=END, version="1")
    }
    assert old["closed"] == (3, 1, "1")  # as reports computed before version 2 said
    assert "reopened" not in old and "voided" not in old


def test_response_counts_the_first_acceptance_before_its_deadline() -> None:
    on_time = [*dispatched(), accepted(PAST, END)]
    late = [*dispatched(), accepted(END, PAST)]
    never = dispatched()
    got = figures([on_time, late, never])
    assert got["response_rate"] == (1, 3)
