"""LocateGrid: a point to its grid, community, street and district."""

from __future__ import annotations

import grpc
import pytest
from prometheus_client import REGISTRY

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from tests.conftest import error_details

ZHANG_SHENGQI_HOME = res.LatLng(latitude=34.8605, longitude=117.5585)


def locate_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("lianxin_registry_locate_total", {"outcome": outcome}) or 0.0


async def test_zhang_shengqis_home_is_in_han_liyuans_grid_of_xinzhuang(
    registry: RegistryServiceStub,
) -> None:
    before = locate_count("found")
    r = await registry.LocateGrid(svc.LocateGridRequest(location=ZHANG_SHENGQI_HOME))
    assert r.grid.code == "370402003001001"
    assert r.grid.level == res.UNIT_LEVEL_GRID
    assert (r.community.code, r.community.name) == ("370402003001", "辛庄社区")
    assert (r.street.code, r.street.name) == ("370402003", "龙山路街道")
    assert (r.district.code, r.district.name) == ("370402", "市中区")
    assert r.grid.boundary_geojson.startswith('{"type":"Polygon"')
    assert locate_count("found") == before + 1


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 0.0), (35.5, 118.5), (34.86, 117.40)])
async def test_a_point_outside_every_grid_is_not_found_with_reason_outside_all_grids(
    registry: RegistryServiceStub, lat: float, lon: float
) -> None:
    before = locate_count("outside")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.LocateGrid(
            svc.LocateGridRequest(location=res.LatLng(latitude=lat, longitude=lon))
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"latitude {lat}" in (caught.value.details() or "")
    info, _ = error_details(caught.value)
    assert info.reason == "OUTSIDE_ALL_GRIDS"
    assert info.metadata["longitude"] == str(lon)
    assert locate_count("outside") == before + 1


async def test_a_point_on_a_shared_corner_resolves_to_the_lowest_grid_code(
    registry: RegistryServiceStub,
) -> None:
    # 34.858 / 117.565 is the corner all four grids of 辛庄社区 share.
    corner = res.LatLng(latitude=34.858, longitude=117.565)
    r = await registry.LocateGrid(svc.LocateGridRequest(location=corner))
    assert r.grid.code == "370402003001001"


async def test_a_point_in_a_village_names_the_village_and_its_town(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.LocateGrid(
        svc.LocateGridRequest(location=res.LatLng(latitude=34.89, longitude=117.59))
    )
    assert r.grid.code == "370402101202001"
    assert (r.community.name, r.community.type_name) == ("西塔村", "村")
    assert (r.street.name, r.street.type_name) == ("税郭镇", "镇")


async def test_dongta_village_lies_in_guangminglu_street_as_the_article_says(
    registry: RegistryServiceStub,
) -> None:
    # 光明路街道东塔村党支部 (the party-branch story): the village east of the street's
    # city communities.
    r = await registry.LocateGrid(
        svc.LocateGridRequest(location=res.LatLng(latitude=34.83, longitude=117.585))
    )
    assert r.grid.code == "370402004201001"
    assert (r.community.name, r.community.type_name) == ("东塔村", "村")
    assert (r.street.name, r.street.type_name) == ("光明路街道", "街道")


@pytest.mark.parametrize(
    ("place", "community"),
    [
        ("檀香苑", "檀香社区"),
        ("华西小区", "光明社区"),
        ("龙宾路", "长乐社区"),
        ("文化四村", "文化社区"),
        ("幸福小区", "幸福社区"),
        ("公胜街", "龙山社区"),
    ],
)
async def test_the_civilised_city_inspection_sites_are_buildings_of_the_demo(
    registry: RegistryServiceStub, place: str, community: str
) -> None:
    found = await registry.SearchRegistry(svc.SearchRegistryRequest(query=place, page_size=100))
    addresses = [h.building.address for h in found.hits if h.HasField("building")]
    assert addresses and all(place in a and community in a for a in addresses)
    (first,) = (
        await registry.GeocodeAddress(
            svc.GeocodeAddressRequest(address=addresses[0], max_candidates=1)
        )
    ).candidates
    assert first.exact and first.building.grid_code


async def test_latitude_91_is_invalid_argument_naming_the_field(
    registry: RegistryServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.LocateGrid(
            svc.LocateGridRequest(location=res.LatLng(latitude=91, longitude=117.5))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad = error_details(caught.value)
    assert [v.field for v in bad.field_violations] == ["location.latitude"]


async def test_a_longitude_that_is_not_a_number_is_invalid_argument(
    registry: RegistryServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.LocateGrid(
            svc.LocateGridRequest(location=res.LatLng(latitude=34.86, longitude=float("nan")))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad = error_details(caught.value)
    assert [v.field for v in bad.field_violations] == ["location.longitude"]


async def test_a_request_without_a_location_is_invalid_argument(
    registry: RegistryServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.LocateGrid(svc.LocateGridRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad = error_details(caught.value)
    assert [v.field for v in bad.field_violations] == ["location"]


def test_the_fast_lookup_agrees_with_the_strtree_on_shared_edges_and_corners() -> None:
    import json
    import random
    from types import SimpleNamespace

    import shapely

    from services.registry import generate
    from services.registry.gridmap import GridMap
    from services.registry.importer import vocabulary

    features, _ = generate.units(generate.SMALL, random.Random(7))
    rows = [
        SimpleNamespace(
            code=f["properties"]["code"],
            name=f["properties"]["name"],
            level=vocabulary.LEVELS[f["properties"]["level"]],
            type_name=f["properties"]["type_name"],
            parent_code=f["properties"]["parent_code"],
            boundary_geojson=json.dumps(f["geometry"]),
            centroid_lat=None,
            centroid_lon=None,
        )
        for f in features
    ]
    grid_map = GridMap(rows)
    rng = random.Random(1)
    minx, miny, maxx, maxy = shapely.total_bounds(grid_map.geoms)
    points = [
        (rng.uniform(miny - 0.001, maxy + 0.001), rng.uniform(minx - 0.001, maxx + 0.001))
        for _ in range(3000)
    ]
    # Every vertex of every grid: points on edges and corners shared by several grids.
    for g in grid_map.geoms:
        points += [(y, x) for x, y in g.exterior.coords]
    fast = [grid_map.locate_code(lat, lon) for lat, lon in points]
    assert fast == grid_map.locate_many([p[0] for p in points], [p[1] for p in points])
    assert {c for c in fast if c} == set(grid_map.codes)
    assert "" in fast
