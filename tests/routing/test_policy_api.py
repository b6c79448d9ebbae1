"""ListCategories and GetPolicy show the policy routing loaded: a district file with its
own version, categories, deadlines and calendar comes back as written, paged."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common.policy import DEFAULT_POLICY, load_policy
from services.routing.app import create_server as create_routing
from services.routing.config import RoutingSettings
from tests import callers
from tests.conftest import running, settings_for, violations

# The district's file, changed where a reader could tell a copy from the real thing.
CHANGES = {
    'version: "2014.11-3"': 'version: "2026.12-test"',
    "reminder_fraction: 0.75": "reminder_fraction: 0.6",
    "    - 2015-02-24\n": "    - 2015-02-24\n    - 2026-12-25\n",
}
EXTRA = (
    "  - code: tree_fallen\n    name: 树木倒伏\n    first_level: district\n"
    "    deadline_hours: {district: 6}\n"
)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    for old, new in CHANGES.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "370402-test.yaml"
    path.write_text(text.rstrip("\n") + "\n" + EXTRA, encoding="utf-8")
    return path


async def test_list_categories_and_get_policy_show_the_loaded_policy(
    tmp_path: Path, nats_url: str, policy_file: Path
) -> None:
    policy = load_policy(policy_file)
    settings = settings_for(
        RoutingSettings, tmp_path, nats_url, policy_file=policy_file, registry_target="127.0.0.1:1"
    )
    async with (
        running(create_routing, settings) as host,
        callers.channel(host.address) as channel,
    ):
        stub = routing_service_pb2_grpc.RoutingServiceStub(channel)
        seen: list[res.Category] = []
        token, pages = "", 0
        while True:
            reply = await stub.ListCategories(
                svc.ListCategoriesRequest(page_size=4, page_token=token)
            )
            assert reply.policy_version == "2026.12-test"
            seen.extend(reply.categories)
            pages += 1
            token = reply.next_page_token
            if not token:
                break
        assert pages == 5  # eighteen categories, four a page
        assert [c.code for c in seen] == [c.code for c in policy.categories]
        by_code = {c.code: c for c in seen}
        tree = by_code["tree_fallen"]
        assert tree.name == "树木倒伏" and tree.first_level == res.LEVEL_DISTRICT
        # Its own deadline at district level; the policy's defaults below it.
        assert [(d.level, d.working_hours) for d in tree.deadlines] == [
            (res.LEVEL_COMMUNITY, 16.0),
            (res.LEVEL_STREET, 24.0),
            (res.LEVEL_DISTRICT, 6.0),
        ]
        vending = by_code["illegal_vending"]
        assert vending.department == "370402-D-CITYMGMT"
        assert list(vending.assisting_departments) == ["370402-D-SANITATION"]
        assert [d.working_hours for d in vending.deadlines] == [16.0, 8.0, 16.0]
        # GB/T 30428.2 classes where one applies, and the common 12345 classes.
        advert = by_code["wild_advertising"].standard
        assert (advert.kind, advert.major_code, advert.minor_code, advert.minor_name) == (
            res.STANDARD_KIND_EVENT,
            "02",
            "0201",
            "非法小广告",
        )
        assert vending.standard.minor_code == "0501" and vending.hotline_class == (
            "environment_sanitation"
        )
        assert not by_code["neighbour_dispute"].HasField("standard")
        assert {c.hotline_class for c in seen} >= {
            "water",
            "power",
            "gas",
            "heating",
            "roads_transport",
            "housing_property",
            "environment_sanitation",
            "market_supervision",
            "labour_social_security",
            "neighbourhood_dispute",
            "other",
        }
        assert by_code["community_facility"].first_level == res.LEVEL_COMMUNITY
        assert by_code["other"].first_level == res.LEVEL_DISTRICT
        assert all(c.reminder_fraction == pytest.approx(0.6) for c in seen)
        for c in policy.categories:  # every field as the file has it
            shown = by_code[c.code]
            assert shown.hotline_class == c.hotline_class
            assert shown.HasField("standard") == (c.standard is not None)

        got = (await stub.GetPolicy(svc.GetPolicyRequest())).policy
        assert got.version == "2026.12-test" and got.district_code == "370402"
        assert got.reminder_fraction == pytest.approx(0.6)
        assert got.category_count == 18
        cal = got.calendar
        assert cal.utc_offset == "+08:00"
        assert list(cal.work_days) == [
            res.WEEKDAY_MONDAY,
            res.WEEKDAY_TUESDAY,
            res.WEEKDAY_WEDNESDAY,
            res.WEEKDAY_THURSDAY,
            res.WEEKDAY_FRIDAY,
        ]
        assert [(w.start, w.end) for w in cal.work_hours] == [
            ("08:30", "12:00"),
            ("13:30", "17:30"),
        ]
        assert cal.holidays[-1] == "2026-12-25" and "2014-10-01" in cal.holidays
        assert "2014-09-28" in cal.extra_work_days
        assert [(d.level, d.working_hours) for d in got.default_deadlines] == [
            (res.LEVEL_COMMUNITY, 16.0),
            (res.LEVEL_STREET, 24.0),
            (res.LEVEL_DISTRICT, 40.0),
        ]
        assert list(got.escalation_ladder) == [
            res.LEVEL_COMMUNITY,
            res.LEVEL_STREET,
            res.LEVEL_DISTRICT,
        ]

        for bad in (
            svc.ListCategoriesRequest(page_token="not-a-token"),
            svc.ListCategoriesRequest(page_size=-1),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ListCategories(bad)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert set(violations(err.value)) & {"page_token", "page_size"}
