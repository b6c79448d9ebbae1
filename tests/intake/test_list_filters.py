"""ListCases filtered by category and period, and ListStatusChanges: the pages a polling
client (the Open311 gateway) reads intake's cases and status timeline by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import resources_pb2 as res
from tests.conftest import eventually, violations
from tests.intake.test_watch_cases import IntakeStub, intake, js, submit, transition

__all__ = ["intake", "js"]  # fixtures


def ts(dt: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(dt)
    return out


async def test_list_cases_filters_by_category_and_received_time(intake: IntakeStub) -> None:
    before = datetime.now(UTC)
    a = await submit(intake, "f-a")
    other = await intake.SubmitCase(
        svc.SubmitCaseRequest(
            channel=res.CHANNEL_OPEN311,
            external_ref="f-b",
            location=res.Location(address="辛庄社区"),
            category="street_light",
            description="路灯不亮",
        )
    )
    after = datetime.now(UTC) + timedelta(seconds=1)

    lights = await intake.ListCases(svc.ListCasesRequest(category="street_light"))
    assert [c.id for c in lights.cases] == [other.case.id]
    assert lights.cases[0].channel == res.CHANNEL_OPEN311
    inside = await intake.ListCases(svc.ListCasesRequest(start_time=ts(before), end_time=ts(after)))
    assert {c.id for c in inside.cases} == {a, other.case.id}
    later = await intake.ListCases(svc.ListCasesRequest(start_time=ts(after)))
    assert list(later.cases) == []
    earlier = await intake.ListCases(svc.ListCasesRequest(end_time=ts(before)))
    assert list(earlier.cases) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await intake.ListCases(svc.ListCasesRequest(start_time=ts(after), end_time=ts(before)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "end_time" in violations(err.value)


async def test_list_status_changes_pages_the_timeline_of_a_period_in_order(
    intake: IntakeStub, js: JetStreamContext
) -> None:
    a = await submit(intake, "s-a", res.CHANNEL_MAYOR_HOTLINE)
    b = await submit(intake, "s-b")
    start = datetime.now(UTC) - timedelta(seconds=1)
    expected = []
    for v in range(1, 4):
        for case_id in (a, b):
            await transition(js, case_id, v, f"{case_id[-4:]}-{v}")
            expected.append((case_id, f"{case_id[-4:]}-{v}"))

    async def all_changes(**kw: object) -> list[res.StatusChange]:
        out: list[res.StatusChange] = []
        token = ""
        while True:
            reply = await intake.ListStatusChanges(
                svc.ListStatusChangesRequest(page_size=4, page_token=token, **kw)  # type: ignore[arg-type]
            )
            out.extend(reply.status_changes)
            token = reply.next_page_token
            if not token:
                return out

    changes = await eventually(
        lambda: _when(all_changes(start_time=ts(start)), len(expected)), timeout=15
    )
    assert [(c.case_id, c.note) for c in changes] == expected
    assert [c.sequence for c in changes] == sorted(c.sequence for c in changes)
    assert all(c.time.seconds for c in changes)
    hotline = await all_changes(channel=res.CHANNEL_MAYOR_HOTLINE)
    assert {c.case_id for c in hotline} == {a}
    future = await all_changes(start_time=ts(datetime.now(UTC) + timedelta(hours=1)))
    assert future == []
    # GetCase's timeline carries the same ids.
    got = (await intake.GetCase(svc.GetCaseRequest(case_id=a))).case
    assert [t.sequence for t in got.timeline] == [c.sequence for c in changes if c.case_id == a]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await intake.ListStatusChanges(svc.ListStatusChangesRequest(channel=99, page_token="x"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "channel" in violations(err.value)


async def _when(pending: object, n: int) -> list[res.StatusChange] | None:
    got = await pending  # type: ignore[misc]
    return got if len(got) >= n else None
