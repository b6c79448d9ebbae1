"""routing's business metrics: the command centre's numbers. Labels are bounded: level,
transition, rating, and `street` (a street code, the finest place a metric is split by;
"none" before a case is filed).

Counters are counted after the commit of the steps they count (`record_steps`). The open
and overdue cases are gauges read from routing's database at each scrape
(`CaseGauges`), so they are right after a restart and across replicas.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Integer, func, select

from lianxin.routing.v1 import resources_pb2 as res
from services.common.db import Database
from services.routing import store

log = logging.getLogger(__name__)

LEVELS = ["community", "street", "district"]
TRANSITION_NAMES = [
    res.Transition.Name(v).removeprefix("TRANSITION_").lower() for v in res.Transition.values() if v
]
RATINGS = ["satisfied", "basically_satisfied", "unsatisfied"]
OPEN_STATUSES = [
    res.CASE_STATUS_RECEIVED,
    res.CASE_STATUS_FILED,
    res.CASE_STATUS_DISPATCHED,
    res.CASE_STATUS_IN_PROGRESS,
    res.CASE_STATUS_RESOLVED,
    res.CASE_STATUS_RETURNED,
]
# Hours: 时限 are working hours (24 h community, 72 h street, 120 h district by default).
DURATION_BUCKETS = tuple(
    h * 3600.0 for h in (0.001, 0.01, 0.1, 0.25, 0.5, 1, 2, 4, 8, 24, 48, 72, 120, 240, 480)
)

TRANSITIONS = Counter(
    "lianxin_routing_transitions_total",
    "Case workflow steps, by transition and level (the work per level).",
    ["transition", "level"],
)
FILING_FAILURES = Counter(
    "lianxin_routing_filing_failures_total",
    "Cases that could not be filed automatically, by reason.",
    ["reason"],
)
OVERDUE = Counter(
    "lianxin_routing_overdue_total",
    "Deadlines that passed while the case was not resolved (SLA breaches), by street and level.",
    ["street", "level"],
)
ESCALATIONS = Counter(
    "lianxin_routing_escalations_total",
    "Cases escalated (上报), asked or automatic, by street and the level escalated to.",
    ["street", "level"],
)
REMINDERS = Counter(
    "lianxin_routing_reminders_total", "Reminders (催办) before a deadline, by street.", ["street"]
)
SUPERVISIONS = Counter(
    "lianxin_routing_supervisions_total",
    "Cases put under supervision (督办), by street.",
    ["street"],
)
RATINGS_TOTAL = Counter(
    "lianxin_routing_ratings_total", "Follow-up ratings (回访), by rating.", ["rating"]
)
TIME_TO_DISPATCH = Histogram(
    "lianxin_routing_time_to_dispatch_seconds",
    "From a case's arrival to its first dispatch (交办), by the level dispatched to.",
    ["level"],
    buckets=DURATION_BUCKETS,
)
TIME_TO_CLOSE = Histogram(
    "lianxin_routing_time_to_close_seconds",
    "From a case's arrival to its closing (结案), by the level that closed it.",
    ["level"],
    buckets=DURATION_BUCKETS,
)

_RATING_NAMES = {
    res.SATISFACTION_SATISFIED: "satisfied",
    res.SATISFACTION_BASICALLY_SATISFIED: "basically_satisfied",
    res.SATISFACTION_UNSATISFIED: "unsatisfied",
}
_streets: set[str] = set()


def _level(level: int) -> str:
    return res.Level.Name(level).removeprefix("LEVEL_").lower() if level else "none"


def init_known() -> None:
    """Every series whose label values are known exists at 0 from start."""
    for t in TRANSITION_NAMES:
        for level in [*LEVELS, "none"]:
            TRANSITIONS.labels(t, level)
    for reason in ("outside_grids", "no_point"):
        FILING_FAILURES.labels(reason)
    for r in RATINGS:
        RATINGS_TOTAL.labels(r)
    for level in LEVELS:
        TIME_TO_DISPATCH.labels(level)
        TIME_TO_CLOSE.labels(level)
    known_street("none")


def known_street(street: str) -> str:
    """Create a street's series at 0 the first time it is seen; returns the label."""
    street = street or "none"
    if street not in _streets:
        _streets.add(street)
        REMINDERS.labels(street)
        SUPERVISIONS.labels(street)
        for level in LEVELS:
            OVERDUE.labels(street, level)
            ESCALATIONS.labels(street, level)
    return street


