"""GetRanking and `lianxin ranking` over a scenario with known figures, through the four
real services: communities, streets and departments, best first, ties sharing a rank."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.cli.main import main
from tests.conftest import violations
from tests.routing.helpers import LONGSHAN, TANXIANG, XINZHUANG, new_case
from tests.routing.test_lifecycle import accept, close, escalate, resolve
from tests.system import System

S = res


async def closed_case(system: System, ref: str, community: str, *, rework: bool = False) -> None:
    case = await new_case(system, ref, community=community)
    await accept(system, case.id, f"{ref}-a")
    await resolve(system, case.id, f"{ref}-r")
    if rework:
        await system.routing.ReworkCase(
            svc.ReworkCaseRequest(case_id=case.id, request_id=f"{ref}-w", reason="未修好")
        )
        await resolve(system, case.id, f"{ref}-r2")
    await close(system, case.id, f"{ref}-c")


@pytest.fixture(scope="module")
async def scenario(system: System) -> System:
    # 辛庄: 2 received, 2 closed (one after a rework); 龙山: 2 received, 1 closed;
    # 檀香: 1 received, escalated up to the district's power department, still open.
    await closed_case(system, "rk-x1", XINZHUANG)
    await closed_case(system, "rk-x2", XINZHUANG, rework=True)
    await closed_case(system, "rk-l1", LONGSHAN)
    await new_case(system, "rk-l2", community=LONGSHAN)
    up = await new_case(system, "rk-t1", community=TANXIANG)
    await escalate(system, up.id, "rk-t1-e1")
    await escalate(system, up.id, "rk-t1-e2")
    return system


async def ranking(system: System, level: int, figure: str) -> list[tuple[int, str, int, int]]:
    reply = await system.routing.GetRanking(svc.GetRankingRequest(level=level, indicator_id=figure))
    return [
        (e.rank, e.unit_code, e.indicator.numerator, e.indicator.denominator) for e in reply.entries
    ]


async def test_communities_rank_by_closure_rate_best_first(scenario: System) -> None:
    assert await ranking(scenario, S.LEVEL_COMMUNITY, "closure_rate") == [
        (1, XINZHUANG, 2, 2),
        (2, LONGSHAN, 1, 2),
        (3, TANXIANG, 0, 1),
    ]
    reply = await scenario.routing.GetRanking(
        svc.GetRankingRequest(level=S.LEVEL_COMMUNITY, indicator_id="closure_rate")
    )
    assert reply.entries[0].unit_name == "辛庄社区"
    assert reply.entries[0].indicator.formula_id == "closed/received"
    assert not reply.lower_is_better and reply.formula_version == "2"


async def test_a_lower_rework_rate_ranks_higher_and_nothing_to_divide_is_unranked(
    scenario: System,
) -> None:
    assert await ranking(scenario, S.LEVEL_COMMUNITY, "rework_rate") == [
        (1, LONGSHAN, 0, 1),
        (2, XINZHUANG, 1, 2),
        (0, TANXIANG, 0, 0),
    ]


async def test_streets_and_departments_rank_too(scenario: System) -> None:
    assert await ranking(scenario, S.LEVEL_STREET, "closure_rate") == [(1, "370402003", 3, 5)]
    assert await ranking(scenario, S.LEVEL_DISTRICT, "closure_rate") == [
        (1, "370402-D-POWER", 0, 1)
    ]


async def test_a_ranking_needs_a_level_and_a_known_figure(scenario: System) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await scenario.routing.GetRanking(svc.GetRankingRequest(indicator_id="received"))
    assert set(violations(err.value)) == {"level", "indicator_id"}


async def test_lianxin_ranking_prints_the_ranking(
    scenario: System, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = [f"--{name}={host.address}" for name, host in scenario.hosts.items()]
    args = [*targets, "ranking", "community", "--period", "2014-11"]
    assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr().out
    assert "community ranking by closure_rate (higher is better)" in out
    lines = [line for line in out.splitlines() if "社区 (" in line]
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]
    assert "辛庄社区 (370402003001)" in lines[0] and "100.0%" in lines[0]
    assert "2/2" in lines[0] and "1/2" in lines[1]
    assert (
        await asyncio.to_thread(main, [*targets, "ranking", "street", "--by", "rework_rate"]) == 0
    )
    assert "1/3" in capsys.readouterr().out
