"""notify's rules and tables on a real SQLite database: rendering, planning, masking, the
once-per-recipient constraint, the sender and the file sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus
from services.common.bus import RetryLater
from services.common.db import Database, migrate
from services.common.policy import load_policy
from services.notify import domain, store, templates
from services.notify.channels import FileSink, Sender
from services.notify.events import CONSUMER, Notifier

CASE_ID = "019ac9a1-0000-7000-8000-00000a1b2c3d"
FILE = res.DELIVERY_CHANNEL_FILE


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'notify.db'}"
    migrate(url, store.MIGRATIONS)
    database = Database(url)
    yield database
    database.close()


def received_case() -> intake_res.Case:
    return intake_res.Case(
        id=CASE_ID,
        channel=intake_res.CHANNEL_MAYOR_HOTLINE,
        external_ref="12345-20141105-0042",
        reporter=intake_res.Reporter(name="张胜起", phone="13805381234"),
        location=intake_res.Location(address="辛庄社区3号楼2单元"),
        category="household_electrical",
        description="家里突然断电",
    )


def routing_case(**kw: object) -> routing_res.Case:
    c = routing_res.Case(
        id=CASE_ID,
        category="household_electrical",
        grid_code="370402003001001",
        assigned_unit_code="370402003001",
        **kw,  # type: ignore[arg-type]
    )
    c.deadline_time.FromDatetime(datetime(2014, 11, 5, 7, 30, tzinfo=UTC))
    return c


def reporter(now: datetime | None = None) -> Any:
    return SimpleNamespace(**domain.reporter_row(received_case(), now or datetime.now(UTC)))


def test_dispatched_text_names_case_category_address_and_local_deadline() -> None:
    values = domain.fields(routing_case(), reporter(), load_policy())
    text = templates.render("case.dispatched", domain.STAFF, values)
    assert text == (
        "【连心网】新案件0a1b2c3d：家庭电路故障，辛庄社区3号楼2单元，请于11月5日15:30前处理。"
    )


def test_closed_texts_fall_back_when_fields_are_missing() -> None:
    values = domain.fields(routing_res.Case(id=CASE_ID, category="nope"), None, load_policy())
    assert templates.render("case.closed", domain.CITIZEN, values) == (
        "【连心网】您反映的问题已办结：已按要求处理。如有意见请回复。"
    )
    assert "地址见案件详情" in templates.render("case.closed", domain.STAFF, values)
    with pytest.raises(templates.MissingTemplate):
        templates.render("case.filed", domain.STAFF, values)


def test_a_result_that_ends_its_own_sentence_is_not_stopped_twice() -> None:
    values = domain.fields(routing_case(result="灯已不闪。"), reporter(), load_policy())
    assert templates.render("case.closed", domain.CITIZEN, values) == (
        "【连心网】您反映的问题已办结：灯已不闪。如有意见请回复。"
    )


def test_recipients_and_channels() -> None:
    r = reporter()
    citizen = domain.citizen(r)
    hotline = domain.hotline(r)
    assert citizen == domain.Recipient("citizen", CASE_ID, "张胜起", "13805381234")
    assert citizen.masked_address == "138****1234"
    assert hotline == domain.Recipient("hotline", "mayor_hotline", "12345市长热线", "mayor_hotline")
    assert hotline.masked_address == "mayor_hotline"
    app = SimpleNamespace(**{**vars(r), "channel": intake_res.CHANNEL_GRID_APP, "phone": ""})
    assert domain.citizen(app) is None and domain.hotline(app) is None
    assert domain.pick_channel("staff", {FILE}) == FILE
    assert domain.pick_channel("staff", {FILE, res.DELIVERY_CHANNEL_SMS}) == (
        res.DELIVERY_CHANNEL_SMS
    )
    assert domain.pick_channel("citizen", set()) is None
    assert domain.channel_value("file") == FILE and domain.channel_label(FILE) == "file"


def test_plan_renders_once_per_recipient() -> None:
    staff = domain.Recipient("staff", "staff-hanliyuan", "韩丽源", "13905381111")
    rows = domain.plan(
        event_id="e1",
        event_type="case.closed",
        case_id=CASE_ID,
        recipients=[staff, staff, domain.citizen(reporter())],  # type: ignore[list-item]
        values=domain.fields(routing_case(result="已更换空气开关"), reporter(), load_policy()),
        available={FILE},
        now=datetime.now(UTC),
    )
    assert [(r["recipient_kind"], r["recipient_id"]) for r in rows] == [
        ("staff", "staff-hanliyuan"),
        ("citizen", CASE_ID),
    ]
    assert rows[1]["body"] == "【连心网】您反映的问题已办结：已更换空气开关。如有意见请回复。"
    assert {r["event_type"] for r in rows} == {"case.closed"}
    assert {r["template_version"] for r in rows} == {templates.TEMPLATE_VERSION}
    assert {r["status"] for r in rows} == {res.DELIVERY_STATUS_PENDING}


async def test_store_keeps_one_delivery_per_event_recipient_channel(db: Database) -> None:
    now = datetime.now(UTC)
    staff = domain.Recipient("staff", "staff-hanliyuan", "韩丽源", "13905381111")

    def plan() -> list[dict[str, Any]]:
        return domain.plan(
            event_id="e1",
            event_type="case.dispatched",
            case_id=CASE_ID,
            recipients=[staff],
            values=domain.fields(routing_case(), None, load_policy()),
            available={FILE},
            now=now,
        )

    first = await db.write(lambda c: store.insert_deliveries(c, rows=plan()))
    again = await db.write(lambda c: store.insert_deliveries(c, rows=plan()))
    assert len(first) == 1 and again == []
    rows = await db.read(
        lambda c: store.list_deliveries(c, case_id=CASE_ID, status=0, after_id="", limit=10)
    )
    assert len(rows) == 1
    d = domain.delivery_to_proto(rows[0])
    assert d.recipient.address == "139****1111"
    assert d.status == res.DELIVERY_STATUS_PENDING and not d.HasField("sent_time")
    row = domain.reporter_row(received_case(), now)
    assert await db.write(lambda c: store.remember_reporter(c, row=row))
    assert not await db.write(lambda c: store.remember_reporter(c, row=row))
    assert (await db.read(lambda c: store.get_reporter(c, case_id=CASE_ID))).phone == "13805381234"


class Broken:
    """A channel whose gateway is down."""

    name = "app_push"

    async def send(self, delivery: domain.Outgoing) -> None:
        raise ConnectionError("gateway down")


async def test_sender_sends_to_file_and_records_failures(db: Database, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    citizen = domain.citizen(reporter())
    staff = domain.Recipient("staff", "staff-hanliyuan", "韩丽源", "13905381111")
    assert citizen is not None
    values = domain.fields(routing_case(result="已修复"), reporter(), load_policy())
    rows = domain.plan(
        event_id="e2",
        event_type="case.closed",
        case_id=CASE_ID,
        recipients=[citizen, staff],
        values=values,
        available={FILE, res.DELIVERY_CHANNEL_APP_PUSH},
        now=now,
    )
    assert [r["channel"] for r in rows] == [FILE, res.DELIVERY_CHANNEL_APP_PUSH]
    await db.write(lambda c: store.insert_deliveries(c, rows=rows))
    sink = tmp_path / "sink" / "out.log"
    sender = Sender(
        db=db,
        channels={FILE: FileSink(sink), res.DELIVERY_CHANNEL_APP_PUSH: Broken()},
        max_attempts=2,
    )
    assert await sender.send_due() == 2
    assert await sender.send_due() == 0  # the failed one waits for its back-off

    def all_rows(c: Any) -> list[Any]:
        return store.list_deliveries(c, case_id="", status=0, after_id="", limit=10)

    by_kind = {r.recipient_kind: r for r in await db.read(all_rows)}
    assert by_kind["citizen"].status == res.DELIVERY_STATUS_SENT
    assert by_kind["citizen"].attempts == 1 and by_kind["citizen"].sent_at is not None
    assert by_kind["staff"].status == res.DELIVERY_STATUS_FAILED
    assert by_kind["staff"].last_error == "ConnectionError: gateway down"

    lines = [json.loads(x) for x in sink.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    assert lines[0]["recipient"] == {
        "kind": "citizen",
        "id": CASE_ID,
        "name": "张胜起",
        "address": "138****1234",
    }
    assert lines[0]["body"] == "【连心网】您反映的问题已办结：已修复。如有意见请回复。"
    assert lines[0]["channel"] == "file" and lines[0]["case_id"] == CASE_ID
    assert "13805381234" not in sink.read_text(encoding="utf-8")

    # The second failure is the last allowed one: DEAD, and never tried again.
    due_now = datetime.now(UTC)
    await db.write(lambda c: c.execute(store.deliveries.update().values(next_attempt_at=due_now)))
    assert await sender.send_due() == 1
    by_kind = {r.recipient_kind: r for r in await db.read(all_rows)}
    assert by_kind["staff"].status == res.DELIVERY_STATUS_DEAD
    assert by_kind["staff"].attempts == 2
    assert await sender.send_due() == 0


async def test_a_step_waits_for_its_case_received(db: Database) -> None:
    """Without the reporter a step is retried; after the wait it goes out without them."""

    def closed() -> event_pb2.Event:
        case = routing_res.Case(id=CASE_ID, category="household_electrical", result="已修复")
        return bus.new_event(
            "case.closed",
            source="lianxin/routing",
            case_id=CASE_ID,
            case_transitioned=event_pb2.CaseTransitioned(case=case),
        )

    def applier(event: event_pb2.Event) -> bus.Apply:
        """What EventConsumer gives a handler: the effect with the inbox row, once."""

        async def apply(effect: bus.Effect) -> bool:
            def job(conn: Any) -> bool:
                if not bus.claim(conn, store.inbox, CONSUMER, event.id):
                    return False
                effect(conn)
                return True

            return await db.write(job)

        return apply

    def kinds(c: Any) -> list[str]:
        rows = store.list_deliveries(c, case_id=CASE_ID, status=0, after_id="", limit=10)
        return sorted(r.recipient_kind for r in rows)

    # No grid on the case, so registry is never asked: any address will do.
    channel = grpc.aio.insecure_channel("127.0.0.1:9")
    waiting = Notifier(
        db=db, policy=load_policy(), registry=channel, available={FILE}, reporter_wait_seconds=60
    )
    event = closed()
    with pytest.raises(RetryLater):
        await waiting.handle(event, applier(event))
    received = bus.new_event(
        "case.received",
        source="lianxin/intake",
        case_id=CASE_ID,
        case_received=event_pb2.CaseReceived(case=received_case()),
    )
    await waiting.handle(received, applier(received))
    await waiting.handle(event, applier(event))
    assert await db.read(kinds) == ["citizen", "hotline"]
    await waiting.handle(event, applier(event))  # a redelivery changes nothing
    assert await db.read(kinds) == ["citizen", "hotline"]

    impatient = Notifier(
        db=db, policy=load_policy(), registry=channel, available={FILE}, reporter_wait_seconds=0
    )
    event = closed()
    event.case_transitioned.case.id = "019ac9a1-0000-7000-8000-0000000000ff"
    await impatient.handle(event, applier(event))  # never received here: nobody to tell, no error
    assert await db.read(lambda c: store.processed(c, consumer=CONSUMER, event_id=event.id))
    await channel.close()
