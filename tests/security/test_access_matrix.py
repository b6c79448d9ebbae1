"""The access matrix: every RPC × every kind of caller × an object in and out of its scope,
against the four real services. The expected answer of each cell comes from the
permission table (`services.common.authz.RULES`), the scopes each role's token carries
(`auth.ROLE_SCOPES`, `auth.SERVICE_SCOPES`) and the domain's two rules about who decides
(`ABOVE`, `PLATFORM_ONLY`); the test counts leaks (a cell that should be refused and was
not) and wrongful refusals, and prints the matrix.

Refused means UNAUTHENTICATED, PERMISSION_DENIED or, for an object out of scope, NOT_FOUND
— or, for a list, an answer with nothing in it. Admitted means any other answer: a step
admitted by authorization may still be refused by the case's state (FAILED_PRECONDITION)
or ask for more (INVALID_ARGUMENT); a cell refused by the domain's own rules (not above,
not the district platform) is a leak only if the step is taken (OK). Cells expected to be
refused run first, so that nothing admitted changes the state they are tried in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from lianxin.intake.v1 import intake_service_pb2 as isvc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as ires
from lianxin.notify.v1 import notify_service_pb2 as nsvc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as nres
from lianxin.registry.v1 import registry_service_pb2 as gsvc
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as gres
from lianxin.routing.v1 import resources_pb2 as rres
from lianxin.routing.v1 import routing_service_pb2 as rsvc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common import auth
from services.common.authz import RULES, Scope
from tests import callers
from tests.conftest import error_details, eventually
from tests.routing.helpers import BOXES, point_in
from tests.system import HOME, running_system

pytestmark = pytest.mark.slow

DISTRICT = "370402"
STREET_A, COMM_A, GRID_A = "370402003", "370402003001", "370402003001001"
STREET_B, COMM_B = "370402101", "370402101001"
DEPARTMENT = "370402-D-POWER"
BUILDING_A, BUILDING_B = "370402003001001-B001", "370402101001001-B001"
MAYOR = ires.CHANNEL_MAYOR_HOTLINE
DISTRICT_LINE = ires.CHANNEL_DISTRICT_HOTLINE
CONVENIENCE = ires.CHANNEL_CONVENIENCE_HOTLINE

# Decisions only the level above the holder takes, and the district platform's own steps.
ABOVE = {"ApproveExtension", "RefuseExtension", "SuperviseCase", "RedispatchCase"}
PLATFORM_ONLY = {"FileCase", "VoidCase", "TransferCase"}
SUBSCRIPTIONS = {
    "CreateSubscription",
    "ListSubscriptions",
    "DeleteSubscription",
    "RotateSubscriptionSecret",
}
# Lists whose answer for an object out of scope is "nothing", not a refusal.
LISTS = {"ListDeliveries"}


@dataclass(frozen=True)
class Role:
    name: str
    token: str | None
    kind: str = "anonymous"
    scopes: tuple[str, ...] = ()
    unit: str = ""  # staff: their unit
    channel: int = 0  # hotline: its channel
    side: str = ""  # "A" or "B": which community's objects are theirs ("" : none)

    @property
    def unlimited(self) -> bool:
        return self.kind == "service" or self.name == "admin"


def _staff(name: str, unit: str, role: str, side: str) -> Role:
    return Role(
        name,
        callers.staff(unit, role=role, subject=f"staff-{name.replace(' ', '-')}"),
        "staff",
        auth.ROLE_SCOPES[role],
        unit=unit,
        side=side,
    )


def _hotline(name: str, channel: int, side: str) -> Role:
    return Role(
        name,
        callers.hotline(ires.Channel.Name(channel)),
        "hotline",
        auth.ROLE_SCOPES["hotline"],
        channel=channel,
        side=side,
    )


ROLES: list[Role] = [
    Role("anonymous", None),
    _hotline("hotline 12345", MAYOR, "A"),
    _hotline("hotline district", DISTRICT_LINE, "B"),
    _hotline("hotline 96361", CONVENIENCE, "C"),
    _staff("grid worker A", GRID_A, "grid_worker", "A"),
    _staff("community op A", COMM_A, "operator", "A"),
    _staff("community op B", COMM_B, "operator", "B"),
    _staff("street op A", STREET_A, "operator", "A"),
    _staff("street op B", STREET_B, "operator", "B"),
    _staff("district op", DISTRICT, "operator", "A"),
    _staff("department op", DEPARTMENT, "operator", ""),
    _staff("supervisor A", STREET_A, "supervisor", "A"),
    Role(
        "admin",
        callers.staff(DISTRICT, role="admin", subject="staff-admin"),
        "staff",
        auth.ROLE_SCOPES["admin"],
        unit=DISTRICT,
        side="A",
    ),
    *(
        Role(f"service {n}", callers.service(n), "service", auth.SERVICE_SCOPES[n], side="A")
        for n in auth.SERVICE_SCOPES
    ),
]


def _other(side: str) -> str:
    return "B" if side in ("A", "C") else "A"


@dataclass
class World:
    """The objects the matrix is tried on (made by the admin before it starts)."""

    cases: dict[str, str] = field(default_factory=dict)  # A, B, C, U (unlocated), V, T
    deliveries: dict[str, str] = field(default_factory=dict)  # by case key
    subscriptions: dict[int, str] = field(default_factory=dict)  # by hotline channel
    persons: dict[str, str] = field(default_factory=dict)  # A, B


# --- what each cell sends ---------------------------------------------------------------


def _unit(role: Role, which: str) -> str:
    side = role.side if which == "in" else _other(role.side)
    if which == "in" and role.kind == "staff":
        return role.unit
    return COMM_A if side in ("A", "C") else COMM_B


def _case(role: Role, which: str, w: World, key: str = "") -> str:
    if key:
        return w.cases[key] if which == "in" else w.cases["B" if role.side != "B" else "A"]
    side = role.side or "A"
    return w.cases[side if which == "in" else _other(side)]


def _channel(role: Role, which: str) -> int:
    own = role.channel or MAYOR
    if which == "in":
        return own
    return DISTRICT_LINE if own != DISTRICT_LINE else MAYOR


def _deadline() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    return ts


Build = Callable[[Role, str, World, str], Any]


def _steps() -> dict[str, Build]:
    def cid(key: str = "") -> Callable[[Role, str, World], str]:
        return lambda r, wh, w: _case(r, wh, w, key)

    c = cid()
    return {
        # intake
        "SubmitCase": lambda r, wh, w, rid: isvc.SubmitCaseRequest(
            channel=(
                ires.CHANNEL_GRID_APP if r.kind == "staff" and wh == "in" else _channel(r, wh)
            ),
            external_ref=rid,
            reporter=ires.Reporter(name="居民", phone="13800000000"),
            location=ires.Location(
                point=ires.LatLng(latitude=point_in(COMM_A)[0], longitude=point_in(COMM_A)[1])
            ),
            category="household_electrical",
            description="矩阵",
        ),
        "intake.GetCase": lambda r, wh, w, rid: isvc.GetCaseRequest(case_id=c(r, wh, w)),
        "ListCases": lambda r, wh, w, rid: (
            isvc.ListCasesRequest(channel=_channel(r, wh))
            if r.kind == "hotline"
            else isvc.ListCasesRequest(unit_code=_unit(r, wh))
        ),
        "WatchCases": lambda r, wh, w, rid: (
            isvc.WatchCasesRequest(channel=_channel(r, wh), from_now=True)
            if r.kind == "hotline"
            else isvc.WatchCasesRequest(unit_code=_unit(r, wh), from_now=True)
        ),
        "ListStatusChanges": lambda r, wh, w, rid: isvc.ListStatusChangesRequest(
            channel=_channel(r, wh)
        ),
        # notify
        "ListDeliveries": lambda r, wh, w, rid: nsvc.ListDeliveriesRequest(case_id=c(r, wh, w)),
        "GetDelivery": lambda r, wh, w, rid: nsvc.GetDeliveryRequest(
            delivery_id=w.deliveries[_side_key(r, wh)]
        ),
        "RetryDelivery": lambda r, wh, w, rid: nsvc.RetryDeliveryRequest(
            delivery_id=w.deliveries[_side_key(r, wh)]
        ),
        "CreateSubscription": lambda r, wh, w, rid: nsvc.CreateSubscriptionRequest(
            subscription=nres.Subscription(hotline=_channel(r, wh)), request_id=rid
        ),
        "ListSubscriptions": lambda r, wh, w, rid: nsvc.ListSubscriptionsRequest(
            hotline=_channel(r, wh)
        ),
        "DeleteSubscription": lambda r, wh, w, rid: None,  # tried last, on its own (below)
        "RotateSubscriptionSecret": lambda r, wh, w, rid: nsvc.RotateSubscriptionSecretRequest(
            subscription_id=w.subscriptions[_channel(r, wh)]
        ),
        # registry
        "LocateGrid": lambda r, wh, w, rid: (
            gsvc.LocateGridRequest(location=gres.LatLng(latitude=34.8605, longitude=117.5585))
            if wh == "in"
            else None
        ),
        "GeocodeAddress": lambda r, wh, w, rid: (
            gsvc.GeocodeAddressRequest(address="龙山路街道辛庄社区") if wh == "in" else None
        ),
        "GetUnit": lambda r, wh, w, rid: gsvc.GetUnitRequest(code=COMM_A) if wh == "in" else None,
        "ListUnits": lambda r, wh, w, rid: gsvc.ListUnitsRequest() if wh == "in" else None,
        "ListDepartments": lambda r, wh, w, rid: (
            gsvc.ListDepartmentsRequest() if wh == "in" else None
        ),
        "ListStaff": lambda r, wh, w, rid: gsvc.ListStaffRequest(unit_code=_unit(r, wh)),
        "AuditCoverage": lambda r, wh, w, rid: _area(r, wh, gsvc.AuditCoverageRequest),
        "GetAreaSummary": lambda r, wh, w, rid: _area(r, wh, gsvc.GetAreaSummaryRequest),
        "GetBuildingView": lambda r, wh, w, rid: gsvc.GetBuildingViewRequest(
            code=BUILDING_A if _side_key(r, wh) in ("A", "C") else BUILDING_B
        ),
        "GetPersonView": lambda r, wh, w, rid: gsvc.GetPersonViewRequest(
            person_id=w.persons["A" if _side_key(r, wh) in ("A", "C") else "B"]
        ),
        "SearchRegistry": lambda r, wh, w, rid: gsvc.SearchRegistryRequest(
            query="张", unit_code=_unit(r, wh)
        ),
        "ImportData": lambda r, wh, w, rid: (
            gsvc.ImportDataRequest(validate_only=True) if wh == "in" else None
        ),
        "ListAccessLog": lambda r, wh, w, rid: gsvc.ListAccessLogRequest() if wh == "in" else None,
        # routing
        "routing.GetCase": lambda r, wh, w, rid: rsvc.GetCaseRequest(case_id=c(r, wh, w)),
        "ExplainCase": lambda r, wh, w, rid: rsvc.ExplainCaseRequest(
            case_id=c(r, wh, w), request_id=rid, explanation="说明"
        ),
        "ListWorkQueue": lambda r, wh, w, rid: rsvc.ListWorkQueueRequest(unit_code=_unit(r, wh)),
        "AcceptCase": lambda r, wh, w, rid: rsvc.AcceptCaseRequest(
            case_id=c(r, wh, w), request_id=rid
        ),
        "ResolveCase": lambda r, wh, w, rid: rsvc.ResolveCaseRequest(
            case_id=c(r, wh, w), request_id=rid, result="已处理"
        ),
        "ReturnCase": lambda r, wh, w, rid: rsvc.ReturnCaseRequest(
            case_id=c(r, wh, w), request_id=rid, reason="不属本单位"
        ),
        "EscalateCase": lambda r, wh, w, rid: rsvc.EscalateCaseRequest(
            case_id=c(r, wh, w), request_id=rid, reason="需上级协调"
        ),
        "RequestExtension": lambda r, wh, w, rid: rsvc.RequestExtensionRequest(
            case_id=c(r, wh, w), request_id=rid, hours=24, reason="等配件"
        ),
        "FileCase": lambda r, wh, w, rid: rsvc.FileCaseRequest(
            case_id=w.cases["U"] if wh == "in" else _case(r, "out", w),
            request_id=rid,
            grid_code=GRID_A,
        ),
        "VoidCase": lambda r, wh, w, rid: rsvc.VoidCaseRequest(
            case_id=_case(r, wh, w, "V"),
            request_id=rid,
            reason_class=rres.VOID_REASON_PRANK,
            reason="骚扰",
        ),
        "TransferCase": lambda r, wh, w, rid: rsvc.TransferCaseRequest(
            case_id=_case(r, wh, w, "T"),
            request_id=rid,
            destination=rres.TRANSFER_DESTINATION_OTHER_DISTRICT,
            destination_name="薛城区",
            reason="不在本区",
        ),
        "RedispatchCase": lambda r, wh, w, rid: rsvc.RedispatchCaseRequest(
            case_id=c(r, wh, w), request_id=rid, unit_code=r.unit or COMM_A
        ),
        "ApproveExtension": lambda r, wh, w, rid: rsvc.ApproveExtensionRequest(
            case_id=c(r, wh, w), request_id=rid
        ),
        "RefuseExtension": lambda r, wh, w, rid: rsvc.RefuseExtensionRequest(
            case_id=c(r, wh, w), request_id=rid, reason="理由不足"
        ),
        "SuperviseCase": lambda r, wh, w, rid: rsvc.SuperviseCaseRequest(
            case_id=c(r, wh, w), request_id=rid, note="督办", deadline_time=_deadline()
        ),
        "CloseCase": lambda r, wh, w, rid: rsvc.CloseCaseRequest(
            case_id=c(r, wh, w), request_id=rid
        ),
        "RateCase": lambda r, wh, w, rid: rsvc.RateCaseRequest(
            case_id=c(r, wh, w), request_id=rid, satisfaction=rres.SATISFACTION_SATISFIED
        ),
        "ReworkCase": lambda r, wh, w, rid: rsvc.ReworkCaseRequest(
            case_id=c(r, wh, w), request_id=rid, reason="不满意"
        ),
        "GetStats": lambda r, wh, w, rid: rsvc.GetStatsRequest(unit_code=_unit(r, wh)),
        "GetRanking": lambda r, wh, w, rid: rsvc.GetRankingRequest(
            level=rres.LEVEL_COMMUNITY, unit_code=_unit(r, wh)
        ),
        "ListCategories": lambda r, wh, w, rid: (
            rsvc.ListCategoriesRequest() if wh == "in" else None
        ),
        "GetPolicy": lambda r, wh, w, rid: rsvc.GetPolicyRequest() if wh == "in" else None,
    }


def _area(role: Role, which: str, make: Any) -> Any:
    """A request about an area: a department has none of its own (nothing to try)."""
    if which == "in" and "-D-" in role.unit:
        return None
    return make(unit_code=_unit(role, which))


def _side_key(role: Role, which: str) -> str:
    side = role.side or "A"
    return side if which == "in" else _other(side)


# --- what each cell should answer -------------------------------------------------------


def expected(role: Role, method: str, which: str) -> tuple[bool, bool]:
    """(admitted?, refused by the domain's rules rather than by authorization?)."""
    rule = RULES[method]
    name = method.rpartition("/")[2]
    if role.token is None or rule.permission not in role.scopes:
        return False, False
    if rule.admin_only and not role.unlimited:
        return False, False
    if role.unlimited:
        return True, False
    if which == "out" and role.unit != DISTRICT:  # the district's own staff: all is in
        return False, False
    if rule.scope is Scope.UNIT and role.kind == "hotline":
        return False, False
    if name in SUBSCRIPTIONS and role.kind == "staff":
        return False, False
    if name == "ListStatusChanges" and role.kind == "staff":
        return False, False
    if name in ("GetDelivery", "RetryDelivery", "ListDeliveries") and role.kind == "staff":
        return False, False  # staff read the notifications sent to them only
    if name in PLATFORM_ONLY:
        return role.unit == DISTRICT, role.unit != DISTRICT and name != "FileCase"
    if name in ABOVE:
        above = role.unit in (STREET_A, STREET_B, DISTRICT)
        return above, not above
    if role.side == "" and rule.scope is Scope.CASE:
        return False, False
    return True, False


def _key(method: str) -> str:
    service, _, name = method.partition("/")
    if name == "GetCase":
        return ("intake." if "intake" in service else "routing.") + name
    return name


# --- running it -------------------------------------------------------------------------

REFUSALS = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
}
# PERMISSION_DENIED by the domain's rules of who decides, not by authorization.
DOMAIN_REASONS = {
    "NOT_ABOVE_CASE",
    "NOT_A_COMMAND_CENTRE",
    "NOT_CASE_HOLDER",
    "NOT_CASE_UNIT",
    "NOT_DISTRICT_PLATFORM",
}


