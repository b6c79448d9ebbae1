"""Filing a received case writes its row, its history and its events once each, without
reading back what it wrote — and leaves exactly what inserting it and stepping it one step
at a time leaves (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Connection, select

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.routing.v1 import resources_pb2 as res
from services.common.db import Database
from services.common.policy import load_policy
from services.routing import domain, store
from services.routing.clock import FakeClock
from services.routing.events import Filer, Filing, new_row
from tests.dbtools import migrated, statements

NOW = datetime(2014, 11, 5, 9, 30, tzinfo=UTC)
A = "019ac9a1-0000-7000-8000-00000000000a"
B = "019ac9a1-0000-7000-8000-00000000000b"


@pytest.fixture
def db(tmp_path: Path, service_database_url: str) -> Iterator[Database]:
    url = service_database_url or f"sqlite:///{tmp_path / 'routing.db'}"
    with migrated(url, store.MIGRATIONS) as database:
        yield database


def received(case_id: str) -> intake_res.Case:
    case = intake_res.Case(
        id=case_id,
        channel=intake_res.CHANNEL_MAYOR_HOTLINE,
        category="street_light",
        description="路灯不亮",
    )
    case.location.point.latitude, case.location.point.longitude = 34.8632, 117.5563
    return case


def first_steps() -> list[domain.Step]:
    sla = domain.Sla(load_policy())
    target = domain.Target(
        res.LEVEL_STREET, "370402003", "光明路街道", (("370402", "区城管局"),), "staff-1"
    )
    place = {"grid_code": "370402003001001", "community_code": "370402003001"}
    return [
        domain.Step(res.TRANSITION_FILED, "system", "located", {**place}),
        domain.Step(
            res.TRANSITION_DISPATCHED,
            "system",
            "交办 光明路街道",
            sla.dispatch(now=NOW, target=target, category="street_light"),
            assisting=list(target.assisting),
        ),
    ]


def one_by_one(conn: Connection, case_id: str) -> None:
    store.insert_case(conn, row=new_row(received(case_id), NOW))
    for s in first_steps():
        domain.step(conn, case_id=case_id, s=s, now=NOW, traceparent=None)


def what_is_left(conn: Connection, case_id: str) -> dict[str, Any]:
    """The case's rows and events, without what names the case or the event."""
    case = conn.execute(select(store.cases).where(store.cases.c.id == case_id)).one()._asdict()
    history = [
        {k: v for k, v in r._asdict().items() if k not in ("case_id", "id")}
        for r in conn.execute(
            select(store.history)
            .where(store.history.c.case_id == case_id)
            .order_by(store.history.c.sequence)
        )
    ]
    helpers = sorted(
        (r.unit_code, r.unit_name)
        for r in conn.execute(select(store.assisting).where(store.assisting.c.case_id == case_id))
    )
    events = []
    for payload in conn.execute(
        select(store.outbox.c.payload).order_by(store.outbox.c.seq)
    ).scalars():
        e = event_pb2.Event.FromString(payload)
        if e.case_id == case_id:
            e.ClearField("id")
            e.ClearField("time")
            e.case_id = ""
            e.case_transitioned.case.id = ""
            events.append(e.SerializeToString(deterministic=True))
    return {"case": {**case, "id": ""}, "history": history, "assisting": helpers, "events": events}


async def test_a_filed_case_is_written_once_and_leaves_what_step_by_step_leaves(
    db: Database,
) -> None:
    with statements() as seen:
        out = await db.write(
            lambda c: domain.file_new(
                c, row=new_row(received(A), NOW), steps=first_steps(), now=NOW, traceparent=None
            )
        )
    assert [t for t, _ in out] == [res.TRANSITION_FILED, res.TRANSITION_DISPATCHED]
    assert out[-1][1].status == res.CASE_STATUS_DISPATCHED
    assert out[-1][1].assisting_unit_codes == ["370402"]
    assert seen["INSERT cases"] == 1 and seen["INSERT history"] == 1, seen
    assert seen["INSERT outbox"] == 1, seen
    assert not seen["SELECT cases"] and not seen["UPDATE cases"], seen  # nothing read back

    await db.write(lambda c: one_by_one(c, B))
    a = await db.read(lambda c: what_is_left(c, A))
    b = await db.read(lambda c: what_is_left(c, B))
    assert a["case"]["status"] == res.CASE_STATUS_DISPATCHED and a["case"]["version"] == 2
    assert a["case"]["next_due_at"] is not None
    assert len(a["history"]) == 2 and len(a["events"]) == 2
    assert a == b


