"""The workflow's steps against a real, migrated routing database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as res
from services.common.db import Database, migrate
from services.common.errors import FailedPrecondition, NotFound
from services.common.timeutil import utcnow
from services.routing import domain, store
from services.routing.events import new_row
from tests.system import story_submission

# The lifecycle as the issue states it: which status each step may start from.
LEGAL = {
    res.TRANSITION_FILED: {res.CASE_STATUS_RECEIVED},
    res.TRANSITION_FILING_FAILED: {res.CASE_STATUS_RECEIVED},
    res.TRANSITION_DISPATCHED: {res.CASE_STATUS_FILED},
    res.TRANSITION_ACCEPTED: {res.CASE_STATUS_DISPATCHED},
    res.TRANSITION_RESOLVED: {res.CASE_STATUS_IN_PROGRESS},
    res.TRANSITION_CLOSED: {res.CASE_STATUS_RESOLVED},
}
STATUSES = [s for s in res.CaseStatus.values() if s]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'routing.db'}"
    migrate(url, store.MIGRATIONS)
    database = Database(url)
    yield database
    database.close()


def a_case_in(db: Database, status: int, case_id: str = "c-1") -> None:
    """A case as routing stores it when received, then put in `status`."""
    submission = story_submission("wf")
    case = intake_res.Case(id=case_id, category=submission.category, location=submission.location)

    def put(conn: Connection) -> None:
        row = new_row(case, utcnow())
        row["status"] = status
        store.insert_case(conn, row=row)

    db.write_sync(put)


def apply(db: Database, transition: int, case_id: str = "c-1") -> res.Case:
    return db.write_sync(
        lambda conn: domain.step(
            conn,
            case_id=case_id,
            s=domain.Step(transition, "tester", "note"),
            now=utcnow(),
            traceparent=None,
        )
    )


@pytest.mark.parametrize("transition", list(LEGAL))
@pytest.mark.parametrize("status", STATUSES)
def test_a_step_is_allowed_only_from_the_statuses_the_lifecycle_names(
    db: Database, transition: int, status: int
) -> None:
    a_case_in(db, status)
    if status in LEGAL[transition]:
        after = apply(db, transition)
        assert after.version == 1
    else:
        with pytest.raises(FailedPrecondition) as caught:
            apply(db, transition)
        assert caught.value.metadata["current_status"] == domain.status_name(status)


def test_each_step_writes_one_history_row_and_one_outbox_event(db: Database) -> None:
    a_case_in(db, res.CASE_STATUS_RECEIVED)
    for t in (
        res.TRANSITION_FILED,
        res.TRANSITION_DISPATCHED,
        res.TRANSITION_ACCEPTED,
        res.TRANSITION_RESOLVED,
        res.TRANSITION_CLOSED,
    ):
        apply(db, t)

    def counts(conn: Connection) -> tuple[list[int], list[str]]:
        hist = [h.transition for h in store.get_history(conn, case_id="c-1")]
        subjects = list(
            conn.execute(select(store.outbox.c.subject).order_by(store.outbox.c.seq)).scalars()
        )
        return hist, subjects

    hist, subjects = db.write_sync(counts)
    assert hist == [1, 3, 4, 5, 6]
    assert subjects == [
        "lianxin.case.filed",
        "lianxin.case.dispatched",
        "lianxin.case.accepted",
        "lianxin.case.resolved",
        "lianxin.case.closed",
    ]


def test_a_failed_step_leaves_nothing_behind(db: Database) -> None:
    a_case_in(db, res.CASE_STATUS_DISPATCHED)
    with pytest.raises(FailedPrecondition):
        apply(db, res.TRANSITION_CLOSED)
    n = db.write_sync(
        lambda c: c.execute(select(func.count()).select_from(store.outbox)).scalar_one()
    )
    assert n == 0


def test_a_step_on_an_unknown_case_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        apply(db, res.TRANSITION_ACCEPTED, case_id="nope")
