"""The demo district: loaded once, checked before loading, and a true partition of land."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import grpc
import pytest
import shapely
from shapely.geometry import shape

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.registry.app import create_server
from services.registry.config import DEMO_FILE
from services.registry.demo import DemoDataError, ledger_paths
from tests.registry.conftest import registry_settings, serving

AREA_TOLERANCE = 1e-9


async def all_units(stub: RegistryServiceStub) -> list[res.Unit]:
    return list((await stub.ListUnits(svc.ListUnitsRequest(page_size=1000))).units)


async def all_staff(stub: RegistryServiceStub) -> list[res.Staff]:
    return list((await stub.ListStaff(svc.ListStaffRequest(page_size=1000))).staff)


async def test_the_demo_loads_once_and_a_restart_does_not_duplicate_it(
    tmp_path: Path, registry_nats: str, fresh_database_url: str
) -> None:
    settings = registry_settings(tmp_path, registry_nats, fresh_database_url)
    counts = []
    for _ in range(2):
        async with serving(settings) as r:
            summary = await r.stub.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code="370402"))
            counts.append(
                (
                    len(await all_units(r.stub)),
                    len(await all_staff(r.stub)),
                    summary.buildings,
                    summary.households,
                    summary.population,
                )
            )
    demo = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    ledgers = {p.name.split("-")[-1]: p for p, _ in ledger_paths(DEMO_FILE)}
    buildings = json.loads(ledgers["buildings.geojson"].read_text(encoding="utf-8"))
    households = ledgers["households.csv"].read_text(encoding="utf-8").strip().splitlines()
    persons = ledgers["persons.csv"].read_text(encoding="utf-8").strip().splitlines()
    expected = (
        len(demo["features"]),
        len(demo["staff"]),
        len(buildings["features"]),
        len(households) - 1,
        len(persons) - 1,
    )
    assert counts == [expected] * 2


async def test_without_the_demo_the_registry_starts_empty(
    tmp_path: Path, registry_nats: str, fresh_database_url: str
) -> None:
    settings = registry_settings(tmp_path, registry_nats, fresh_database_url, load_demo=False)
    async with serving(settings) as r:
        assert await all_units(r.stub) == []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await r.stub.LocateGrid(
                svc.LocateGridRequest(location=res.LatLng(latitude=34.8605, longitude=117.5585))
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_demo_file_with_a_grid_outside_its_community_stops_the_start(
    tmp_path: Path, registry_nats: str, fresh_database_url: str
) -> None:
    doc = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    grid = next(f for f in doc["features"] if f["id"] == "370402003001001")
    grid["geometry"]["coordinates"] = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = registry_settings(tmp_path, registry_nats, fresh_database_url, demo_file=broken)
    with pytest.raises(DemoDataError, match="370402003001001: boundary is not inside"):
        await create_server(settings)


async def test_every_unit_lies_inside_its_parent(registry: RegistryServiceStub) -> None:
    units = {u.code: u for u in await all_units(registry)}
    for u in units.values():
        geom = shape(json.loads(u.boundary_geojson))
        assert geom.is_valid, u.code
        assert geom.covers(shapely.Point(u.centroid.longitude, u.centroid.latitude)), u.code
        if u.level == res.UNIT_LEVEL_DISTRICT:
            continue
        parent = units[u.parent_code]
        assert parent.level == u.level - 1, u.code
        assert shape(json.loads(parent.boundary_geojson)).covers(geom), u.code


async def test_the_children_of_every_unit_tile_it_without_gaps_or_overlaps(
    registry: RegistryServiceStub,
) -> None:
    units = await all_units(registry)
    children = defaultdict(list)
    for u in units:
        if u.parent_code:
            children[u.parent_code].append(shape(json.loads(u.boundary_geojson)))
    for u in units:
        if u.level == res.UNIT_LEVEL_GRID:
            continue
        parent = shape(json.loads(u.boundary_geojson))
        parts = children[u.code]
        union = shapely.union_all(parts)
        overlap = sum(p.area for p in parts) - union.area
        assert overlap < AREA_TOLERANCE, f"children of {u.code} overlap by {overlap}"
        gap = parent.symmetric_difference(union).area
        assert gap < AREA_TOLERANCE, f"children of {u.code} miss {gap} of it"


async def test_every_grid_has_a_grid_manager(registry: RegistryServiceStub) -> None:
    grids = {u.code for u in await all_units(registry) if u.level == res.UNIT_LEVEL_GRID}
    managed = {
        g
        for s in await all_staff(registry)
        if s.role == res.STAFF_ROLE_GRID_MANAGER
        for g in s.grid_codes
    }
    assert managed == grids
