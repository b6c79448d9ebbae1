"""The workflow's steps against a real, migrated routing database: every legal step, a
table of the illegal ones, and what each step writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
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

S = res
CLOCK = {S.CASE_STATUS_DISPATCHED, S.CASE_STATUS_IN_PROGRESS}
SAME = None
NOT_YET_RESOLVED = {
    S.CASE_STATUS_RECEIVED,
    S.CASE_STATUS_FILED,
    S.CASE_STATUS_DISPATCHED,
    S.CASE_STATUS_IN_PROGRESS,
    S.CASE_STATUS_RETURNED,
}

# The lifecycle as the issue states it: step → (statuses it may start from, where it leads;
# None: a flag that leaves the status as it is).
LIFECYCLE: dict[int, tuple[set[int], int | None]] = {
    S.TRANSITION_FILED: ({S.CASE_STATUS_RECEIVED}, S.CASE_STATUS_FILED),
    S.TRANSITION_FILING_FAILED: ({S.CASE_STATUS_RECEIVED}, SAME),
    S.TRANSITION_MERGED: ({S.CASE_STATUS_RECEIVED}, S.CASE_STATUS_MERGED),
    S.TRANSITION_DISPATCHED: ({S.CASE_STATUS_FILED}, S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_ACCEPTED: ({S.CASE_STATUS_DISPATCHED}, S.CASE_STATUS_IN_PROGRESS),
    S.TRANSITION_RESOLVED: ({S.CASE_STATUS_IN_PROGRESS}, S.CASE_STATUS_RESOLVED),
    S.TRANSITION_CLOSED: (
        {S.CASE_STATUS_RESOLVED, S.CASE_STATUS_EXPLAINED},
        S.CASE_STATUS_CLOSED,
    ),
    S.TRANSITION_RETURNED: (CLOCK, S.CASE_STATUS_RETURNED),
    S.TRANSITION_REDISPATCHED: ({S.CASE_STATUS_RETURNED}, S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_ESCALATED: (CLOCK, S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_EXTENSION_REQUESTED: (CLOCK, SAME),
    S.TRANSITION_EXTENSION_APPROVED: (CLOCK, SAME),
    S.TRANSITION_EXTENSION_REFUSED: (CLOCK, SAME),
    S.TRANSITION_EXPLAINED: (CLOCK, S.CASE_STATUS_EXPLAINED),
    S.TRANSITION_REWORKED: (
        {S.CASE_STATUS_RESOLVED, S.CASE_STATUS_EXPLAINED},
        S.CASE_STATUS_IN_PROGRESS,
    ),
    S.TRANSITION_RATED: ({S.CASE_STATUS_CLOSED}, SAME),
    S.TRANSITION_REOPENED: ({S.CASE_STATUS_CLOSED}, S.CASE_STATUS_DISPATCHED),
    S.TRANSITION_REMINDED: (CLOCK, SAME),
    S.TRANSITION_OVERDUE: (CLOCK, SAME),
    S.TRANSITION_SUPERVISED: (CLOCK, SAME),
    # 无效工单 / 转办: final, from any status before the case was reported solved.
    S.TRANSITION_VOIDED: (NOT_YET_RESOLVED, S.CASE_STATUS_VOIDED),
    S.TRANSITION_TRANSFERRED: (NOT_YET_RESOLVED, S.CASE_STATUS_TRANSFERRED),
}
STATUSES = [s for s in res.CaseStatus.values() if s]
PAIRS = [(t, s) for t in LIFECYCLE for s in STATUSES]
LEGAL = [(t, s) for t, s in PAIRS if s in LIFECYCLE[t][0]]
ILLEGAL = [(t, s) for t, s in PAIRS if s not in LIFECYCLE[t][0]]


def name(pair: tuple[int, int]) -> str:
    t, s = pair
    return f"{domain.transition_name(t)}-from-{domain.status_name(s).lower()}"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "routing.db"
    migrate(f"sqlite:///{path}", store.MIGRATIONS)
    return path


@pytest.fixture
def db(tmp_path: Path, migrated: Path) -> Iterator[Database]:
    path = tmp_path / "routing.db"
    shutil.copyfile(migrated, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.close()


def a_case_in(db: Database, status: int, case_id: str = "c-1", **values: object) -> None:
    """A case as routing stores it when received, then put in `status`."""
    submission = story_submission("wf")
    case = intake_res.Case(id=case_id, category=submission.category, location=submission.location)

    def put(conn: Connection) -> None:
        row = new_row(case, utcnow())
        row.update(status=status, **values)
        store.insert_case(conn, row=row)

    db.write_sync(put)


def apply(db: Database, transition: int, case_id: str = "c-1", **changes: object) -> res.Case:
    return db.write_sync(
        lambda conn: domain.step(
            conn,
            case_id=case_id,
            s=domain.Step(transition, "tester", "note", dict(changes)),
            now=utcnow(),
            traceparent=None,
        )
    )


def written(db: Database) -> tuple[list[int], list[str]]:
    def read(conn: Connection) -> tuple[list[int], list[str]]:
        hist = [h.transition for h in store.get_history(conn, case_id="c-1")]
        subjects = list(
            conn.execute(select(store.outbox.c.subject).order_by(store.outbox.c.seq)).scalars()
        )
        return hist, subjects

    return db.write_sync(read)


def test_the_lifecycle_covers_every_transition_of_the_contract() -> None:
    assert set(LIFECYCLE) == {t for t in res.Transition.values() if t}
    assert {
        t: (set(a), None if to == domain.SAME else to) for t, (a, to) in domain.STEPS.items()
    } == {t: (a, to) for t, (a, to) in LIFECYCLE.items()}


@pytest.mark.parametrize(("transition", "status"), LEGAL, ids=[name(p) for p in LEGAL])
def test_every_legal_step_writes_one_history_row_and_one_event(
    db: Database, transition: int, status: int
) -> None:
    a_case_in(db, status)
    after = apply(db, transition)
    leads_to = LIFECYCLE[transition][1]
    assert after.status == (status if leads_to is None else leads_to)
    assert after.version == 1
    hist, subjects = written(db)
    assert hist == [transition]
    assert subjects == [f"lianxin.case.{domain.transition_name(transition)}"]


@pytest.mark.parametrize(("transition", "status"), ILLEGAL, ids=[name(p) for p in ILLEGAL])
def test_an_illegal_step_names_the_current_and_the_allowed_statuses_and_writes_nothing(
    db: Database, transition: int, status: int
) -> None:
    a_case_in(db, status)
    with pytest.raises(FailedPrecondition) as caught:
        apply(db, transition)
    allowed = sorted(LIFECYCLE[transition][0])
    assert caught.value.reason == "ILLEGAL_TRANSITION"
    assert caught.value.metadata["current_status"] == domain.status_name(status)
    assert caught.value.metadata["allowed_statuses"] == ", ".join(
        domain.status_name(a) for a in allowed
    )
    assert f"is {domain.status_name(status)};" in caught.value.message
    assert written(db) == ([], [])


def test_the_story_path_writes_its_steps_in_order(db: Database) -> None:
    a_case_in(db, S.CASE_STATUS_RECEIVED)
    for t in (
        S.TRANSITION_FILED,
        S.TRANSITION_DISPATCHED,
        S.TRANSITION_ACCEPTED,
        S.TRANSITION_RESOLVED,
        S.TRANSITION_CLOSED,
    ):
        apply(db, t)
    hist, subjects = written(db)
    assert hist == [1, 3, 4, 5, 6]
    assert subjects == [
        "lianxin.case.filed",
        "lianxin.case.dispatched",
        "lianxin.case.accepted",
        "lianxin.case.resolved",
        "lianxin.case.closed",
    ]


def test_a_step_on_an_unknown_case_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        apply(db, S.TRANSITION_ACCEPTED, case_id="nope")


def test_a_clock_runs_only_while_the_case_is_dispatched_or_in_progress(db: Database) -> None:
    now = utcnow()
    clock = {
        "deadline_time": now + timedelta(hours=4),
        "reminder_at": now + timedelta(hours=3),
        "escalate_at": now + timedelta(hours=4),
    }
    a_case_in(db, S.CASE_STATUS_FILED)
    apply(db, S.TRANSITION_DISPATCHED, **clock)

    def due(conn: Connection) -> object:
        return store.get_case(conn, case_id="c-1").next_due_at

    assert db.write_sync(due) is not None
    apply(db, S.TRANSITION_REMINDED, reminded=True)
    apply(db, S.TRANSITION_ACCEPTED)
    assert db.write_sync(due) is not None
    apply(db, S.TRANSITION_RESOLVED)
    assert db.write_sync(due) is None
    apply(db, S.TRANSITION_REWORKED)
    assert db.write_sync(due) is not None


def test_a_merged_case_follows_its_master_and_refuses_steps_of_its_own(db: Database) -> None:
    a_case_in(db, S.CASE_STATUS_IN_PROGRESS, case_id="master", assigned_unit_code="370402003001")
    a_case_in(db, S.CASE_STATUS_MERGED, case_id="c-1", merged_into="master")
    apply(db, S.TRANSITION_RESOLVED, case_id="master", result="已修复")

    def follower(conn: Connection) -> tuple[object, list[int], int]:
        row = store.get_case(conn, case_id="c-1")
        hist = [h.transition for h in store.get_history(conn, case_id="c-1")]
        events = conn.execute(select(func.count()).select_from(store.outbox)).scalar_one()
        return row, hist, events

    row, hist, events = db.write_sync(follower)
    assert (row.status, row.result, row.assigned_unit_code) == (  # type: ignore[attr-defined]
        S.CASE_STATUS_RESOLVED,
        "已修复",
        "370402003001",
    )
    assert hist == [S.TRANSITION_RESOLVED]
    assert events == 2  # the master's case.resolved and the follower's
    with pytest.raises(FailedPrecondition) as caught:
        apply(db, S.TRANSITION_CLOSED, case_id="c-1")
    assert caught.value.reason == "CASE_MERGED"
