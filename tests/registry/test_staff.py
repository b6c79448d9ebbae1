"""ListStaff: who looks after a grid, who has a skill, and who may see their phones."""

from __future__ import annotations

import re

import grpc
import pytest

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.common.auth import PII_READ, Principal
from services.registry.domain import may_read_staff_phones
from tests.registry.conftest import caller

MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")
MOBILE = re.compile(r"^1[358]\d{9}$")


async def test_the_staff_of_han_liyuans_grid_include_her_with_a_masked_phone(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListStaff(svc.ListStaffRequest(grid_code="370402003001001"))
    han = next(s for s in r.staff if s.id == "staff-hanliyuan")
    assert (han.name, han.role) == ("韩丽源", res.STAFF_ROLE_GRID_MANAGER)
    assert list(han.grid_codes) == ["370402003001001"]
    assert MASKED.match(han.phone), han.phone


async def test_an_internal_service_caller_sees_the_full_phone(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListStaff(
        svc.ListStaffRequest(grid_code="370402003001001", role=res.STAFF_ROLE_GRID_MANAGER),
        metadata=caller("service:notify"),
    )
    assert [s.id for s in r.staff] == ["staff-hanliyuan"]
    assert MOBILE.match(r.staff[0].phone), r.staff[0].phone


async def test_a_person_calling_as_themselves_still_sees_masked_phones(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListStaff(
        svc.ListStaffRequest(grid_code="370402003001001"),
        metadata=caller("staff-hanliyuan", jurisdiction="370402003001001", role="grid_worker"),
    )
    assert r.staff and all(MASKED.match(s.phone) for s in r.staff)


def test_service_actors_and_pii_readers_with_a_purpose_see_staff_phones() -> None:
    def may(kind: str, actor: str, *, permissions: tuple[str, ...] = (), purpose: str = "") -> bool:
        return may_read_staff_phones(
            Principal(actor=actor, kind=kind, permissions=frozenset(permissions), purpose=purpose)
        )

    assert may("service", "service:notify")
    assert not may("anonymous", "anonymous")
    assert not may("staff", "service:notify")  # a name is not a kind: the token says
    assert not may("staff", "staff-hanliyuan", permissions=(PII_READ,))
    assert may("staff", "staff-hanliyuan", permissions=(PII_READ,), purpose="case_handling")


async def test_the_xinzhuang_electrician_is_found_by_unit_and_skill(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListStaff(svc.ListStaffRequest(unit_code="370402003001", skill="electrical"))
    assert [(s.id, s.name, s.role) for s in r.staff] == [
        ("staff-xinzhuang-electrician", "王建国", res.STAFF_ROLE_UNIT_STAFF)
    ]
    assert list(r.staff[0].skills) == ["electrical"]


async def test_a_skill_matches_whole_skills_only(registry: RegistryServiceStub) -> None:
    for partial in ("electric", "%", "_lectrical"):
        r = await registry.ListStaff(svc.ListStaffRequest(skill=partial))
        assert not r.staff, partial


async def test_every_street_and_the_district_has_a_command_centre_operator(
    registry: RegistryServiceStub,
) -> None:
    r = await registry.ListStaff(svc.ListStaffRequest(role=res.STAFF_ROLE_COMMAND_CENTRE))
    assert sorted(s.unit_code for s in r.staff) == [
        "370402",
        "370402001",
        "370402003",
        "370402004",
        "370402101",
    ]


async def test_list_staff_pages_by_id_without_repeats(registry: RegistryServiceStub) -> None:
    ids: list[str] = []
    token = ""
    while True:
        r = await registry.ListStaff(svc.ListStaffRequest(page_size=7, page_token=token))
        ids += [s.id for s in r.staff]
        token = r.next_page_token
        if not token:
            break
    assert ids == sorted(set(ids))
    assert len(ids) > 40


async def test_an_unknown_role_is_invalid_argument(registry: RegistryServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.ListStaff(svc.ListStaffRequest(role=42))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_pii_reader_with_a_purpose_sees_staff_phones_without_a_purpose_masked(
    registry: RegistryServiceStub,
) -> None:
    request = svc.ListStaffRequest(grid_code="370402003001001", role=res.STAFF_ROLE_GRID_MANAGER)
    full = await registry.ListStaff(
        request,
        metadata=caller(
            "staff-cc", jurisdiction="370402", permissions=(PII_READ,), purpose="case_handling"
        ),
    )
    masked = await registry.ListStaff(
        request, metadata=caller("staff-cc", jurisdiction="370402", permissions=(PII_READ,))
    )
    assert MOBILE.match(full.staff[0].phone) and MASKED.match(masked.staff[0].phone)
