"""Clients this project did not write: the PyPI `georeport` package (0.3.1) lists services,
reads a service definition and reads back a request posted with its own HTTP library
(georeport has no call for posting); and a FixMyStreet-style poll of
`servicerequestupdates` sees the case go from open to closed as routing's workflow runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from georeport import GeoReport

from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common.policy import load_policy
from tests.conftest import eventually
from tests.open311.conftest import Setup
from tests.open311.helpers import children, district_time, report, strict_xml, submitted
from tests.routing.helpers import TANXIANG, by, routed

FORMATS = ["xml", "json"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_georeport_client_lists_posts_and_reads_back(o311: Setup, fmt: str) -> None:
    client = GeoReport(o311.url, jurisdiction="370402", api_key=o311.key, output_format=fmt)
    services = await asyncio.to_thread(client.get_service_list)
    assert [s["service_code"] for s in services] == [c.code for c in load_policy().categories]
    assert {s["service_name"] for s in services} >= {"路灯不亮", "野广告", "占道经营"}
    definition = await asyncio.to_thread(client.get_service_definition, "street_light")
    assert definition["service_code"] == "street_light"

    form = report(o311, community=TANXIANG, service_code="street_light", description="路灯闪烁")
    form["api_key"] = client.api_key  # type: ignore[assignment]
    form["jurisdiction_id"] = client.jurisdiction  # type: ignore[assignment]
    posted = await asyncio.to_thread(
        requests.post, f"{client.root_address}/requests.{fmt}", data=form, timeout=10
    )
    assert posted.status_code == 200, posted.text
    if fmt == "json":
        case_id = posted.json()[0]["service_request_id"]
    else:
        case_id = strict_xml_of(posted.content).findtext("request/service_request_id")

    one = await asyncio.to_thread(client.get_service_request, case_id)
    assert one["service_request_id"] == case_id
    assert one["status"] == "open" and one["service_name"] == "路灯不亮"
    assert one["description"] == "路灯闪烁"
    district_time(one["requested_datetime"])
    several = await asyncio.to_thread(client.get_service_requests, service_request_id=case_id)
    several = several if isinstance(several, list) else [several]  # xmltodict: one → a dict
    assert [r["service_request_id"] for r in several] == [case_id]
    lights = await asyncio.to_thread(
        client.get_service_requests, service_code="street_light", status="open"
    )
    lights = lights if isinstance(lights, list) else [lights]
    assert case_id in {r["service_request_id"] for r in lights}


def strict_xml_of(content: bytes) -> Any:
    from lxml import etree

    from tests.open311.helpers import STRICT

    return etree.fromstring(content, STRICT)


async def test_a_fixmystreet_poll_sees_the_case_go_from_open_to_closed(o311: Setup) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    case_id = await submitted(o311, report(o311, description="楼道灯一直闪"))
    seen: dict[str, dict[str, str]] = {}

    async def poll() -> list[dict[str, str]]:
        """As FixMyStreet does: the updates of a window, XML, merged by update_id."""
        r = await o311.http.get(
            "/servicerequestupdates.xml",
            params={
                "jurisdiction_id": "370402",
                "api_key": o311.key,
                "start_date": start.isoformat(),
                "end_date": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            },
        )
        assert r.status_code == 200, r.text
        root = strict_xml(r)
        assert root.tag == "service_request_updates"
        for el in root:
            assert el.tag == "request_update"
            assert children(el) == [
                "update_id",
                "service_request_id",
                "status",
                "updated_datetime",
                "description",
                "media_url",
            ]
            item = {c.tag: c.text or "" for c in el}
            if item["service_request_id"] == case_id:
                seen[item["update_id"]] = item
        return sorted(seen.values(), key=lambda u: int(u["update_id"]))

    case = await routed(o311.system, case_id)

    async def dispatched() -> bool:
        return any(u["description"].startswith("已交办") for u in await poll())

    await eventually(dispatched)
    assert {u["status"] for u in await poll()} == {"open"}

    electrician = by(case.assignee_staff_id or "staff-xinzhuang-electrician")
    await o311.system.routing.AcceptCase(
        routing_svc.AcceptCaseRequest(case_id=case_id, request_id="o311-acc"), metadata=electrician
    )
    await o311.system.routing.ResolveCase(
        routing_svc.ResolveCaseRequest(case_id=case_id, request_id="o311-res", result="更换灯管"),
        metadata=electrician,
    )
    await o311.system.routing.CloseCase(
        routing_svc.CloseCaseRequest(case_id=case_id, request_id="o311-close", note="居民确认"),
        metadata=by("staff-hanliyuan"),
    )

    async def closed() -> bool:
        return any(u["status"] == "closed" for u in await poll())

    await eventually(closed)
    updates = await poll()
    statuses = [u["status"] for u in updates]
    assert statuses[0] == "open" and statuses[-1] == "closed"
    assert "in_progress" in statuses
    assert statuses.index("in_progress") < statuses.index("closed")
    last = updates[-1]
    assert last["description"].startswith("已结案") and "居民确认" in last["description"]
    assert any("更换灯管" in u["description"] for u in updates)
    times = [district_time(u["updated_datetime"]) for u in updates]
    assert times == sorted(times)

    got = (await o311.http.get(f"/requests/{case_id}.json")).json()[0]
    assert got["status"] == "closed" and got["status_notes"].startswith("已结案")
    # The JSON form of the same poll carries the same updates.
    r = await o311.http.get(
        "/servicerequestupdates.json",
        params={"start_date": start.isoformat(), "end_date": datetime.now(UTC).isoformat()},
    )
    mine = [u for u in r.json() if u["service_request_id"] == case_id]
    assert [u["update_id"] for u in mine] == [u["update_id"] for u in updates]
