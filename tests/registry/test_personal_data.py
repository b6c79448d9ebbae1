"""Personal data: nobody's without a jurisdiction; masked by default; in full only for a
caller holding pii:read, stating a purpose, with jurisdiction over the person; outside
the jurisdiction a person or building is NOT_FOUND; every read in an append-only log."""

from __future__ import annotations

import re

import grpc
import pytest
import sqlalchemy
from sqlalchemy import create_engine, text

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.common import auth
from tests.conftest import error_details
from tests.registry.conftest import AUDITOR, DISTRICT, caller, pii_reader

MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
FULL = res.PERSONAL_DATA_VIEW_FULL
ZHANG_PHONE = "13806325566"
ZHANG_BUILDING = "370402003001001-B001"


async def zhang(stub: RegistryServiceStub) -> res.Person:
    hits = (
        await stub.SearchRegistry(svc.SearchRegistryRequest(query="张胜起"), metadata=DISTRICT)
    ).hits
    return next(h.person for h in hits if h.HasField("person"))


async def log_of(stub: RegistryServiceStub, subject: str) -> list[res.AccessLogEntry]:
    reply = await stub.ListAccessLog(
        svc.ListAccessLogRequest(subject_id=subject, page_size=1000), metadata=AUDITOR
    )
    return list(reply.entries)


async def test_a_person_is_masked_by_default_and_the_read_is_logged(
    registry: RegistryServiceStub,
) -> None:
    pid = (await zhang(registry)).id
    before = len(await log_of(registry, pid))
    reply = await registry.GetPersonView(
        svc.GetPersonViewRequest(person_id=pid),
        metadata=caller("staff-hanliyuan", jurisdiction="370402003"),
    )
    p = reply.person
    assert MASKED_ID.match(p.id_number) and p.id_number.startswith("370402"), p.id_number
    assert p.phone == "138****5566"
    assert p.birth_date == ""
    assert (p.name, p.gender, p.age >= 80) == ("张胜起", "男", True)
    log = await log_of(registry, pid)
    assert len(log) == before + 1
    newest = log[0]
    assert (newest.actor, newest.method, newest.subject_kind) == (
        "staff-hanliyuan",
        "GetPersonView",
        "person",
    )
    assert (newest.view, newest.outcome) == (
        res.PERSONAL_DATA_VIEW_MASKED,
        res.ACCESS_OUTCOME_GRANTED,
    )
    assert newest.request_id


async def test_a_pii_reader_with_a_purpose_and_jurisdiction_sees_full_values(
    registry: RegistryServiceStub,
) -> None:
    pid = (await zhang(registry)).id
    reply = await registry.GetPersonView(
        svc.GetPersonViewRequest(person_id=pid, view=FULL),
        metadata=pii_reader(jurisdiction="370402003", purpose="入户走访"),
    )
    assert reply.person.phone == ZHANG_PHONE
    assert re.fullmatch(r"370402194603\d{5}[\dX]", reply.person.id_number)
    assert reply.person.birth_date == "1946-03-12"
    newest = (await log_of(registry, pid))[0]
    assert (newest.view, newest.outcome, newest.purpose) == (
        FULL,
        res.ACCESS_OUTCOME_GRANTED,
        "home_visit",  # the stated purpose, as its code in the fixed vocabulary
    )


