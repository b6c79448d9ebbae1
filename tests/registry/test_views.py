"""Views of the map (看图知片情、看房知人、看人知情): a unit at a glance, a building with its
households, a person with household and cases — the cases asked from routing."""

from __future__ import annotations

import csv
import json
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import pytest

from lianxin.intake.v1.intake_service_pb2_grpc import IntakeServiceStub
from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1.routing_service_pb2_grpc import RoutingServiceStub
from services.common.natsserver import free_port
from services.intake.app import create_server as create_intake
from services.intake.config import IntakeSettings
from services.registry.config import DEMO_FILE
from services.registry.demo import ledger_paths
from services.registry.importer import vocabulary
from services.routing.app import create_server as create_routing
from services.routing.config import RoutingSettings
from tests import callers
from tests.conftest import eventually, running, settings_for
from tests.registry.conftest import DISTRICT, registry_settings, serving
from tests.system import story_submission

XINZHUANG = "370402003001"
ZHANG_BUILDING = "370402003001001-B001"


def demo_ledger(prefix: str) -> tuple[int, int, list[list[str]]]:
    """Buildings, households and person rows of the demo ledgers under `prefix`."""
    files = {p.name.split("-")[-1]: p for p, _ in ledger_paths(DEMO_FILE)}
    buildings = json.loads(files["buildings.geojson"].read_text(encoding="utf-8"))["features"]
    with files["households.csv"].open(encoding="utf-8") as f:
        households = list(csv.reader(f))[1:]
    with files["persons.csv"].open(encoding="utf-8") as f:
        persons = list(csv.reader(f))[1:]
    return (
        sum(b["properties"]["code"].startswith(prefix) for b in buildings),
        sum(h[0].startswith(prefix) for h in households),
        [p for p in persons if p[5].startswith(prefix)],
    )


async def test_the_summary_of_xinzhuang_counts_its_base_data_and_tags(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code=XINZHUANG))
    buildings, households, persons = demo_ledger(XINZHUANG)
    assert (r.unit.name, r.grids) == ("辛庄社区", 4)
    assert (r.buildings, r.households, r.population) == (buildings, households, len(persons))
    tags = {t.tag: t.count for t in r.tag_counts}
    assert set(tags) == set(vocabulary.TAG_NAMES)
    for tag, word in vocabulary.TAG_NAMES.items():
        assert tags[tag] == sum(word in p[9] for p in persons), word
    assert tags[res.PERSON_TAG_ELDERLY_LIVING_ALONE] >= 1  # 张胜起


async def test_without_routing_the_summary_says_cases_are_unavailable(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code="370402"))
    assert not r.cases.available
    assert "routing" in r.cases.unavailable_reason
    assert r.population > 0


