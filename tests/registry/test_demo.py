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
from services.registry.config import DEMO_FILE, RegistrySettings
from services.registry.demo import DemoDataError
from tests.conftest import running, settings_for
from tests.registry.conftest import NO_NATS

AREA_TOLERANCE = 1e-9


async def all_units(stub: RegistryServiceStub) -> list[res.Unit]:
    return list((await stub.ListUnits(svc.ListUnitsRequest(page_size=1000))).units)


async def all_staff(stub: RegistryServiceStub) -> list[res.Staff]:
    return list((await stub.ListStaff(svc.ListStaffRequest(page_size=1000))).staff)


async def test_the_demo_loads_once_and_a_restart_does_not_duplicate_it(tmp_path: Path) -> None:
    settings = settings_for(RegistrySettings, tmp_path, NO_NATS)
    counts = []
    for _ in range(2):
        async with (
            running(create_server, settings) as host,
            grpc.aio.insecure_channel(host.address) as channel,
        ):
            stub = RegistryServiceStub(channel)
            counts.append((len(await all_units(stub)), len(await all_staff(stub))))
    demo = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    assert counts == [(len(demo["features"]), len(demo["staff"]))] * 2


async def test_without_the_demo_the_registry_starts_empty(tmp_path: Path) -> None:
    settings = settings_for(RegistrySettings, tmp_path, NO_NATS, load_demo=False)
    async with (
        running(create_server, settings) as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        stub = RegistryServiceStub(channel)
        assert await all_units(stub) == []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.LocateGrid(
                svc.LocateGridRequest(location=res.LatLng(latitude=34.8605, longitude=117.5585))
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_demo_file_with_a_grid_outside_its_community_stops_the_start(
    tmp_path: Path,
) -> None:
    doc = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    grid = next(f for f in doc["features"] if f["id"] == "370402003001001")
    grid["geometry"]["coordinates"] = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = settings_for(RegistrySettings, tmp_path, NO_NATS, demo_file=broken)
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