def record_steps(steps: Iterable[tuple[int, res.Case]], *, now: datetime) -> None:
    """Count committed steps: each (transition, case after the step)."""
    for transition, case in steps:
        level = _level(case.level)
        street = known_street(case.street_code)
        TRANSITIONS.labels(res.Transition.Name(transition)[11:].lower(), level).inc()
        created = case.create_time.ToDatetime(tzinfo=UTC) if case.HasField("create_time") else None
        if transition == res.TRANSITION_OVERDUE:
            OVERDUE.labels(street, level).inc()
        elif transition == res.TRANSITION_ESCALATED:
            ESCALATIONS.labels(street, level).inc()
        elif transition == res.TRANSITION_REMINDED:
            REMINDERS.labels(street).inc()
        elif transition == res.TRANSITION_SUPERVISED:
            SUPERVISIONS.labels(street).inc()
        elif transition == res.TRANSITION_RATED and case.satisfaction in _RATING_NAMES:
            RATINGS_TOTAL.labels(_RATING_NAMES[case.satisfaction]).inc()
        elif transition == res.TRANSITION_CLOSED and created is not None and level != "none":
            TIME_TO_CLOSE.labels(level).observe(max(0.0, (now - created).total_seconds()))
        elif (
            transition == res.TRANSITION_DISPATCHED
            and created is not None
            and level != "none"
            and case.status == res.CASE_STATUS_DISPATCHED
        ):
            TIME_TO_DISPATCH.labels(level).observe(max(0.0, (now - created).total_seconds()))


class CaseGauges:
    """At each scrape: open, overdue and supervised cases by street and level, counted
    in routing's database (every live routing in this process, summed)."""

    _dbs: ClassVar[weakref.WeakSet[Database]] = weakref.WeakSet()
    _registered = False

    @classmethod
    def watch(cls, db: Database) -> None:
        cls._dbs.add(db)
        if not cls._registered:
            REGISTRY.register(cls())
            cls._registered = True

        def streets(conn: Any) -> list[str]:
            return [r[0] for r in conn.execute(select(store.cases.c.street_code).distinct())]

        try:
            for s in db.run_read_sync(streets):
                known_street(s)
        except Exception:  # a fresh database: nothing to know yet
            log.debug("no streets yet", exc_info=True)

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        c = store.cases.c
        open_ = GaugeMetricFamily(
            "lianxin_routing_open_cases",
            "Cases not closed, explained or merged, by street and level.",
            labels=["street", "level"],
        )
        overdue = GaugeMetricFamily(
            "lianxin_routing_overdue_open_cases",
            "Open cases past their deadline (超时未办结), by street and level.",
            labels=["street", "level"],
        )
        supervised = GaugeMetricFamily(
            "lianxin_routing_supervised_open_cases",
            "Open cases under supervision (督办), by street.",
            labels=["street"],
        )
        totals: dict[tuple[str, str], list[int]] = {
            (s, lv): [0, 0, 0] for s in sorted(_streets) for lv in LEVELS
        }
        query = (
            select(
                c.street_code,
                c.level,
                func.count(),
                func.sum(c.overdue.cast(type_=Integer)),
                func.sum(c.supervised.cast(type_=Integer)),
            )
            .where(c.status.in_(OPEN_STATUSES))
            .group_by(c.street_code, c.level)
        )
        for db in list(self._dbs):
            if db.closed:
                continue
            try:
                rows = db.run_read_sync(lambda conn: conn.execute(query).all())
            except Exception as exc:
                log.warning("open-case gauges: cannot read routing's database: %s", exc)
                continue
            for street, level, n, n_over, n_sup in rows:
                t = totals.setdefault((street or "none", _level(level)), [0, 0, 0])
                t[0] += n
                t[1] += n_over or 0
                t[2] += n_sup or 0
        by_street: dict[str, int] = {}
        for (street, level), (n, n_over, n_sup) in sorted(totals.items()):
            open_.add_metric([street, level], n)
            overdue.add_metric([street, level], n_over)
            by_street[street] = by_street.get(street, 0) + n_sup
        for street, n in sorted(by_street.items()):
            supervised.add_metric([street], n)
        yield open_
        yield overdue
        yield supervised