async def test_the_building_view_shows_households_in_order_with_their_residents(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.GetBuildingView(
        svc.GetBuildingViewRequest(code=ZHANG_BUILDING), metadata=DISTRICT
    )
    assert (r.building.name, r.building.grid_code) == ("3号楼", "370402003001001")
    assert (r.building.location.latitude, r.building.location.longitude) == (34.8605, 117.5585)
    assert r.building.household_count == len(r.households)
    keys = [(hv.household.unit_number, hv.household.room) for hv in r.households]
    assert keys == sorted(keys)
    home = next(hv for hv in r.households if hv.household.id == f"{ZHANG_BUILDING}/2/301")
    assert home.household.address.endswith("3号楼2单元301室")
    assert [p.name for p in home.residents] == ["张胜起"]
    assert home.household.resident_count == 1


async def test_the_person_view_shows_the_household_and_the_others_in_it(
    registry: RegistryServiceStub,
) -> None:
    building = await registry.GetBuildingView(
        svc.GetBuildingViewRequest(code=ZHANG_BUILDING), metadata=DISTRICT
    )
    family = next(hv for hv in building.households if len(hv.residents) >= 2)
    me, *others = family.residents
    r = await registry.GetPersonView(svc.GetPersonViewRequest(person_id=me.id), metadata=DISTRICT)
    assert r.household.id == family.household.id
    assert r.building.code == ZHANG_BUILDING
    assert sorted(p.id for p in r.household_members) == sorted(p.id for p in others)
    assert list(r.cases) == [] and r.case_status_available


@pytest.mark.parametrize(
    ("call", "request_", "code"),
    [
        ("GetBuildingView", svc.GetBuildingViewRequest(code="NO-SUCH"), grpc.StatusCode.NOT_FOUND),
        ("GetBuildingView", svc.GetBuildingViewRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        ("GetPersonView", svc.GetPersonViewRequest(person_id="p-x"), grpc.StatusCode.NOT_FOUND),
        ("GetPersonView", svc.GetPersonViewRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        ("GetAreaSummary", svc.GetAreaSummaryRequest(unit_code="9"), grpc.StatusCode.NOT_FOUND),
        ("GetAreaSummary", svc.GetAreaSummaryRequest(), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_unknown_things_are_not_found_and_missing_keys_are_invalid(
    registry: RegistryServiceStub, call: str, request_: object, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        # Person and building views need a jurisdiction (test_personal_data.py).
        metadata = DISTRICT if call.endswith("View") else ()
        await getattr(registry, call)(request_, metadata=metadata)
    assert caught.value.code() == code


async def test_with_routing_the_summary_counts_open_cases_and_the_reporter_sees_his_case(
    tmp_path: Path, nats_url: str, fresh_database_url: str
) -> None:
    # A NATS of its own: the module's other registry would share the durable consumer.
    registry_port = free_port()
    async with AsyncExitStack() as stack:
        routing = await stack.enter_async_context(
            running(
                create_routing,
                settings_for(
                    RoutingSettings,
                    tmp_path,
                    nats_url,
                    registry_target=f"127.0.0.1:{registry_port}",
                ),
            )
        )
        intake = await stack.enter_async_context(
            running(create_intake, settings_for(IntakeSettings, tmp_path, nats_url))
        )
        reg = await stack.enter_async_context(
            serving(
                registry_settings(
                    tmp_path,
                    nats_url,
                    fresh_database_url,
                    grpc_port=registry_port,
                    routing_target=routing.address,
                )
            )
        )
        channels = [
            await stack.enter_async_context(callers.channel(h.address)) for h in (intake, routing)
        ]
        intake_stub, routing_stub = IntakeServiceStub(channels[0]), RoutingServiceStub(channels[1])
        ref = f"views-{tmp_path.name}"
        case_id = (await intake_stub.SubmitCase(story_submission(ref))).case.id

        async def dispatched() -> bool:
            try:
                got = await routing_stub.GetCase(routing_svc.GetCaseRequest(case_id=case_id))
            except grpc.aio.AioRpcError:
                return False
            return got.case.status == routing_res.CASE_STATUS_DISPATCHED

        await eventually(dispatched)
        summary = await reg.stub.GetAreaSummary(svc.GetAreaSummaryRequest(unit_code=XINZHUANG))
        assert summary.cases.available, summary.cases.unavailable_reason
        assert (summary.cases.open, summary.cases.overdue) == (1, 0)
        zhang = next(
            h.person
            for h in (
                await reg.stub.SearchRegistry(
                    svc.SearchRegistryRequest(query="张胜起"), metadata=DISTRICT
                )
            ).hits
        )

        async def linked() -> list[res.PersonCase]:
            view = await reg.stub.GetPersonView(
                svc.GetPersonViewRequest(person_id=zhang.id), metadata=DISTRICT
            )
            return list(view.cases)

        cases = await eventually(linked)
        assert [(c.case_id, c.category) for c in cases] == [(case_id, "household_electrical")]
        assert cases[0].status == routing_res.CASE_STATUS_DISPATCHED
