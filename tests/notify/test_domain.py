"""notify's rules and tables on a real SQLite database: audiences, texts, channels, quiet
hours, back-off, rate limits, masking, the once-per-recipient constraint, the sender."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus, consumer
from services.common.consumer import RetryLater
from services.common.db import Database
from services.common.policy import load_policy
from services.notify import audiences, domain, policies, store, templates, texts
from services.notify.channels import FileSink, PermanentError
from services.notify.events import CONSUMER, Notifier
from services.notify.sender import Sender
from tests import callers
from tests.notify.helpers import FakeClock, local

CASE_ID = "019ac9a1-0000-7000-8000-00000a1b2c3d"
FILE = res.DELIVERY_CHANNEL_FILE
SMS = res.DELIVERY_CHANNEL_SMS
PUSH = res.DELIVERY_CHANNEL_APP_PUSH
WEBHOOK = res.DELIVERY_CHANNEL_WEBHOOK
QUIET = (time(22, 0), time(7, 0))
MAYOR = intake_res.CHANNEL_MAYOR_HOTLINE
CONVENIENCE = intake_res.CHANNEL_CONVENIENCE_HOTLINE


def received_case(channel: int = MAYOR) -> intake_res.Case:
    return intake_res.Case(
        id=CASE_ID,
        channel=channel,
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
        community_code="370402003001",
        street_code="370402003",
        district_code="370402",
        assigned_unit_code="370402003001",
        assigned_unit_name="辛庄社区",
        **kw,  # type: ignore[arg-type]
    )
    c.deadline_time.FromDatetime(datetime(2014, 11, 5, 7, 30, tzinfo=UTC))
    return c


def reporter(channel: int = MAYOR) -> Any:
    return SimpleNamespace(**audiences.reporter_row(received_case(channel), datetime.now(UTC)))


def staff(audience: str, id_: str = "staff-hanliyuan") -> audiences.Recipient:
    return audiences.Recipient(audiences.STAFF, id_, "韩丽源", "13905381111", audience)


def sub(
    id_: str, hotline: int = MAYOR, url: str = "", unit: str = "", **kw: Any
) -> audiences.SubscriptionView:
    return audiences.SubscriptionView(
        id=id_,
        hotline=hotline,
        webhook_url=url,
        unit_code=unit,
        case_channels=frozenset(kw.get("channels", ())),
        event_types=frozenset(kw.get("types", ())),
    )


# --- audiences and texts -----------------------------------------------------------------


def test_every_transition_has_an_audience_and_a_text_for_each_party() -> None:
    values = texts.fields(routing_case(result="已修复"), reporter(), load_policy())
    for value in routing_res.Transition.values():
        if value == routing_res.TRANSITION_UNSPECIFIED:
            continue
        event_type = audiences.event_type_of(value)
        assert event_type in audiences.AUDIENCES, event_type
        for audience in (*audiences.AUDIENCES[event_type], audiences.SUBSCRIBER):
            text = templates.render(event_type, audience, values)
            assert text.startswith("【连心网】") and not re.search(r"[{}]", text), text
            assert re.fullmatch(
                r"\d{4}\.\d{2}-\d+", templates.template(event_type, audience).version
            )
    assert audiences.event_type_of(routing_res.TRANSITION_EXTENSION_REQUESTED) == (
        "case.extension_requested"
    )


def test_dispatched_text_names_case_category_address_and_local_deadline() -> None:
    values = texts.fields(routing_case(), reporter(), load_policy())
    text = templates.render("case.dispatched", audiences.UNIT, values)
    assert text == (
        "【连心网】新案件0a1b2c3d：家庭电路故障，辛庄社区3号楼2单元，请于11月5日15:30前处理。"
    )


def test_texts_fall_back_when_fields_are_missing() -> None:
    values = texts.fields(routing_res.Case(id=CASE_ID, category="nope"), None, load_policy())
    assert templates.render("case.closed", audiences.CITIZEN_AUDIENCE, values) == (
        "【连心网】您反映的问题已办结：已按要求处理。如有意见请回复。"
    )
    assert templates.render("case.filed", audiences.SUBSCRIBER, values) == (
        "【连心网】案件0a1b2c3d（nope，地址见案件详情）已立案。"
    )
    with pytest.raises(templates.MissingTemplate):
        templates.render("case.filed", audiences.CITIZEN_AUDIENCE, values)


def test_a_result_that_ends_its_own_sentence_is_not_stopped_twice() -> None:
    values = texts.fields(routing_case(result="灯已不闪。"), reporter(), load_policy())
    assert templates.render("case.closed", audiences.CITIZEN_AUDIENCE, values) == (
        "【连心网】您反映的问题已办结：灯已不闪。如有意见请回复。"
    )


def test_an_explained_case_sends_the_citizen_the_explanation() -> None:
    entry = routing_res.HistoryEntry(note="该路段属于市政改造范围，明年春季统一更换。")
    values = texts.fields(routing_case(), reporter(), load_policy(), entry)
    assert templates.render("case.explained", audiences.CITIZEN_AUDIENCE, values) == (
        "【连心网】关于您反映的家庭电路故障问题：该路段属于市政改造范围，明年春季统一更换。"
        "感谢您的理解和支持。"
    )


# --- recipients and channels -------------------------------------------------------------


def test_recipients_and_their_channels() -> None:
    r = reporter()
    citizen = audiences.citizen(r)
    origin = audiences.hotline(r)
    assert citizen == audiences.Recipient("citizen", CASE_ID, "张胜起", "13805381234")
    assert citizen is not None and citizen.masked_address == "138****1234"
    assert origin == audiences.Recipient(
        "hotline", "mayor_hotline", "12345市长热线", "mayor_hotline"
    )
    app = SimpleNamespace(**{**vars(r), "channel": intake_res.CHANNEL_GRID_APP, "phone": ""})
    assert audiences.citizen(app) is None and audiences.hotline(app) is None

    everything = {FILE, SMS, PUSH}
    unit, grid = staff(audiences.UNIT), staff(audiences.GRID)
    # On dispatch the unit gets an app push and an SMS; otherwise the best channel only.
    assert domain.channels_for(unit, "case.dispatched", everything) == [PUSH, SMS]
    assert domain.channels_for(unit, "case.dispatched", {FILE}) == [FILE]
    assert domain.channels_for(unit, "case.reminded", everything) == [PUSH]
    assert domain.channels_for(grid, "case.dispatched", everything) == [PUSH]
    assert domain.channels_for(grid, "case.dispatched", {FILE, SMS}) == [SMS]
    assert domain.channels_for(citizen, "case.closed", everything) == [SMS]
    assert domain.channels_for(citizen, "case.closed", set()) == []
    hooked = audiences.Recipient("hotline", "mayor_hotline", "12345", "https://12345.example/h")
    assert domain.channels_for(hooked, "case.closed", {FILE}) == [WEBHOOK]
    assert domain.channels_for(origin, "case.closed", {FILE}) == [FILE]  # type: ignore[arg-type]
    assert audiences.channel_value("file") == FILE and audiences.channel_label(FILE) == "file"


def test_hotline_systems_hear_each_event_once_over_their_oldest_matching_subscription() -> None:
    case = routing_case()
    subs = [
        sub("s1", MAYOR, "https://12345.example/a", unit="370402001"),  # another street
        sub("s2", MAYOR, "https://12345.example/b", unit="370402003"),
        sub("s3", MAYOR, "https://12345.example/c"),
        sub("s4", CONVENIENCE, "", unit="370402", types={"case.closed"}),
        sub("s5", intake_res.CHANNEL_DISTRICT_HOTLINE, "https://qz.example", channels={MAYOR}),
    ]

    def told(event_type: str, origin: bool, channel: int = MAYOR) -> list[tuple[str, str, str]]:
        rs = audiences.hotline_recipients(
            event_type=event_type,
            case=case,
            reporter=reporter(channel),
            subscriptions=subs,
            origin_told=origin,
        )
        return [(r.id, r.audience, r.subscription_id) for r in rs]

    # The 12345 case closes: the origin hears once (over s2, its oldest matching one).
    assert told("case.closed", True) == [
        ("mayor_hotline", "hotline", "s2"),
        ("convenience_hotline", "subscriber", "s4"),
        ("district_hotline", "subscriber", "s5"),
    ]
    # Dispatch is not for the origin as such, but 12345 subscribed to the street.
    assert told("case.dispatched", False) == [
        ("mayor_hotline", "subscriber", "s2"),
        ("district_hotline", "subscriber", "s5"),
    ]
    # s5 wants only cases that came in through 12345.
    assert ("district_hotline", "subscriber", "s5") not in told(
        "case.dispatched", False, intake_res.CHANNEL_GRID_APP
    )
    # The origin hears back even when no subscription of its matches (over one of them).
    only_other_street = [subs[0]]
    rs = audiences.hotline_recipients(
        event_type="case.resolved",
        case=case,
        reporter=reporter(),
        subscriptions=only_other_street,
        origin_told=True,
    )
    assert [(r.id, r.subscription_id, r.address) for r in rs] == [
        ("mayor_hotline", "s1", "https://12345.example/a")
    ]


def test_plan_renders_once_per_recipient_and_channel_and_holds_non_urgent_sms() -> None:
    night = local(2026, 11, 5, 23, 30)
    unit = audiences.Recipient(audiences.STAFF, "staff-e", "王建国", "15626924494", audiences.UNIT)
    grid = staff(audiences.GRID)
    citizen = audiences.citizen(reporter())
    assert citizen is not None

    def plan(event_type: str, recipients: list[audiences.Recipient]) -> list[dict[str, Any]]:
        return domain.plan(
            event_id="e1",
            event_type=event_type,
            case_id=CASE_ID,
            recipients=recipients,
            values=texts.fields(routing_case(result="已修复"), reporter(), load_policy()),
            available={SMS, FILE},
            now=night,
            quiet=QUIET,
        )

    dispatched = plan("case.dispatched", [unit, grid, grid])
    resolved = plan("case.resolved", [citizen, grid])
    assert [(r["recipient_id"], r["channel"], r["urgent"]) for r in dispatched + resolved] == [
        ("staff-e", SMS, True),
        ("staff-hanliyuan", SMS, True),
        (CASE_ID, SMS, False),
        ("staff-hanliyuan", SMS, False),
    ]
    # Staff must act on a dispatch now; the resolved texts wait for 07:00 local time.
    assert [r["next_attempt_at"] for r in dispatched] == [night, night]
    assert [r["next_attempt_at"] for r in resolved] == [local(2026, 11, 6, 7)] * 2
    assert {r["template_version"] for r in dispatched} == {"2026.11-1"}
    assert {r["status"] for r in dispatched + resolved} == {res.DELIVERY_STATUS_PENDING}


# --- when --------------------------------------------------------------------------------


def test_quiet_hours_end_in_the_morning_and_hold_only_non_urgent_sms() -> None:
    assert policies.quiet_until(local(2026, 11, 5, 21, 59), QUIET) is None
    assert policies.quiet_until(local(2026, 11, 5, 22, 0), QUIET) == local(2026, 11, 6, 7)
    assert policies.quiet_until(local(2026, 11, 6, 3, 15), QUIET) == local(2026, 11, 6, 7)
    assert policies.quiet_until(local(2026, 11, 6, 7, 0), QUIET) is None
    assert policies.quiet_until(local(2026, 11, 6, 3), None) is None
    lunch = (time(12, 0), time(14, 0))
    assert policies.quiet_until(local(2026, 11, 6, 12, 30), lunch) == local(2026, 11, 6, 14)
    assert policies.quiet_until(local(2026, 11, 6, 14, 30), lunch) is None

    t = local(2026, 11, 5, 23)
    assert policies.not_before(t, channel=SMS, urgent=False, quiet=QUIET) == local(2026, 11, 6, 7)
    assert policies.not_before(t, channel=SMS, urgent=True, quiet=QUIET) == t
    assert policies.not_before(t, channel=PUSH, urgent=False, quiet=QUIET) == t
    assert domain.is_urgent("case.overdue", audiences.STAFF)
    assert not domain.is_urgent("case.reminded", audiences.STAFF)
    assert not domain.is_urgent("case.overdue", audiences.CITIZEN)


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    policy = policies.RetryPolicy(max_attempts=4, base_seconds=2, max_seconds=30)
    assert [policy.ceiling(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    rng = random.Random(7)
    delays = [policy.delay(3, rng) for _ in range(200)]
    assert all(timedelta(0) <= d <= timedelta(seconds=8) for d in delays)
    assert len(set(delays)) == 200  # jittered: deliveries that failed together spread out
    assert not policy.exhausted(3) and policy.exhausted(4)


def test_the_per_number_rate_limit_defers_the_excess_until_the_window_frees() -> None:
    now = local(2026, 11, 5, 10)
    window = timedelta(hours=1)
    rows = [
        SimpleNamespace(id=f"d{i}", channel=SMS, address=a)
        for i, a in enumerate(["138", "138", "139", "138"])
    ]
    push = SimpleNamespace(id="p", channel=PUSH, address="138")
    earlier = now - timedelta(minutes=50)
    later = policies.rate_limited(
        [*rows, push], {"138": [earlier]}, limit=2, window=window, now=now
    )
    # 138 had one SMS 50 minutes ago: one more now, the rest when that one leaves the window.
    assert later == {"d1": earlier + window, "d3": earlier + window}
    assert policies.rate_limited(rows, {}, limit=0, window=window, now=now) == {}


def test_phones_in_free_text_are_masked() -> None:
    assert audiences.mask_phones("HTTP 400: bad number 13805381234;") == (
        "HTTP 400: bad number 138****1234;"
    )
    assert audiences.mask_phones("order 202613805381234999") == "order 202613805381234999"


# --- the store and the sender ------------------------------------------------------------


async def test_store_keeps_one_delivery_per_event_recipient_channel(db: Database) -> None:
    now = datetime.now(UTC)

    def plan() -> list[dict[str, Any]]:
        return domain.plan(
            event_id="e1",
            event_type="case.dispatched",
            case_id=CASE_ID,
            recipients=[staff(audiences.UNIT)],
            values=texts.fields(routing_case(), None, load_policy()),
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
    assert d.HasField("next_attempt_time") and d.urgent
    row = audiences.reporter_row(received_case(), now)
    assert await db.write(lambda c: store.remember_reporter(c, row=row))
    assert not await db.write(lambda c: store.remember_reporter(c, row=row))
    assert (await db.read(lambda c: store.get_reporter(c, case_id=CASE_ID))).phone == "13805381234"


class Broken:
    """A channel whose gateway is down; `permanent` makes it refuse for good."""

    name = "app_push"

    def __init__(self, permanent: bool = False) -> None:
        self.permanent = permanent

    async def send(self, delivery: audiences.Outgoing) -> None:
        if self.permanent:
            raise PermanentError("HTTP 400: unknown number 13905381111")
        raise ConnectionError("gateway down")


async def test_sender_sends_to_file_retries_with_backoff_then_dead_letters(
    db: Database, tmp_path: Path
) -> None:
    clock = FakeClock(local(2026, 11, 5, 10))
    citizen = audiences.citizen(reporter())
    assert citizen is not None
    values = texts.fields(routing_case(result="已修复"), reporter(), load_policy())
    rows = domain.plan(
        event_id="e2",
        event_type="case.resolved",
        case_id=CASE_ID,
        recipients=[citizen, staff(audiences.GRID)],
        values=values,
        available={FILE, PUSH},
        now=clock(),
    )
    assert [r["channel"] for r in rows] == [FILE, PUSH]
    await db.write(lambda c: store.insert_deliveries(c, rows=rows))
    sink = tmp_path / "sink" / "out.log"
    sender = Sender(
        db=db,
        channels={FILE: FileSink(sink), PUSH: Broken()},
        retry=policies.RetryPolicy(max_attempts=3, base_seconds=2, max_seconds=60),
        clock=clock,
        rng=random.Random(1),
        publish_delivered=True,
    )
    assert await sender.send_due() == 2
    assert await sender.send_due() == 0  # the failed one waits for its back-off

    def by_kind(c: Any) -> dict[str, Any]:
        return {
            r.recipient_kind: r
            for r in store.list_deliveries(c, case_id="", status=0, after_id="", limit=10)
        }

    rows_now = await db.read(by_kind)
    assert rows_now["citizen"].status == res.DELIVERY_STATUS_SENT
    assert rows_now["citizen"].attempts == 1 and rows_now["citizen"].sent_at is not None
    failed = rows_now["staff"]
    assert failed.status == res.DELIVERY_STATUS_FAILED
    assert failed.last_error == "ConnectionError: gateway down"
    first_wait = failed.next_attempt_at.replace(tzinfo=UTC) - clock()
    assert timedelta(0) <= first_wait <= timedelta(seconds=2)

    lines = [json.loads(x) for x in sink.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    assert lines[0]["recipient"] == {
        "kind": "citizen",
        "id": CASE_ID,
        "name": "张胜起",
        "address": "138****1234",
    }
    assert lines[0]["body"] == (
        "【连心网】您反映的问题已处理：已修复。我们将尽快核实，如有意见请回复。"
    )
    assert "13805381234" not in sink.read_text(encoding="utf-8")

    # Two more failures, each after its back-off: the third is the last allowed → DEAD.
    for _ in range(2):
        clock.advance(seconds=60)
        assert await sender.send_due() == 1
    dead = (await db.read(by_kind))["staff"]
    assert dead.status == res.DELIVERY_STATUS_DEAD and dead.attempts == 3
    clock.advance(hours=1)
    assert await sender.send_due() == 0
    attempts = await db.read(lambda c: store.get_attempts(c, delivery_id=dead.id))
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, res.DELIVERY_STATUS_FAILED),
        (2, res.DELIVERY_STATUS_FAILED),
        (3, res.DELIVERY_STATUS_DEAD),
    ]

    # A revived dead letter gets a fresh budget; a permanent refusal is dead at once,
    # with the phone in the gateway's answer masked.
    assert await db.write(lambda c: store.revive(c, delivery_id=dead.id, at=clock()))
    sender.channels[PUSH] = Broken(permanent=True)
    assert await sender.send_due() == 1
    dead = (await db.read(by_kind))["staff"]
    assert dead.status == res.DELIVERY_STATUS_DEAD and dead.attempts == 4
    assert dead.last_error == "HTTP 400: unknown number 139****1111"

    # Every DEAD (and, when asked for, every SENT) is published through the outbox as
    # notify.dead / notify.delivered.
    payloads = await db.read(lambda c: list(c.execute(select(store.outbox.c.payload)).scalars()))
    results = [event_pb2.Event.FromString(p) for p in payloads]
    assert [(e.type, e.delivery_result.delivery.recipient.kind) for e in results] == [
        ("notify.delivered", "citizen"),
        ("notify.dead", "staff"),
        ("notify.dead", "staff"),
    ]
    assert results[1].delivery_result.delivery.recipient.address == "139****1111"


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

    def applier(event: event_pb2.Event) -> consumer.Apply:
        """What EventConsumer gives a handler: the effect with the inbox row, once."""

        async def apply(effect: consumer.Effect) -> bool:
            def job(conn: Any) -> bool:
                items = [(event.id, effect)]
                (ok,) = consumer.apply_group(
                    conn, inbox=store.inbox, consumer=CONSUMER, items=items
                )
                return ok

            return await db.write(job)

        return apply

    def kinds(c: Any) -> list[str]:
        rows = store.list_deliveries(c, case_id=CASE_ID, status=0, after_id="", limit=10)
        return sorted(r.recipient_kind for r in rows)

    # No staff audience on case.closed, so registry is never asked: any address will do.
    channel = callers.channel("127.0.0.1:9")
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