async def test_a_step_a_new_case_cannot_take_is_refused_before_anything_is_written(
    db: Database,
) -> None:
    wrong = [domain.Step(res.TRANSITION_RESOLVED, "system", "done")]
    with pytest.raises(domain.FailedPrecondition, match="RECEIVED"):
        await db.write(
            lambda c: domain.file_new(
                c, row=new_row(received(A), NOW), steps=wrong, now=NOW, traceparent=None
            )
        )
    assert await db.read(lambda c: store.get_case(c, case_id=A)) is None


def place(n: int) -> SimpleNamespace:
    def unit(code: str, name: str) -> SimpleNamespace:
        return SimpleNamespace(code=code, name=name)

    return SimpleNamespace(
        grid=unit(f"370402003001{n:03d}", f"网格{n}"),
        community=unit("370402003001", "辛庄社区"),
        street=unit("370402003", "光明路街道"),
        district=unit("370402", "市中区"),
    )


def filing(case_id: str, metres_north: float, *, located: bool = True) -> Filing:
    case = received(case_id)
    case.location.point.latitude += metres_north / 111_320.0
    point = (case.location.point.latitude, case.location.point.longitude)
    return Filing(
        case=case,
        located=place(1) if located else None,
        error="" if located else "outside every grid",
        candidates=[],
        point=point,
        target=domain.Target(res.LEVEL_COMMUNITY, "370402003001", "辛庄社区") if located else None,
        district=SimpleNamespace(code="370402", name="市中区"),
        traceparent=None,
        now=NOW,
    )


async def test_a_fetched_batch_is_filed_with_one_statement_per_table_and_merges_within_itself(
    db: Database,
) -> None:
    filer = Filer(policy=load_policy(), directory=None, clock=FakeClock(NOW))  # type: ignore[arg-type]
    ids = [f"019ac9a1-0000-7000-8000-0000000001{i:02d}" for i in range(6)]
    batch = [
        filing(ids[0], 0),
        filing(ids[1], 20),  # 20 m from the first, same kind: merged into it
        filing(ids[2], 500),  # far enough: a case of its own
        filing(ids[0], 0),  # the first announced again under another event id
        filing(ids[3], 0, located=False),  # outside every grid: waits to be located
        filing(ids[4], 520),  # 20 m from the third: merged into it
    ]
    with statements() as seen:
        await db.write(lambda c: filer._file_all(c, batch))
    assert [f.outcome for f in batch] == [
        "dispatched",
        "merged",
        "dispatched",
        "",
        "failed",
        "merged",
    ]
    assert seen["INSERT cases"] == 1 and seen["INSERT history"] == 1, seen
    assert seen["INSERT outbox"] == 1 and not seen["UPDATE cases"], seen

    def rows(c: Connection) -> dict[str, Any]:
        return {r.id: r for r in c.execute(select(store.cases))}

    stored = await db.read(rows)
    assert set(stored) == set(ids[:5])
    assert stored[ids[1]].merged_into == ids[0] and stored[ids[4]].merged_into == ids[2]
    assert stored[ids[1]].assigned_unit_code == stored[ids[0]].assigned_unit_code
    assert stored[ids[3]].status == res.CASE_STATUS_RECEIVED and stored[ids[3]].filing_error
    assert batch[1].steps[0][1].merged_into_case_id == ids[0]

    # A later batch finds the stored cases as it found the pending ones.
    later = [filing(ids[5], 10)]
    await db.write(lambda c: filer._file_all(c, later))
    assert later[0].outcome == "merged"
    assert (await db.read(rows))[ids[5]].merged_into == ids[0]
