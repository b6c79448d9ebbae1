"""notify's copy of reporters is erased like intake's: a real notify (real JetStream, real
registry) learns from routing's events when a case closed; once that is longer ago than
the retention period the reporter and the citizen's finished deliveries lose name and
phone; a recently closed case keeps them; counted; a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.common.db import Database, make_engine
from services.common.ids import uuid7
from services.common.retention import RetentionJob
from services.common.server import ServiceHost
from services.notify import app as notify_app
from services.notify import metrics, store
from tests.conftest import eventually, running
from tests.notify.helpers import CITIZEN_PHONE, publish, received, step
from tests.notify.test_service import notify_settings, sent, stub, wait_for

COUNTER = "lianxin_notify_reporters_anonymised_total"


def closed_at(case_id: str, when: datetime) -> object:
    event = step(case_id, "closed", 6)
    event.case_transitioned.entry.time.FromDatetime(when)
    return event


async def test_reporters_of_cases_closed_long_ago_are_erased_in_notify(
    tmp_path: Path, nats_url: str, js: JetStreamContext, registry: ServiceHost
) -> None:
    settings = notify_settings(
        tmp_path,
        nats_url,
        registry.address,
        reporter_retention_days=30,
        retention_interval_seconds=0.2,
    )
    url = settings.sqlalchemy_url("notify")
    before = REGISTRY.get_sample_value(COUNTER)
    assert before is not None  # exists from start
    old, recent = uuid7(), uuid7()
    now = datetime.now(UTC)
    async with running(notify_app.create_server, settings) as notify:
        assert "reporter-retention" in notify.supervisor.loops
        api = stub(notify)
        for case_id, when in ((old, now - timedelta(days=45)), (recent, now - timedelta(days=3))):
            await publish(js, received(case_id))
            await publish(js, closed_at(case_id, when))  # type: ignore[arg-type]
        await wait_for(api, recent, sent(2))
        engine = make_engine(url)
        try:

            def reporter(case_id: str) -> tuple[str, str]:
                with engine.connect() as conn:
                    r = conn.execute(
                        select(store.reporters).where(store.reporters.c.case_id == case_id)
                    ).one()
                return r.name, r.phone

            def citizen_deliveries(case_id: str) -> list[tuple[str, str]]:
                d = store.deliveries
                with engine.connect() as conn:
                    return [
                        (r.recipient_name, r.address)
                        for r in conn.execute(
                            select(d).where(d.c.case_id == case_id, d.c.recipient_kind == "citizen")
                        )
                    ]

            async def erased() -> bool:
                return reporter(old) == ("", "") and citizen_deliveries(old) == [("", "")]

            await eventually(erased)
            assert reporter(recent) == ("张胜起", CITIZEN_PHONE)
            assert citizen_deliveries(recent) == [("张胜起", CITIZEN_PHONE)]
            assert REGISTRY.get_sample_value(COUNTER) - before == 1  # type: ignore[operator]

            other = Database(url, name="notify-2")
            try:
                job = RetentionJob(
                    what="reporters",
                    db=other,
                    erase=store.erase_reporters,
                    counter=metrics.REPORTERS_ERASED,
                    days=30,
                    interval=1,
                    batch=10,
                )
                assert await job.round() == 0
            finally:
                other.close()
            assert REGISTRY.get_sample_value(COUNTER) - before == 1  # type: ignore[operator]
            assert reporter(recent) == ("张胜起", CITIZEN_PHONE)
        finally:
            engine.dispose()