@pytest.mark.parametrize(
    ("metadata", "because"),
    [
        (caller("staff-x", jurisdiction="370402", purpose="home_visit"), "pii:read"),
        (caller("staff-x", permissions=(auth.PII_READ,), jurisdiction="370402"), "state a purpose"),
    ],
    ids=["no-permission", "no-purpose"],
)
async def test_full_values_are_refused_without_permission_or_purpose_and_logged(
    registry: RegistryServiceStub, metadata: tuple[tuple[str, str], ...], because: str
) -> None:
    pid = (await zhang(registry)).id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.GetPersonView(
            svc.GetPersonViewRequest(person_id=pid, view=FULL), metadata=metadata
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert because in (caught.value.details() or "")
    assert error_details(caught.value)[0].reason == "PERSONAL_DATA_REFUSED"
    newest = (await log_of(registry, pid))[0]
    assert (newest.actor, newest.outcome) == ("staff-x", res.ACCESS_OUTCOME_DENIED)
    assert because in newest.reason


NO_JURISDICTION = [
    caller("staff-x"),
    caller("staff-x", permissions=(auth.PII_READ,), purpose="home_visit"),
]


@pytest.mark.parametrize("metadata", NO_JURISDICTION, ids=["staff", "pii-reader"])
async def test_without_a_jurisdiction_persons_and_buildings_views_are_refused(
    registry: RegistryServiceStub, metadata: tuple[tuple[str, str], ...]
) -> None:
    pid = (await zhang(registry)).id
    before = len(await log_of(registry, pid))
    for call, request in (
        (registry.GetPersonView, svc.GetPersonViewRequest(person_id=pid)),
        (registry.GetPersonView, svc.GetPersonViewRequest(person_id="no-such-person")),
        (registry.GetPersonView, svc.GetPersonViewRequest(person_id=pid, view=FULL)),
        (registry.GetBuildingView, svc.GetBuildingViewRequest(code=ZHANG_BUILDING)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, metadata=metadata)  # type: ignore[operator]
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, request
        assert error_details(caught.value)[0].reason == "NO_JURISDICTION"
        assert "独居" not in (caught.value.details() or "")
    assert len(await log_of(registry, pid)) == before  # refused before anything was read


async def error_of(call: object, request: object, metadata: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(request, metadata=metadata)  # type: ignore[operator]
    return caught.value


def looks(err: grpc.aio.AioRpcError, real_id: str, fake_id: str) -> tuple[object, ...]:
    info = error_details(err)[0]
    return (
        err.code(),
        (err.details() or "").replace(real_id, fake_id),
        info.reason,
        {k: v.replace(real_id, fake_id) for k, v in info.metadata.items()},
    )


async def test_a_person_outside_the_jurisdiction_looks_exactly_like_no_person(
    registry: RegistryServiceStub,
) -> None:
    pid = (await zhang(registry)).id
    fake = "P" + "0" * (len(pid) - 1)
    other_street = caller("staff-guangming", jurisdiction="370402004")
    for view in (0, FULL):
        outside = await error_of(
            registry.GetPersonView, svc.GetPersonViewRequest(person_id=pid, view=view), other_street
        )
        missing = await error_of(
            registry.GetPersonView,
            svc.GetPersonViewRequest(person_id=fake, view=view),
            other_street,
        )
        assert outside.code() == grpc.StatusCode.NOT_FOUND
        assert looks(outside, pid, fake) == looks(missing, fake, fake)
    newest = (await log_of(registry, pid))[0]
    assert (newest.actor, newest.outcome) == ("staff-guangming", res.ACCESS_OUTCOME_DENIED)
    assert "outside" in newest.reason


async def test_a_building_outside_the_jurisdiction_looks_exactly_like_no_building(
    registry: RegistryServiceStub,
) -> None:
    other_street = caller("staff-guangming", jurisdiction="370402004")
    fake = ZHANG_BUILDING.replace("B001", "B999")
    outside = await error_of(
        registry.GetBuildingView, svc.GetBuildingViewRequest(code=ZHANG_BUILDING), other_street
    )
    missing = await error_of(
        registry.GetBuildingView, svc.GetBuildingViewRequest(code=fake), other_street
    )
    assert outside.code() == grpc.StatusCode.NOT_FOUND
    assert looks(outside, ZHANG_BUILDING, fake) == looks(missing, fake, fake)


async def test_a_building_view_logs_a_read_of_every_resident(
    registry: RegistryServiceStub,
) -> None:
    reply = await registry.GetBuildingView(
        svc.GetBuildingViewRequest(code=ZHANG_BUILDING),
        metadata=caller("staff-hanliyuan", jurisdiction="370402003001001"),
    )
    residents = [p for hv in reply.households for p in hv.residents]
    assert residents and all(MASKED_ID.match(p.id_number) for p in residents)
    for p in residents:
        newest = (await log_of(registry, p.id))[0]
        assert (newest.method, newest.actor) == ("GetBuildingView", "staff-hanliyuan")


async def test_a_building_view_in_full_shows_every_resident_in_full(
    registry: RegistryServiceStub,
) -> None:
    reply = await registry.GetBuildingView(
        svc.GetBuildingViewRequest(code=ZHANG_BUILDING, view=FULL),
        metadata=pii_reader(jurisdiction="370402003001"),
    )
    phones = [p.phone for hv in reply.households for p in hv.residents if p.phone]
    assert ZHANG_PHONE in phones
    assert not any("*" in p for p in phones)


async def test_search_results_are_masked_and_their_reads_logged(
    registry: RegistryServiceStub,
) -> None:
    pid = (await zhang(registry)).id
    before = len(await log_of(registry, pid))
    reply = await registry.SearchRegistry(
        svc.SearchRegistryRequest(query="5566"), metadata=DISTRICT
    )
    hit = next(h.person for h in reply.hits if h.person.id == pid)
    assert hit.phone == "138****5566" and MASKED_ID.match(hit.id_number)
    log = await log_of(registry, pid)
    assert len(log) == before + 1 and log[0].method == "SearchRegistry"


async def test_internal_services_read_staff_phones_in_full_and_it_is_logged(
    registry: RegistryServiceStub,
) -> None:
    await registry.ListStaff(
        svc.ListStaffRequest(grid_code="370402003001001", role=res.STAFF_ROLE_GRID_MANAGER),
        metadata=caller("service:notify"),
    )
    newest = (await log_of(registry, "staff-hanliyuan"))[0]
    assert (newest.actor, newest.subject_kind, newest.view) == ("service:notify", "staff", FULL)


async def test_the_access_log_needs_the_audit_permission(registry: RegistryServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.ListAccessLog(svc.ListAccessLogRequest(), metadata=pii_reader())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_access_log_pages_newest_first(registry: RegistryServiceStub) -> None:
    await zhang(registry)
    ids: list[int] = []
    token = ""
    for _ in range(3):
        reply = await registry.ListAccessLog(
            svc.ListAccessLogRequest(page_size=2, page_token=token), metadata=AUDITOR
        )
        ids += [e.id for e in reply.entries]
        token = reply.next_page_token
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids) == 6


async def test_the_access_log_cannot_be_changed_or_emptied_even_in_the_database(
    registry: RegistryServiceStub, database_url: str
) -> None:
    await zhang(registry)
    engine = create_engine(database_url)
    try:
        for statement in ("UPDATE access_log SET actor = 'someone else'", "DELETE FROM access_log"):
            with (
                pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"),
                engine.begin() as conn,
            ):
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM access_log")).scalar_one() > 0
    finally:
        engine.dispose()


async def test_an_unknown_view_is_invalid_argument(registry: RegistryServiceStub) -> None:
    pid = (await zhang(registry)).id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.GetPersonView(svc.GetPersonViewRequest(person_id=pid, view=7))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1].field_violations[0].field == "view"
