"""GeoReport v2 conformance: every resource and parameter, in XML and JSON, against the
real gateway in front of the real services. XML is parsed by a strict parser and compared
with the element names, order and types of the spec's examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common.policy import load_policy
from tests.conftest import eventually
from tests.open311.conftest import Setup
from tests.open311.helpers import (
    children,
    district_time,
    json_body,
    post,
    record,
    report,
    strict_xml,
    submitted,
)
from tests.routing.helpers import LONGSHAN, TANXIANG

FORMATS = ["xml", "json"]

# The element names (in order) of the spec's examples (wiki.open311.org/GeoReport_v2).
SPEC_SERVICE = [
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
]  # fmt: skip
SPEC_REQUEST = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
]  # fmt: skip
SPEC_CREATED = ["service_request_id", "service_notice", "account_id"]
SPEC_TOKEN = ["service_request_id", "token"]
SPEC_DISCOVERY = ["changeset", "contact", "key_service", "endpoints"]
SPEC_ENDPOINT = ["specification", "url", "changeset", "type", "formats"]
SPEC_UPDATE = [
    "update_id", "service_request_id", "status", "updated_datetime", "description", "media_url",
]  # fmt: skip

POLICY = load_policy()


def subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(x in it for x in small)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_services_lists_the_districts_categories(o311: Setup, fmt: str) -> None:
    r = await o311.http.get(f"/services.{fmt}", params={"jurisdiction_id": "370402"})
    assert r.status_code == 200
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "services" and set(children(root)) == {"service"}
        items = []
        for el in root:
            assert children(el) == SPEC_SERVICE
            item = record(el)
            assert item["metadata"] in ("true", "false")
            items.append(item)
    else:
        items = json_body(r)
        assert all(list(i) == SPEC_SERVICE for i in items)
        assert all(isinstance(i["metadata"], bool) for i in items)
    assert [(i["service_code"], i["service_name"]) for i in items] == [
        (c.code, c.name) for c in POLICY.categories
    ]
    lights = next(i for i in items if i["service_code"] == "street_light")
    assert lights["type"] == "realtime"
    assert lights["group"] == "街道办理" and "16个工作小时" in lights["description"]
    assert "路灯不亮" in lights["keywords"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_service_definition_names_its_code_and_attributes(o311: Setup, fmt: str) -> None:
    r = await o311.http.get(f"/services/sanitation.{fmt}")
    assert r.status_code == 200
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "service_definition"
        assert children(root) == ["service_code", "attributes"]
        assert root.findtext("service_code") == "sanitation" and len(root.find("attributes")) == 0
    else:
        assert json_body(r) == {"service_code": "sanitation", "attributes": []}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_discovery_names_the_endpoint_and_its_formats(o311: Setup, fmt: str) -> None:
    r = await o311.http.get(f"/discovery.{fmt}")
    assert r.status_code == 200
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "discovery" and children(root) == SPEC_DISCOVERY
        endpoint = root.find("endpoints/endpoint")
        assert children(endpoint) == SPEC_ENDPOINT
        url, formats = endpoint.findtext("url"), [f.text for f in endpoint.find("formats")]
        spec = endpoint.findtext("specification")
    else:
        doc = json_body(r)
        assert list(doc) == SPEC_DISCOVERY and list(doc["endpoints"][0]) == SPEC_ENDPOINT
        url, formats = doc["endpoints"][0]["url"], doc["endpoints"][0]["formats"]
        spec = doc["endpoints"][0]["specification"]
    assert url == o311.url and spec == "http://wiki.open311.org/GeoReport_v2"
    assert formats == ["text/xml", "application/json"]


async def test_the_openapi_description_lists_every_resource(o311: Setup) -> None:
    doc = (await o311.http.get("/openapi.json")).json()
    assert set(doc["paths"]) >= {
        "/discovery.{fmt}",
        "/services.{fmt}",
        "/services/{service_code}.{fmt}",
        "/requests.{fmt}",
        "/requests/{service_request_id}.{fmt}",
        "/tokens/{token}.{fmt}",
        "/servicerequestupdates.{fmt}",
    }
    post_form = doc["paths"]["/requests.{fmt}"]["post"]["requestBody"]["content"]
    props = post_form["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert {"api_key", "service_code", "lat", "long", "address_string", "media_url"} <= set(props)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_posted_request_reads_back_with_every_field(o311: Setup, fmt: str) -> None:
    form = report(
        o311,
        community=LONGSHAN,
        service_code="street_light",
        description='辛庄路口的路灯不亮了，晚上很黑 <注意> & "安全"',
        address_string="龙山路街道龙山社区辛庄路口",
        media_url="https://photos.example.org/路灯.jpg",
        email="zhang@example.org",
    )
    r = await post(o311, form, fmt)
    assert r.status_code == 200, r.text
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "service_requests" and children(root) == ["request"]
        created = record(root[0])
        assert subsequence(SPEC_CREATED, children(root[0]))
    else:
        created = json_body(r)[0]
        assert subsequence(SPEC_CREATED, list(created))
    case_id = created["service_request_id"]
    assert created["service_notice"].startswith("由街道首先办理")

    async def dispatched() -> dict[str, str] | None:
        got = json_body(await o311.http.get(f"/requests/{case_id}.json"))[0]
        return got if got["agency_responsible"] else None

    await eventually(dispatched)
    r = await o311.http.get(f"/requests/{case_id}.{fmt}", params={"jurisdiction_id": "370402"})
    assert r.status_code == 200
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "service_requests" and children(root) == ["request"]
        assert children(root[0]) == SPEC_REQUEST
        got: dict = record(root[0])
        lat, lon = float(got["lat"]), float(got["long"])
    else:
        body = json_body(r)
        assert len(body) == 1 and list(body[0]) == SPEC_REQUEST
        got = body[0]
        lat, lon = got["lat"], got["long"]
        assert isinstance(lat, float) and got["address_id"] is None
    assert got["service_request_id"] == case_id
    assert got["status"] == "open"
    assert got["service_code"] == "street_light" and got["service_name"] == "路灯不亮"
    assert got["description"] == form["description"]  # Chinese and markup, unchanged
    assert got["address"] == form["address_string"]
    assert (lat, lon) == (float(form["lat"]), float(form["long"]))
    assert got["agency_responsible"] == "龙山路街道"
    assert got["status_notes"].startswith("已交办（龙山路街道）")
    assert got["media_url"] == form["media_url"]
    requested = district_time(got["requested_datetime"])
    assert abs(requested - datetime.now(UTC)) < timedelta(minutes=5)
    assert district_time(got["updated_datetime"]) >= requested
    assert district_time(got["expected_datetime"]) > requested  # the street's deadline


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_token_gives_the_service_request_id(o311: Setup, fmt: str) -> None:
    case_id = await submitted(o311, report(o311, community=TANXIANG))
    r = await o311.http.get(f"/tokens/{case_id}.{fmt}")
    assert r.status_code == 200
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "service_requests" and children(root[0]) == SPEC_TOKEN
        assert record(root[0]) == {"service_request_id": case_id, "token": case_id}
    else:
        assert json_body(r) == [{"service_request_id": case_id, "token": case_id}]


async def _ids(o311: Setup, fmt: str, **params: str) -> list[str]:
    r = await o311.http.get(f"/requests.{fmt}", params=params)
    assert r.status_code == 200, r.text
    if fmt == "xml":
        root = strict_xml(r)
        assert root.tag == "service_requests"
        assert all(children(el) == SPEC_REQUEST for el in root)
        return [el.findtext("service_request_id") for el in root]
    return [x["service_request_id"] for x in json_body(r)]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_requests_are_filtered_by_every_parameter(o311: Setup, fmt: str) -> None:
    start = datetime.now(UTC) - timedelta(milliseconds=1)
    a = await submitted(o311, report(o311, service_code="wild_advertising"))
    b = await submitted(o311, report(o311, service_code="wild_advertising"))
    c = await submitted(o311, report(o311, service_code="neighbour_dispute"))
    end = datetime.now(UTC) + timedelta(seconds=1)
    window = {"start_date": start.isoformat(), "end_date": end.isoformat()}

    # By id (a comma list; unknown ids are left out), overriding every other filter.
    assert await _ids(
        o311, fmt, service_request_id=f"{a},{c},no-such-id", service_code="sanitation"
    ) == [a, c]
    # By service codes (a comma list) in the window, newest first.
    assert await _ids(o311, fmt, service_code="wild_advertising", **window) == [b, a]
    assert await _ids(o311, fmt, service_code="wild_advertising,neighbour_dispute", **window) == [
        c,
        b,
        a,
    ]
    # By status.
    assert await _ids(o311, fmt, service_code="wild_advertising", status="open", **window) == [
        b,
        a,
    ]
    assert await _ids(o311, fmt, service_code="wild_advertising", status="closed", **window) == []
    # A window in the district's own time (no offset given) and one before the requests.
    local = (start + timedelta(hours=8)).replace(tzinfo=None)
    assert c in await _ids(o311, fmt, start_date=local.isoformat(timespec="seconds"))
    before = {"start_date": (start - timedelta(days=30)).isoformat(), "end_date": start.isoformat()}
    assert not {a, b, c} & set(await _ids(o311, fmt, **before))
    # Without dates: the last 90 days.
    assert {a, b, c} <= set(await _ids(o311, fmt))
    # Pages (the common extension), newest first.
    both = {"service_code": "wild_advertising,neighbour_dispute", **window}
    p1 = await _ids(o311, fmt, page_size="2", page="1", **both)
    p2 = await _ids(o311, fmt, page_size="2", page="2", **both)
    assert p1 == [c, b] and p2 == [a]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_address_without_a_point_is_taken_and_read_back_without_lat_long(
    o311: Setup, fmt: str
) -> None:
    form = {
        "api_key": o311.key,
        "service_code": "sanitation",
        "address_string": "龙山路街道辛庄社区3号楼2单元",
        "device_id": "phone-1",
        "account_id": "acct-7",
        "address_id": "A-1",
    }  # no description either: optional in GeoReport
    case_id = await submitted(o311, form)
    r = await o311.http.get(f"/requests/{case_id}.{fmt}")
    if fmt == "xml":
        got = record(strict_xml(r)[0])
        assert got["lat"] == got["long"] == got["media_url"] == ""
    else:
        got = json_body(r)[0]
        assert got["lat"] is None and got["long"] is None and got["media_url"] is None
    assert got["address"] == form["address_string"]
    assert got["description"] == "环境卫生与垃圾"  # the service's name stands in
    assert got["status"] == "open"


async def test_a_body_over_the_limit_is_refused_before_it_is_read(o311: Setup) -> None:
    r = await post(o311, report(o311, description="灯" * 100_000), "xml")
    assert r.status_code == 413
    assert "bytes" in (strict_xml(r).findtext("error/description") or "")
