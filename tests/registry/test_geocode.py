"""GeocodeAddress: an address as said, matched to the demo district's buildings — the
exact address first, then by shared trigrams with a confidence — on SQLite and
PostgreSQL."""

from __future__ import annotations

import grpc
import pytest

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.registry import geocode
from tests.conftest import violations

ZHANG_BUILDING = "370402003001001-B001"


async def candidates(stub: RegistryServiceStub, address: str) -> list[svc.AddressCandidate]:
    return list((await stub.GeocodeAddress(svc.GeocodeAddressRequest(address=address))).candidates)


async def test_the_exact_address_is_one_exact_candidate(registry: RegistryServiceStub) -> None:
    found = await candidates(registry, "龙山路街道 辛庄社区辛庄路１２号院3号楼")
    assert [(c.building.code, c.confidence, c.exact) for c in found] == [
        (ZHANG_BUILDING, 1.0, True)
    ]
    assert found[0].building.grid_code == "370402003001001"


async def test_an_address_said_with_more_or_less_finds_its_building_first(
    registry: RegistryServiceStub,
) -> None:
    found = await candidates(registry, "辛庄路12号院3号楼2单元")
    assert found[0].building.code == ZHANG_BUILDING and not found[0].exact
    assert found[0].confidence == pytest.approx(
        geocode.confidence("辛庄路12号院3号楼2单元", found[0].building.address), abs=1e-4
    )
    assert all(c.confidence < found[0].confidence - 0.2 for c in found[1:])
    confidences = [c.confidence for c in found]
    assert confidences == sorted(confidences, reverse=True)


async def test_an_address_several_buildings_share_gives_them_all_alike(
    registry: RegistryServiceStub,
) -> None:
    # 檀香社区青檀路143号院 and 幸福社区青檀路185号院 both have a 1号楼.
    found = await candidates(registry, "青檀路1号楼")
    tied = {c.building.code for c in found if c.confidence == found[0].confidence}
    assert tied == {"370402003003001-B001", "370402001002002-B001"}
    assert found[0].confidence == 0.75


async def test_an_address_nothing_resembles_has_no_candidates(
    registry: RegistryServiceStub,
) -> None:
    assert await candidates(registry, "北京市海淀区中关村大街") == []


async def test_a_missing_or_long_address_is_invalid(registry: RegistryServiceStub) -> None:
    for address in ("  ", "路" * 501):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await registry.GeocodeAddress(svc.GeocodeAddressRequest(address=address))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "address" in violations(err.value)


def test_confidence_is_the_shared_share_of_the_shorter_address() -> None:
    assert geocode.confidence("文化路56号院1号楼", "龙山路街道辛庄社区文化路56号院1号楼") == 1.0
    assert geocode.confidence("文化路56号院1号楼", "龙山路街道辛庄社区文化路56号院2号楼") == 5 / 8
    assert geocode.confidence("", "文化路") == 0.0