async def _call(stubs: dict[str, Any], method: str, request: Any, token: str | None) -> Any:
    service, _, name = method.partition("/")
    stub = stubs[service]
    md = auth.call_metadata(token) if token else ()
    fn = getattr(stub, name)
    if name in ("WatchCases", "ImportData"):
        stream = fn(request, metadata=md, timeout=1.5)
        items = []
        try:
            async for item in stream:
                items.append(item)
                if len(items) > 20:
                    break
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        return items
    return await fn(request, metadata=md, timeout=10)


def _outcome(reply: Any, err: grpc.aio.AioRpcError | None, scoped: bool, name: str) -> str:
    """'refused' (by authorization or scope), 'domain' (by the domain's rules of who
    decides), 'taken' (OK) or 'admitted' (answered otherwise)."""
    if err is not None:
        code = err.code()
        if code == grpc.StatusCode.PERMISSION_DENIED and (
            error_details(err)[0].reason in DOMAIN_REASONS
        ):
            return "domain"
        if code in REFUSALS or (code == grpc.StatusCode.NOT_FOUND and scoped):
            return "refused"
        return "admitted"
    if name in LISTS and not reply.deliveries:
        return "refused"
    return "taken"


async def _world(stubs: dict[str, Any], admin: tuple[tuple[str, str], ...]) -> World:
    intake, routing, notify, registry = (
        stubs[k] for k in ("intake", "routing", "notify", "registry")
    )
    w = World()

    async def submit(key: str, channel: int, community: str | None) -> str:
        req = isvc.SubmitCaseRequest(
            channel=channel,
            external_ref=f"matrix-{key}",
            reporter=ires.Reporter(name="矩阵", phone="13806325566"),
            category="household_electrical",
            description="家中电灯一直闪",
        )
        if community is None:
            req.location.address = "不知在何处"
        elif key == "A":  # 张胜起's home, in the grid worker's grid
            req.location.point.latitude, req.location.point.longitude = HOME
        else:
            req.location.point.latitude, req.location.point.longitude = point_in(community)
        return (await intake.SubmitCase(req, metadata=admin)).case.id

    for key, channel, community in (
        ("A", MAYOR, COMM_A),
        ("B", DISTRICT_LINE, COMM_B),
        ("C", CONVENIENCE, COMM_A),
        ("U", MAYOR, None),
        ("V", MAYOR, COMM_A),
        ("T", MAYOR, COMM_A),
    ):
        w.cases[key] = await submit(key, channel, community)

    async def dispatched(case_id: str) -> bool:
        try:
            case = (
                await routing.GetCase(rsvc.GetCaseRequest(case_id=case_id), metadata=admin)
            ).case
        except grpc.aio.AioRpcError:
            return False
        return case.status != rres.CASE_STATUS_RECEIVED or bool(case.location_candidates)

    for key in ("A", "B", "C", "V", "T"):
        await eventually(lambda k=key: dispatched(w.cases[k]), timeout=30)
    for key in ("A", "B"):  # accepted, with an extension asked: the level above decides
        cid = w.cases[key]
        await routing.AcceptCase(
            rsvc.AcceptCaseRequest(case_id=cid, request_id="acc"), metadata=admin
        )
        await routing.RequestExtension(
            rsvc.RequestExtensionRequest(case_id=cid, request_id="ext", hours=24, reason="等配件"),
            metadata=admin,
        )

    async def delivery(key: str) -> str:
        r = await notify.ListDeliveries(
            nsvc.ListDeliveriesRequest(case_id=w.cases[key]), metadata=admin
        )
        return r.deliveries[0].id if r.deliveries else ""

    for key in ("A", "B", "C"):
        w.deliveries[key] = await eventually(lambda k=key: delivery(k), timeout=30)
    for channel in (MAYOR, DISTRICT_LINE, CONVENIENCE):
        sub = await notify.CreateSubscription(
            nsvc.CreateSubscriptionRequest(subscription=nres.Subscription(hotline=channel)),
            metadata=admin,
        )
        w.subscriptions[channel] = sub.subscription.id
    for key, unit, name in (("A", COMM_A, "张胜起"), ("B", COMM_B, "黄艳庆")):
        found = await registry.SearchRegistry(
            gsvc.SearchRegistryRequest(query=name, unit_code=unit), metadata=admin
        )
        w.persons[key] = next(h.person.id for h in found.hits if h.HasField("person"))
    return w


