"""SearchRegistry: Chinese names and addresses in part, phone and ID-number tails, ranked
and paged, within the caller's jurisdiction."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import grpc
import pytest

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.registry import idcard
from tests.conftest import violations
from tests.registry.conftest import DISTRICT, TOWN, caller, import_file, registry_settings, serving
from tests.registry.test_import import P, load_town, people

ZHANG_ID = idcard.make("370402", date(1946, 3, 12), 31)
ZHANG_BUILDING = "370402003001001-B001"


async def search(
    stub: RegistryServiceStub, query: str, metadata: object = DISTRICT, **kw: object
) -> svc.SearchRegistryResponse:
    """A search as a district operator (persons are shown only within a jurisdiction)."""
    return await stub.SearchRegistry(
        svc.SearchRegistryRequest(query=query, **kw),  # type: ignore[arg-type]
        metadata=metadata,  # type: ignore[arg-type]
    )


def names(reply: svc.SearchRegistryResponse) -> list[str]:
    return [h.person.name for h in reply.hits if h.HasField("person")]


@pytest.mark.parametrize("query", ["张胜起", "胜起", "张胜"])
async def test_a_person_is_found_by_the_whole_or_part_of_the_name(
    registry: RegistryServiceStub, query: str
) -> None:
    reply = await search(registry, query)
    assert "张胜起" in names(reply)
    zhang = next(h for h in reply.hits if h.person.name == "张胜起")
    assert zhang.address == "龙山路街道辛庄社区辛庄路12号院3号楼2单元301室"


async def test_the_exact_name_ranks_before_names_that_only_contain_it(
    registry: RegistryServiceStub,
) -> None:
    reply = await search(registry, "张胜起")
    assert reply.hits[0].person.name == "张胜起"
    ranks = [h.rank for h in reply.hits]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize("query", ["辛庄路12号", "12号院3号楼"])
async def test_a_building_and_its_residents_are_found_by_part_of_the_address(
    registry: RegistryServiceStub, query: str
) -> None:
    reply = await search(registry, query, page_size=100)
    buildings = [h.building.code for h in reply.hits if h.HasField("building")]
    assert buildings == [ZHANG_BUILDING]
    assert reply.hits[0].building.code == ZHANG_BUILDING  # places before their residents
    assert "张胜起" in names(reply)


async def test_a_person_is_found_by_the_tail_of_the_phone_or_id_number(
    registry: RegistryServiceStub,
) -> None:
    for query in ("5566", "06325566", ZHANG_ID[-6:], ZHANG_ID[-4:].lower()):
        assert "张胜起" in names(await search(registry, query)), query


async def test_a_tail_matches_only_the_end(registry: RegistryServiceStub) -> None:
    assert "张胜起" not in names(await search(registry, "1380"))


async def test_a_unit_filter_or_a_jurisdiction_keeps_results_inside_it(
    registry: RegistryServiceStub,
) -> None:
    assert names(await search(registry, "张胜起", unit_code="370402004")) == []
    assert "张胜起" in names(await search(registry, "张胜起", unit_code="370402003"))
    elsewhere = caller("staff-guangming", jurisdiction="370402004")
    reply = await registry.SearchRegistry(
        svc.SearchRegistryRequest(query="张胜起"), metadata=elsewhere
    )
    assert names(reply) == []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.SearchRegistry(
            svc.SearchRegistryRequest(query="张胜起", unit_code="370402003"), metadata=elsewhere
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_without_a_jurisdiction_a_search_finds_buildings_and_no_persons(
    registry: RegistryServiceStub,
) -> None:
    for metadata in (
        caller("staff-x"),
        caller("staff-x", permissions=("pii:read",), purpose="home_visit"),
    ):
        reply = await search(registry, "辛庄路12号", metadata, page_size=100)
        assert [h.building.code for h in reply.hits] == [ZHANG_BUILDING]
        assert names(await search(registry, "张胜起", metadata)) == []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await search(registry, "5566", metadata)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "jurisdiction" in (caught.value.details() or "")


async def test_results_page_without_repeats_buildings_first(registry: RegistryServiceStub) -> None:
    seen: list[tuple[str, str]] = []
    token = ""
    while True:
        reply = await search(registry, "辛庄", page_size=7, page_token=token)
        seen += [
            ("b", h.building.code) if h.HasField("building") else ("p", h.person.id)
            for h in reply.hits
        ]
        token = reply.next_page_token
        if not token:
            break
    summary = await registry.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code="370402003001"))
    assert len(seen) == len(set(seen)) == summary.buildings + summary.population
    kinds = [k for k, _ in seen]
    assert kinds == sorted(kinds)  # "b" before "p"


@pytest.mark.parametrize(
    ("query", "token"),
    [("张", ""), ("123", ""), ("x" * 101, ""), ("张胜起", "%%%")],
)
async def test_a_query_too_short_or_a_forged_token_is_invalid_argument(
    registry: RegistryServiceStub, query: str, token: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await search(registry, query, page_token=token)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_token_of_another_query_is_refused(registry: RegistryServiceStub) -> None:
    token = (await search(registry, "辛庄", page_size=1)).next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await search(registry, "龙山", page_token=token)
    assert violations(caught.value) == {"page_token": "belongs to another query"}


async def test_a_renamed_person_is_found_by_the_new_name_only(
    tmp_path: Path, registry_nats: str, fresh_database_url: str
) -> None:
    settings = registry_settings(tmp_path, registry_nats, fresh_database_url, load_demo=False)
    async with serving(settings) as r:
        await load_town(r)
        assert names(await search(r.stub, "钱小梅", TOWN)) == ["钱小梅"]
        renamed = people().replace("钱小梅".encode(), "钱晓梅".encode())
        _, report, err = await import_file(r.stub, P, "persons.csv", renamed)
        assert err is None and report is not None and report.updated == 1
        assert names(await search(r.stub, "钱小梅", TOWN)) == []
        assert names(await search(r.stub, "钱晓梅", TOWN)) == ["钱晓梅"]
        assert names(await search(r.stub, "测试路1号2号楼", TOWN, page_size=50)) == ["孙立"]
