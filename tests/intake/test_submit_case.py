"""intake's SubmitCase, GetCase and ListCases against a real database and a real NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import nats
import pytest

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import error_details, running, settings_for, violations

IntakeStub = intake_service_pb2_grpc.IntakeServiceStub
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def light_report(ref: str = "HLY-20141125-001", **overrides: object) -> svc.SubmitCaseRequest:
    req = svc.SubmitCaseRequest(
        channel=res.CHANNEL_GRID_APP,
        external_ref=ref,
        reporter=res.Reporter(name="张胜起", phone="13806325566", staff_id="staff-hanliyuan"),
        location=res.Location(
            point=res.LatLng(latitude=34.8605, longitude=117.5585), address="辛庄社区3号楼"
        ),
        category="household_electrical",
        description="家中电灯一直闪个不停",
    )
    for k, v in overrides.items():
        setattr(req, k, v)
    return req


@pytest.fixture
async def intake(
    tmp_path: Path, nats_url: str, service_database_url: str
) -> AsyncIterator[intake_service_pb2_grpc.IntakeServiceStub]:
    settings = settings_for(
        IntakeSettings,
        tmp_path,
        nats_url,
        attachment_max_bytes=1024,
        database_url=service_database_url,
    )
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        yield intake_service_pb2_grpc.IntakeServiceStub(channel)


async def test_submit_case_stores_the_case_and_reads_it_back(intake) -> None:
    created = await intake.SubmitCase(light_report())
    assert created.created
    got = await intake.GetCase(svc.GetCaseRequest(case_id=created.case.id))
    assert got.case.id == created.case.id
    assert got.case.status == routing_res.CASE_STATUS_RECEIVED
    assert got.case.reporter.name == "张**"  # masked, as the phone is (test_reporter_privacy)
    assert got.case.reporter.phone == "138****5566"
    assert got.case.location.point.latitude == pytest.approx(34.8605)
    assert got.case.category == "household_electrical"


async def test_submitting_the_same_channel_and_reference_twice_creates_one_case(intake) -> None:
    first = await intake.SubmitCase(light_report("12345-0001"))
    # The same content, written a little differently (surrounding spaces are trimmed).
    again = await intake.SubmitCase(
        light_report("12345-0001", description=" 家中电灯一直闪个不停 ")
    )
    assert first.created and not again.created
    assert again.case.id == first.case.id
    listed = await intake.ListCases(svc.ListCasesRequest())
    assert [c.id for c in listed.cases] == [first.case.id]


async def test_a_resubmission_with_other_content_is_refused_and_changes_nothing(intake) -> None:
    first = await intake.SubmitCase(light_report("12345-0002"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await intake.SubmitCase(light_report("12345-0002", description="更正：是楼道的灯"))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info, _ = error_details(err.value)
    assert info.reason == "EXTERNAL_REF_CONFLICT"
    assert info.metadata["case_id"] == first.case.id
    assert info.metadata["differing_fields"] == "description"
    got = await intake.GetCase(svc.GetCaseRequest(case_id=first.case.id))
    assert got.case.description == "家中电灯一直闪个不停"
    listed = await intake.ListCases(svc.ListCasesRequest())
    assert [c.id for c in listed.cases] == [first.case.id]


async def test_another_photo_or_place_is_other_content(intake) -> None:
    first = await intake.SubmitCase(light_report("12345-0003"))
    photo = light_report("12345-0003")
    photo.attachments.add(filename="light.png", content_type="image/png", content=PNG)
    moved = light_report("12345-0003")
    moved.location.point.latitude = 34.9
    for req, field in ((photo, "attachments"), (moved, "location.point")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await intake.SubmitCase(req)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        info, _ = error_details(err.value)
        assert (info.metadata["case_id"], info.metadata["differing_fields"]) == (
            first.case.id,
            field,
        )
    got = await intake.GetCase(svc.GetCaseRequest(case_id=first.case.id))
    assert not got.case.attachments


async def test_concurrent_submissions_with_one_reference_and_two_contents(intake) -> None:
    import asyncio

    reqs = [light_report("burst-2", description=f"版本{i % 2}") for i in range(10)]
    results = await asyncio.gather(*(intake.SubmitCase(r) for r in reqs), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) + len(refused) == 10
    assert len({r.case.id for r in ok}) == 1 and sum(r.created for r in ok) == 1
    kept = ok[0].case.description
    assert all(r.case.description == kept for r in ok)
    assert len(refused) == 5
    assert all(e.code() == grpc.StatusCode.ALREADY_EXISTS for e in refused)


async def test_the_same_reference_on_another_channel_is_another_case(intake) -> None:
    a = await intake.SubmitCase(light_report("T-1"))
    b = await intake.SubmitCase(light_report("T-1", channel=res.CHANNEL_MAYOR_HOTLINE))
    assert a.case.id != b.case.id


async def test_concurrent_resubmissions_still_create_one_case(intake) -> None:
    import asyncio

    results = await asyncio.gather(*(intake.SubmitCase(light_report("burst")) for _ in range(20)))
    assert len({r.case.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_submit_publishes_case_received_with_the_full_case(intake, nats_url: str) -> None:
    created = await intake.SubmitCase(light_report("evt-1"))
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe("lianxin.case.received", durable="probe", stream="LIANXIN")
        msgs = await sub.fetch(1, timeout=10)
        event = event_pb2.Event.FromString(msgs[0].data)
        assert msgs[0].headers["Nats-Msg-Id"] == event.id
        assert event.type == "case.received"
        assert event.case_id == created.case.id
        assert event.case_received.case.reporter.phone == "13806325566"
    finally:
        await nc.close()


async def test_photos_are_stored_with_their_digest(intake) -> None:
    req = light_report("photo-1")
    req.attachments.add(filename="light.png", content_type="image/png", content=PNG)
    created = await intake.SubmitCase(req)
    (att,) = created.case.attachments
    assert att.size_bytes == len(PNG)
    assert len(att.sha256) == 64


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": res.Location()}, "location"),
        (
            {"location": res.Location(point=res.LatLng(latitude=95, longitude=117.5))},
            "location.point.latitude",
        ),
        (
            {"location": res.Location(point=res.LatLng(latitude=34.8, longitude=-181))},
            "location.point.longitude",
        ),
        ({"category": "ufo_sighting"}, "category"),
        ({"channel": res.CHANNEL_UNSPECIFIED}, "channel"),
        ({"channel": 42}, "channel"),
        ({"description": "闪" * 4001}, "description"),
        ({"description": ""}, "description"),
        ({"external_ref": ""}, "external_ref"),
    ],
)
async def test_bad_submissions_are_invalid_argument_naming_the_field(
    intake, change: dict[str, object], field: str
) -> None:
    req = light_report("bad")
    for k, v in change.items():
        if isinstance(v, res.Location):
            req.location.CopyFrom(v)
        else:
            setattr(req, k, v)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await intake.SubmitCase(req)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value), violations(caught.value)
    assert error_details(caught.value)[0].reason == "INVALID_ARGUMENT"


async def test_an_attachment_over_the_limit_is_refused_and_nothing_is_stored(intake) -> None:
    req = light_report("big")
    req.attachments.add(filename="big.png", content_type="image/png", content=PNG * 40)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await intake.SubmitCase(req)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit is 1024" in violations(caught.value)["attachments[0].content"]
    listed = await intake.ListCases(svc.ListCasesRequest())
    assert list(listed.cases) == []


async def test_an_attachment_that_is_not_the_declared_type_is_refused(intake) -> None:
    req = light_report("fake")
    req.attachments.add(filename="x.jpg", content_type="image/jpeg", content=b"not a jpeg")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await intake.SubmitCase(req)
    assert "attachments[0].content" in violations(caught.value)


async def test_get_case_of_an_unknown_id_is_not_found(intake) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await intake.GetCase(svc.GetCaseRequest(case_id="0190c0de-0000-7000-8000-000000000000"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_cases_pages_newest_first_and_filters_by_channel(intake) -> None:
    ids = [(await intake.SubmitCase(light_report(f"p-{i}"))).case.id for i in range(5)]
    await intake.SubmitCase(light_report("hotline-1", channel=res.CHANNEL_MAYOR_HOTLINE))
    seen: list[str] = []
    token = ""
    while True:
        page = await intake.ListCases(
            svc.ListCasesRequest(channel=res.CHANNEL_GRID_APP, page_size=2, page_token=token)
        )
        seen += [c.id for c in page.cases]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))


async def test_a_forged_page_token_is_invalid_argument(intake) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await intake.ListCases(svc.ListCasesRequest(page_token="!!not-ours"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