async def test_every_rpc_by_every_role_in_and_out_of_scope(tmp_path: Path, nats_url: str) -> None:
    assert BOXES  # the communities' boxes the points come from
    builders = _steps()
    methods = sorted(RULES)
    assert {_key(m) for m in methods} == set(builders), "every RPC has a request to try"
    async with running_system(tmp_path, nats_url) as system:
        stubs = {
            "lianxin.intake.v1.IntakeService": intake_service_pb2_grpc.IntakeServiceStub(
                callers.channel(system.hosts["intake"].address, token=None)
            ),
            "lianxin.routing.v1.RoutingService": routing_service_pb2_grpc.RoutingServiceStub(
                callers.channel(system.hosts["routing"].address, token=None)
            ),
            "lianxin.notify.v1.NotifyService": notify_service_pb2_grpc.NotifyServiceStub(
                callers.channel(system.hosts["notify"].address, token=None)
            ),
            "lianxin.registry.v1.RegistryService": registry_service_pb2_grpc.RegistryServiceStub(
                callers.channel(system.hosts["registry"].address, token=None)
            ),
        }
        short = {
            "intake": stubs["lianxin.intake.v1.IntakeService"],
            "routing": stubs["lianxin.routing.v1.RoutingService"],
            "notify": stubs["lianxin.notify.v1.NotifyService"],
            "registry": stubs["lianxin.registry.v1.RegistryService"],
        }
        admin_md = callers.md(ROLES[[r.name for r in ROLES].index("admin")].token or "")
        world = await _world(short, admin_md)

        cells = []
        for method in methods:
            name = _key(method)
            for role in ROLES:
                for which in ("in", "out"):
                    rid = f"m-{ROLES.index(role)}-{name}-{which}"
                    request = builders[name](role, which, world, rid)
                    if request is None:
                        continue
                    admitted, by_domain = expected(role, method, which)
                    cells.append((not admitted, method, role, which, request, admitted, by_domain))
        cells.sort(key=lambda c: c[0], reverse=True)  # the refused ones first

        leaks: list[str] = []
        wrongly: list[str] = []
        table: dict[tuple[str, str], list[str]] = {}
        for _first, method, role, which, request, admitted, by_domain in cells:
            scoped = RULES[method].scope is not Scope.NONE
            try:
                reply = await _call(stubs, method, request, role.token)
                err = None
            except grpc.aio.AioRpcError as exc:
                reply, err = None, exc
            got = _outcome(reply, err, scoped, method.rpartition("/")[2])
            code = err.code().name if err is not None else "OK"
            if admitted and got == "refused":
                wrongly.append(f"{role.name} {method} ({which}): {code} {err and err.details()}")
            if not admitted and (got == "taken" or (got != "refused" and not by_domain)):
                leaks.append(f"{role.name} {method} ({which}): {code}")
            mark = {"refused": "·", "domain": "-", "admitted": "+", "taken": "✓"}[got]
            table.setdefault((_key(method), which), ["?"] * len(ROLES))[ROLES.index(role)] = mark
        # The delete of a subscription, tried last: refused ones first, then each its own.
        for role in ROLES:
            other = world.subscriptions[_channel(role, "out")]
            del_req = nsvc.DeleteSubscriptionRequest(subscription_id=other)
            try:
                await _call(
                    stubs, "lianxin.notify.v1.NotifyService/DeleteSubscription", del_req, role.token
                )
                if not role.unlimited:
                    leaks.append(f"{role.name} DeleteSubscription (out): OK")
                    break
            except grpc.aio.AioRpcError as exc:
                if role.unlimited and exc.code() in REFUSALS:
                    wrongly.append(f"{role.name} DeleteSubscription (out): {exc.code().name}")
            if role.unlimited:
                break  # one admin delete shows the admitted side; the rest would be NOT_FOUND

        print(
            "\naccess matrix (✓ done; + admitted, refused by state or input; "
            "- refused by the rules of who decides; · refused)"
        )
        print(f"{'':34}" + " ".join(f"{i:>2}" for i in range(len(ROLES))))
        for (name, which), marks in sorted(table.items()):
            print(f"{name + ' ' + which:34}" + " ".join(f"{m:>2}" for m in marks))
        for i, role in enumerate(ROLES):
            print(f"  {i:>2} {role.name}")
        print(f"{len(cells)} cells: {len(leaks)} leaks, {len(wrongly)} wrongly refused")
        assert not leaks and not wrongly, "\n".join(
            ["leaks:", *leaks, "wrongly refused:", *wrongly]
        )
        # Lists answer within scope only: a hotline's unfiltered list holds its channel only.
        for role in ROLES[1:4]:
            got = await short["intake"].ListCases(
                isvc.ListCasesRequest(), metadata=callers.md(role.token or "")
            )
            assert got.cases and {c.channel for c in got.cases} == {role.channel}, role.name
        street_a = ROLES[[r.name for r in ROLES].index("street op A")]
        got = await short["intake"].ListCases(
            isvc.ListCasesRequest(), metadata=callers.md(street_a.token or "")
        )
        assert got.cases and all(
            c.assigned_unit_code.startswith(STREET_A) or c.grid_code.startswith(STREET_A)
            for c in got.cases
        )
        await asyncio.sleep(0)


Check = Callable[[], Awaitable[None]]
