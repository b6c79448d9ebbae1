"""notify writes what arrives together with one statement per table, on SQLite and
PostgreSQL: the deliveries of many events, and the outcomes of many sends — with the same
results as one at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.db import Database
from services.common.policy import load_policy
from services.notify import audiences, domain, store, texts
from services.notify.sender import Sender
from tests.conftest import eventually
from tests.dbtools import statements

FILE = res.DELIVERY_CHANNEL_FILE
PUSH = res.DELIVERY_CHANNEL_APP_PUSH


def planned(n: int, now: datetime, first: int = 0) -> list[store.Planned]:
    """`n` case events (numbered from `first`), each for two staff (two deliveries)."""
    out = []
    for i in range(first, first + n):
        case_id = f"019ac9a1-0000-7000-8000-{i:012x}"
        rows = domain.plan(
            event_id=f"e{i}",
            event_type="case.dispatched",
            case_id=case_id,
            recipients=[
                audiences.Recipient(
                    audiences.STAFF, f"s{i}a", "韩丽源", "13905381111", audiences.UNIT
                ),
                audiences.Recipient(
                    audiences.STAFF, f"s{i}b", "王小东", "13905382222", audiences.GRID
                ),
            ],
            values=texts.fields(
                routing_res.Case(id=case_id, category="household_electrical"), None, load_policy()
            ),
            available={FILE, PUSH},
            now=now,
        )
        out.append(store.Planned(rows=rows, case_id=case_id, closed=None, time=now))
    return out


class Instant:
    name = "file"

    async def send(self, delivery: audiences.Outgoing) -> None:
        return None


async def test_many_events_deliveries_and_many_outcomes_take_one_statement_per_table(
    db: Database,
) -> None:
    now = datetime.now(UTC)
    events = planned(10, now)
    with statements() as seen:
        await db.write(lambda c: store.write_planned(c, events))
    assert seen["INSERT deliveries"] == 1, seen
    rows = await db.read(
        lambda c: list(c.execute(select(store.deliveries).order_by(store.deliveries.c.id)))
    )
    assert len(rows) == 20 and {r.status for r in rows} == {res.DELIVERY_STATUS_PENDING}
    # The same events again (a redelivery past the inbox): nothing new, nothing changed.
    await db.write(lambda c: store.write_planned(c, events))
    assert await db.read(lambda c: len(list(c.execute(select(store.deliveries.c.id))))) == 20

    sender = Sender(db=db, channels={FILE: Instant(), PUSH: Instant()})
    # One delivery was sent before (by another replica whose lease ran out, say), one has
    # an earlier failed attempt, one fails now.
    done_before, failed_before, failing = rows[0], rows[1], rows[2]
    await db.write(lambda c: store.mark_sent(c, delivery_id=done_before.id, now=now))
    await db.write(
        lambda c: store.mark_failed(
            c,
            delivery_id=failed_before.id,
            error="ConnectionError: down",
            next_attempt_at=now,
            dead=False,
            now=now,
        )
    )
    again = {r.id: r for r in await db.read(lambda c: list(c.execute(select(store.deliveries))))}
    outcomes: list[tuple[Any, str | None, bool]] = [
        (again[r.id], "ConnectionError: down" if r.id == failing.id else None, False) for r in rows
    ]
    with statements() as seen:
        results = await db.write(lambda c: sender._record_outcomes(c, outcomes))
    assert seen["UPDATE deliveries"] == 2, seen  # the 19 sent, then the one failure
    assert seen["INSERT delivery_attempts"] == 2, seen
    assert seen["SELECT delivery_attempts"] == 2, seen
    assert results[0] == (res.DELIVERY_STATUS_SENT, False)  # had moved on: left alone
    assert results[2] == (res.DELIVERY_STATUS_FAILED, True)
    assert all(
        r == (res.DELIVERY_STATUS_SENT, True) for i, r in enumerate(results) if i not in (0, 2)
    )

    after = {r.id: r for r in await db.read(lambda c: list(c.execute(select(store.deliveries))))}
    assert after[done_before.id].attempts == 1  # not counted twice
    assert after[failing.id].status == res.DELIVERY_STATUS_FAILED
    assert sum(r.status == res.DELIVERY_STATUS_SENT for r in after.values()) == 19
    # Attempt numbers go on from each delivery's last one.
    numbers = await db.read(
        lambda c: {
            i: [(a.number, a.outcome) for a in store.get_attempts(c, delivery_id=i)]
            for i in (done_before.id, failed_before.id, failing.id, rows[5].id)
        }
    )
    assert numbers == {
        done_before.id: [(1, res.DELIVERY_STATUS_SENT)],
        failed_before.id: [(1, res.DELIVERY_STATUS_FAILED), (2, res.DELIVERY_STATUS_SENT)],
        failing.id: [(1, res.DELIVERY_STATUS_FAILED)],
        rows[5].id: [(1, res.DELIVERY_STATUS_SENT)],
    }
    # One at a time gives the same answers (what the writer falls back to when a group
    # fails): a delivery already sent stays as it was.
    assert await db.write(lambda c: sender._record_outcomes(c, outcomes[:1])) == [
        (res.DELIVERY_STATUS_SENT, False)
    ]


async def test_the_sender_records_a_round_of_sends_in_few_statements(db: Database) -> None:
    now = datetime.now(UTC)
    await db.write(lambda c: store.write_planned(c, planned(16, now)))
    sender = Sender(db=db, channels={FILE: Instant(), PUSH: Instant()}, concurrency=32, batch=32)
    with statements() as seen:
        assert await sender.send_due() == 32
    sent = await db.read(
        lambda c: list(
            c.execute(
                select(store.deliveries.c.id).where(
                    store.deliveries.c.status == res.DELIVERY_STATUS_SENT
                )
            )
        )
    )
    assert len(sent) == 32
    # One claim; the outcomes of 32 sends that finish together share a few statements
    # (how many depends on how the sends interleave with the writer; one each was 32).
    assert seen["UPDATE deliveries"] <= 1 + 8, seen
    assert seen["INSERT delivery_attempts"] <= 8, seen


class Gate:
    """A channel that holds the sends to one recipient until released."""

    name = "app_push"

    def __init__(self, slow: str) -> None:
        self.slow = slow
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, delivery: domain.Outgoing) -> None:
        if delivery.recipient.id == self.slow:
            self.started.set()
            await self.release.wait()
        self.sent.append(delivery.recipient.id)


async def test_a_slow_receiver_holds_only_its_own_slot(db: Database) -> None:
    """While one send hangs (a receiver that takes its time to answer), what becomes due
    afterwards is sent; the sender stops only after the hanging send is recorded."""
    now = datetime.now(UTC)
    gate = Gate(slow="s0a")
    sender = Sender(db=db, channels={FILE: gate, PUSH: gate}, concurrency=4, poll_seconds=0.2)
    await db.write(lambda c: store.write_planned(c, planned(1, now)))
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    await asyncio.wait_for(gate.started.wait(), timeout=10)
    await db.write(lambda c: store.write_planned(c, planned(5, now, first=1)))
    sender.kick()
    later = {f"s{i}{x}" for i in range(1, 6) for x in "ab"}

    async def later_sent() -> bool:
        return later <= set(gate.sent)

    await eventually(later_sent, timeout=20)  # (the old sender waited for the slow one)
    assert "s0a" not in gate.sent
    stop.set()
    gate.release.set()
    await asyncio.wait_for(running, timeout=10)
    rows = await db.read(lambda c: list(c.execute(select(store.deliveries))))
    assert {r.recipient_id: r.status for r in rows}["s0a"] == res.DELIVERY_STATUS_SENT
    assert all(r.status == res.DELIVERY_STATUS_SENT for r in rows)
