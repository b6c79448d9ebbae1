"""The coverage audit: every kind of gap planted in a small district is found, with its
area and shape where it is land, and a clean district shows nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import grpc
import pytest
import shapely
from shapely.geometry import shape

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.registry import geo, idcard
from tests.registry.conftest import (
    box,
    building_feature,
    csv_bytes,
    geojson_bytes,
    import_file,
    new_database,
    registry_settings,
    serving,
    unit_feature,
)

K = res
GAP = box(117.02, 34.0, 117.025, 34.01)  # between the second and third grid
OVERLAP = box(117.0095, 34.0, 117.01, 34.01)  # the first and second grid both claim it
LONELY_ID = idcard.make("370498", date(1980, 2, 2), 5)


async def plant(stub: RegistryServiceStub) -> None:
    whole = box(117.0, 34.0, 117.03, 34.01)
    units = [
        unit_feature("370498", "漏洞区", "district", "", whole),
        unit_feature("370498001", "漏洞街道", "street", "370498", whole),
        unit_feature("370498001001", "漏洞社区", "community", "370498001", whole),
        unit_feature(
            "370498001001001", "一格", "grid", "370498001001", box(117.0, 34.0, 117.01, 34.01)
        ),
        unit_feature(
            "370498001001002", "二格", "grid", "370498001001", box(117.0095, 34.0, 117.02, 34.01)
        ),
        unit_feature(
            "370498001001003", "三格", "grid", "370498001001", box(117.025, 34.0, 117.03, 34.01)
        ),
    ]
    buildings = [
        building_feature("L-HOME", "漏洞路1号", 117.005, 34.005),
        building_feature("L-GAP", "漏洞路2号", 117.022, 34.005),  # in the gap
        building_feature("L-EMPTY", "漏洞路3号", 117.027, 34.005),  # no household
    ]
    households = csv_bytes(
        ["楼栋编码", "单元", "室号"], [["L-HOME", "1", "101"], ["L-HOME", "1", "102"]]
    )
    born = date(1960, 6, 6)
    persons = csv_bytes(
        ["姓名", "公民身份号码", "楼栋编码", "单元", "室号", "所属社区"],
        [
            ["有家", idcard.make("370498", born, 1), "L-HOME", "1", "101", ""],
            ["无家", LONELY_ID, "", "", "", "370498001001"],
        ],
    )
    for kind, name, content in (
        (res.IMPORT_KIND_UNITS, "u.geojson", geojson_bytes(units)),
        (res.IMPORT_KIND_BUILDINGS, "b.geojson", geojson_bytes(buildings)),
        (res.IMPORT_KIND_HOUSEHOLDS, "h.csv", households),
        (res.IMPORT_KIND_PERSONS, "p.csv", persons),
    ):
        _, report, err = await import_file(stub, kind, name, content)
        assert err is None and report is not None and report.written, (name, report)


@pytest.fixture(scope="module")
async def planted(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    registry_nats: str,
    dialect: str,
) -> AsyncIterator[RegistryServiceStub]:
    tmp = tmp_path_factory.mktemp("planted")
    url = new_database(request, dialect, tmp, "planted")
    settings = registry_settings(tmp, registry_nats, url, load_demo=False)
    async with serving(settings) as r:
        await plant(r.stub)
        yield r.stub


async def audit(stub: RegistryServiceStub, unit: str, **kw: object) -> svc.AuditCoverageResponse:
    return await stub.AuditCoverage(svc.AuditCoverageRequest(unit_code=unit, **kw))  # type: ignore[arg-type]


def counts(reply: svc.AuditCoverageResponse) -> dict[int, int]:
    return {c.kind: c.count for c in reply.counts}


async def test_the_audit_finds_one_of_every_kind_of_gap_planted(
    planted: RegistryServiceStub,
) -> None:
    reply = await audit(planted, "370498")
    assert counts(reply) == {
        K.FINDING_KIND_UNCOVERED_LAND: 1,
        K.FINDING_KIND_OVERLAPPING_GRIDS: 1,
        K.FINDING_KIND_BUILDING_OUTSIDE_GRIDS: 1,
        K.FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD: 1,
        K.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON: 1,
        K.FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD: 1,
    }
    found = {f.kind: f for f in reply.findings}
    assert [f.kind for f in reply.findings] == sorted(found)
    assert found[K.FINDING_KIND_OVERLAPPING_GRIDS].subject == "370498001001001/370498001001002"
    assert found[K.FINDING_KIND_BUILDING_OUTSIDE_GRIDS].subject == "L-GAP"
    assert found[K.FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD].subject == "L-EMPTY"
    assert found[K.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON].subject == "L-HOME/1/102"
    assert found[K.FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD].subject.startswith("p-")
    assert "无家" not in found[K.FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD].description


async def test_uncovered_land_and_overlaps_come_with_their_area_and_shape(
    planted: RegistryServiceStub,
) -> None:
    reply = await audit(planted, "370498")
    found = {f.kind: f for f in reply.findings}
    for kind, expected in (
        (K.FINDING_KIND_UNCOVERED_LAND, GAP),
        (K.FINDING_KIND_OVERLAPPING_GRIDS, OVERLAP),
    ):
        f = found[kind]
        got = shape(json.loads(f.geojson))
        want = shape(expected)
        assert got.symmetric_difference(want).area < 1e-9, kind
        assert f.area_square_metres == pytest.approx(geo.area_m2(want), rel=0.01)
    gap = found[K.FINDING_KIND_UNCOVERED_LAND]
    assert gap.subject.startswith("370498001001#")  # named after the community that holds it
    assert reply.uncovered_area_square_metres == pytest.approx(gap.area_square_metres)
    assert reply.unit_area_square_metres == pytest.approx(
        geo.area_m2(shapely.box(117.0, 34.0, 117.03, 34.01)), rel=0.01
    )


async def test_findings_page_through_every_kind_without_repeats(
    planted: RegistryServiceStub,
) -> None:
    seen: list[tuple[int, str]] = []
    token = ""
    pages = 0
    while True:
        reply = await audit(planted, "370498", page_size=4, page_token=token)
        seen += [(f.kind, f.subject) for f in reply.findings]
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert pages == 2
    assert seen == sorted(set(seen)) and len(seen) == 6


async def test_the_audit_of_one_kind_lists_only_that_kind_but_counts_all(
    planted: RegistryServiceStub,
) -> None:
    reply = await audit(planted, "370498", kind=K.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON)
    assert [f.subject for f in reply.findings] == ["L-HOME/1/102"]
    assert sum(c.count for c in reply.counts) == 6


async def test_the_audit_of_a_grid_sees_only_that_grids_land_and_buildings(
    planted: RegistryServiceStub,
) -> None:
    third = counts(await audit(planted, "370498001001003"))
    assert third[K.FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD] == 1
    assert sum(third.values()) == 1
    first = counts(await audit(planted, "370498001001001"))
    assert first[K.FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON] == 1
    assert sum(first.values()) == 1


async def test_the_demo_district_is_clean(registry: RegistryServiceStub) -> None:
    for unit in ("370402", "370402003", "370402003001001"):
        reply = await audit(registry, unit)
        assert sum(counts(reply).values()) == 0, (unit, list(reply.findings)[:3])
        assert list(reply.findings) == []
        assert reply.uncovered_area_square_metres == 0
    assert (await audit(registry, "370402")).unit_area_square_metres > 90e6


async def test_auditing_an_unknown_unit_is_not_found_and_no_unit_is_invalid(
    registry: RegistryServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await audit(registry, "999999")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await audit(registry, "")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await audit(registry, "370402", kind=99)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
