"""GetUnit, ListUnits and ListDepartments over the demo district."""

from __future__ import annotations

import grpc
import pytest

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from tests.conftest import error_details

STREETS_OF_SHIZHONG = ["370402001", "370402003", "370402004", "370402101"]


async def test_get_unit_returns_xinzhuang_with_its_parent_and_a_centroid_inside(
    registry: RegistryServiceStub,
) -> None:
    u = (await registry.GetUnit(svc.GetUnitRequest(code="370402003001"))).unit
    assert (u.name, u.level, u.type_name) == ("辛庄社区", res.UNIT_LEVEL_COMMUNITY, "社区")
    assert u.parent_code == "370402003"
    assert 34.85 < u.centroid.latitude < 34.87 and 117.55 < u.centroid.longitude < 117.58


async def test_get_unit_of_an_unknown_code_is_not_found(registry: RegistryServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.GetUnit(svc.GetUnitRequest(code="999999"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_unit_without_a_code_is_invalid_argument(registry: RegistryServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.GetUnit(svc.GetUnitRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad = error_details(caught.value)
    assert [v.field for v in bad.field_violations] == ["code"]


async def test_list_units_pages_through_every_street_of_shizhong(
    registry: RegistryServiceStub,
) -> None:
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        r = await registry.ListUnits(
            svc.ListUnitsRequest(parent_code="370402", page_size=3, page_token=token)
        )
        seen += [u.code for u in r.units]
        pages += 1
        token = r.next_page_token
        if not token:
            break
    assert seen == STREETS_OF_SHIZHONG
    assert pages == 2


async def test_list_units_by_level_returns_only_that_level_in_code_order(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListUnits(svc.ListUnitsRequest(level=res.UNIT_LEVEL_STREET))
    assert [u.code for u in r.units] == STREETS_OF_SHIZHONG
    assert not r.next_page_token


async def test_every_street_has_two_or_three_communities_of_three_or_four_grids(
    registry: RegistryServiceStub,
) -> None:
    communities = (
        await registry.ListUnits(svc.ListUnitsRequest(level=res.UNIT_LEVEL_COMMUNITY))
    ).units
    grids = (
        await registry.ListUnits(svc.ListUnitsRequest(level=res.UNIT_LEVEL_GRID, page_size=1000))
    ).units
    for street in STREETS_OF_SHIZHONG:
        assert 2 <= sum(c.parent_code == street for c in communities) <= 3
    for c in communities:
        mine = [g for g in grids if g.parent_code == c.code]
        assert 3 <= len(mine) <= 4
        assert all(g.code[:-3] == c.code and g.code[-3:].isdigit() for g in mine)


async def test_an_unknown_level_or_a_forged_page_token_is_invalid_argument(
    registry: RegistryServiceStub,
) -> None:
    for request in (svc.ListUnitsRequest(level=9), svc.ListUnitsRequest(page_token="%%%")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await registry.ListUnits(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_departments_includes_power_supply_in_code_order(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListDepartments(svc.ListDepartmentsRequest())
    codes = [d.code for d in r.departments]
    assert codes == sorted(codes)
    assert "370402-D-POWER" in codes
    assert {d.district_code for d in r.departments} == {"370402"}
