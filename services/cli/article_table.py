"""`lianxin demo article-table`: the article's table, played through the public APIs.

宋海芳, party secretary of 龙山路街道: "目前，我们龙山路街道共收集群众意见、诉求258条，其中由
社区办理的66条，由街道办理的68条，上传到区级平台办理的58条，累计办结192条，办结率74%，群众满意率
达98.1%。"

This scenario makes that true of a running system. 258 requests come in through intake
from the three hotlines and the grid workers' phones, at distinct points of the street's
three communities. Each one then takes the path its group needs, step by step through
routing's gRPC API: solved by its community (some after a failed check, an extension
asked, approved or refused, a supervision, or an unsatisfied follow-up call that reopens
it once); coordinated by the street (first handled there, handed up by a community, or
returned by a community and re-dispatched); handed up to the district platform and its
departments (one of them co-handled by two departments); explained; or still open at the
end in every open state. 160 of the 192 closed cases get a follow-up call, three of them
unsatisfied. Nothing writes a figure: `GetStats` counts them from routing's history, and
the end of the run compares them with the article.

References and request ids are fixed, so running it again changes nothing (every call is
idempotent). On a system that already had requests in 龙山路街道, the comparison is made on
what this run added, and the `lianxin stats` period that shows this run alone is printed.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as reg_res
from lianxin.routing.v1 import resources_pb2 as R
from lianxin.routing.v1 import routing_service_pb2 as rsvc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.cli import connect
from services.cli.demo import StepFailed, say
from services.cli.format import describe_error
from services.cli.routing_commands import LOCAL, percent, stats_table

STREET = "370402003"
STREET_NAME = "龙山路街道"
DISTRICT = "370402"
WORKERS = 16

# The article's figures: (indicator id, what the article says, how to compare).
ARTICLE: list[tuple[str, str, Callable[[int, int], bool]]] = [
    ("received", "258", lambda n, d: n == 258),
    ("handled_by_community", "66", lambda n, d: n == 66),
    ("handled_by_street", "68", lambda n, d: n == 68),
    ("handled_by_district", "58", lambda n, d: n == 58),
    ("closed", "192", lambda n, d: n == 192),
    ("closure_rate", "74%", lambda n, d: d > 0 and round(100 * n / d) == 74),
    ("satisfaction_rate", "98.1%", lambda n, d: d > 0 and round(1000 * n / d) == 981),
]

COMMUNITY_FIRST = [
    "household_electrical",
    "wild_advertising",
    "sanitation",
    "neighbour_dispute",
    "employment_help",
]
STREET_FIRST = ["street_light", "illegal_vending", "facility_repair"]
CHANNELS = [
    intake_res.CHANNEL_GRID_APP,
    intake_res.CHANNEL_MAYOR_HOTLINE,
    intake_res.CHANNEL_DISTRICT_HOTLINE,
    intake_res.CHANNEL_CONVENIENCE_HOTLINE,
]
DESCRIPTIONS = {
    "household_electrical": "家中电灯闪烁，电压不稳",
    "street_light": "路灯不亮，夜间出行不便",
    "illegal_vending": "路口占道经营，影响通行",
    "wild_advertising": "楼道张贴野广告",
    "sanitation": "小区垃圾未及时清运",
    "facility_repair": "健身器材损坏需维修",
    "neighbour_dispute": "邻里因漏水发生纠纷",
    "employment_help": "咨询失业登记和社保接续",
}

# The groups: (how many, categories, path). A path is a list of actions; ratings are
# handed out afterwards.
GROUPS: list[tuple[int, list[str], list[str]]] = [
    # solved by the community: 66
    (4, COMMUNITY_FIRST, ["accept", "resolve", "rework", "resolve", "close"]),
    (3, COMMUNITY_FIRST, ["accept", "ext_request", "ext_approve", "resolve", "close"]),
    (2, COMMUNITY_FIRST, ["accept", "ext_request", "ext_refuse", "resolve", "close"]),
    (3, COMMUNITY_FIRST, ["supervise", "accept", "resolve", "close"]),
    (3, COMMUNITY_FIRST, ["accept", "resolve", "close", "rate_u", "accept", "resolve", "close"]),
    (51, COMMUNITY_FIRST, ["accept", "resolve", "close"]),
    # coordinated by the street: 68
    (36, STREET_FIRST, ["accept", "resolve", "close"]),
    (28, COMMUNITY_FIRST, ["escalate", "accept", "resolve", "close"]),
    (4, COMMUNITY_FIRST, ["return", "redispatch_street", "accept", "resolve", "close"]),
    # handed up to the district platform and its departments: 58
    (30, STREET_FIRST, ["escalate", "accept", "resolve", "close"]),
    (28, COMMUNITY_FIRST, ["escalate", "escalate", "accept", "resolve", "close"]),
    # explained, not closed: 6
    (4, COMMUNITY_FIRST, ["accept", "explain"]),
    (2, STREET_FIRST, ["accept", "explain"]),
    # still open: 60
    (15, COMMUNITY_FIRST + STREET_FIRST, []),
    (5, COMMUNITY_FIRST + STREET_FIRST, ["supervise"]),
    (20, COMMUNITY_FIRST + STREET_FIRST, ["accept"]),
    (5, COMMUNITY_FIRST + STREET_FIRST, ["accept", "ext_request"]),
    (10, COMMUNITY_FIRST + STREET_FIRST, ["accept", "resolve"]),
    (5, COMMUNITY_FIRST + STREET_FIRST, ["return"]),
]
OFFSET = 0.00057
BASICALLY_SATISFIED = 17
SATISFIED = 140


@dataclass
class Script:
    n: int
    category: str
    channel: int
    actions: list[str]
    community: str = ""
    point: tuple[float, float] = (0.0, 0.0)

    @property
    def ref(self) -> str:
        return f"LSL-2014-{self.n:04d}"


@dataclass
class Stubs:
    intake: intake_service_pb2_grpc.IntakeServiceStub
    registry: registry_service_pb2_grpc.RegistryServiceStub
    routing: routing_service_pb2_grpc.RoutingServiceStub


@dataclass
class Tally:
    """Steps taken, counted from the worker threads."""

    actions: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, action: str) -> None:
        with self.lock:
            self.actions[action] = self.actions.get(action, 0) + 1


def plan() -> list[Script]:
    """The 258 requests and their paths, the same every time."""
    scripts: list[Script] = []
    channels = itertools.cycle(CHANNELS)
    n = 0
    for count, categories, path in GROUPS:
        cats = itertools.cycle(categories)
        for _ in range(count):
            n += 1
            scripts.append(Script(n, next(cats), next(channels), list(path)))
    closed = [s for s in scripts if "close" in s.actions and "rate_u" not in s.actions]
    for i, s in enumerate(closed):
        if i < BASICALLY_SATISFIED:
            s.actions.append("rate_b")
        elif i < BASICALLY_SATISFIED + SATISFIED:
            s.actions.append("rate_s")
    for s in scripts:
        if "rate_u" in s.actions:
            s.actions.append("rate_u")  # unsatisfied again after the reopened round
    return scripts


def run(targets: dict[str, str]) -> int:
    channels = {name: connect.channel(t) for name, t in targets.items()}
    try:
        return _play(channels)
    except StepFailed as exc:
        say(f"FAILED: {exc}")
        return 1
    except grpc.RpcError as err:
        say("FAILED: " + describe_error(err))
        return 1
    finally:
        for ch in channels.values():
            ch.close()


def _play(ch: dict[str, grpc.Channel]) -> int:
    started = time.monotonic()
    for name in ("intake", "registry", "routing"):
        try:
            reply = health_pb2_grpc.HealthStub(ch[name]).Check(
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.RpcError as err:
            raise StepFailed(
                f"{name} is not reachable ({err.code().name}); "  # type: ignore[attr-defined]
                "start the system with `make run`"
            ) from None
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise StepFailed(f"{name} is not SERVING")
    stubs = Stubs(
        intake_service_pb2_grpc.IntakeServiceStub(ch["intake"]),
        registry_service_pb2_grpc.RegistryServiceStub(ch["registry"]),
        routing_service_pb2_grpc.RoutingServiceStub(ch["routing"]),
    )
    before = _figures(stubs)
    scripts = plan()
    _place(stubs, scripts)
    say(
        f"{STREET_NAME}: {len(scripts)} requests from the hotlines (12345, 区长热线, 96361) and "
        f"the grid workers' phones, at {len(scripts)} distinct points of its communities"
    )
    tally = Tally()
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="article") as pool:
        submitted = list(pool.map(lambda sc: _submit(stubs, sc), scripts))
        new = sum(1 for sub in submitted if sub.created)
        say(f"intake took in {new} new requests; routing files them to their grids …")
        _wait_received(stubs, before["received"][0] + new)
        queued = _street_queue(stubs)
        cases = list(
            pool.map(
                lambda sub: queued.get(sub.case_id) or _filed(stubs, sub.case_id, sub.ref),
                submitted,
            )
        )
        say("each is filed and dispatched; now each takes its path through the three levels")
        list(pool.map(lambda sc: _play_one(stubs, *sc, tally), zip(scripts, cases, strict=True)))
    first_times = [sub.create_seconds for sub in submitted]
    say(
        "steps taken through routing's API: "
        + ", ".join(f"{k} {v}" for k, v in sorted(tally.actions.items()))
    )
    after = _figures(stubs)
    reply = stubs.routing.GetStats(rsvc.GetStatsRequest(unit_code=STREET), timeout=30)
    print()
    print(stats_table(reply, STREET_NAME))
    print()
    figures = after
    note = ""
    if before["received"][0] and before != after:
        figures = {k: (after[k][0] - v[0], after[k][1] - v[1]) for k, v in before.items()}
        since = datetime.fromtimestamp(min(first_times) - 1, LOCAL).strftime("%Y-%m-%dT%H:%M:%S")
        note = (
            f"{STREET_NAME} had {before['received'][0]} requests before this run; the "
            f"comparison counts this run alone, as does `lianxin stats {STREET_NAME} "
            f"--from {since}`"
        )
    ok = _compare(figures)
    if note:
        say(note)
    say(f"played in {time.monotonic() - started:.1f}s")
    return 0 if ok else 1


def _figures(stubs: Stubs) -> dict[str, tuple[int, int]]:
    reply = stubs.routing.GetStats(rsvc.GetStatsRequest(unit_code=STREET), timeout=30)
    return {i.id: (i.numerator, i.denominator) for i in reply.indicators}


def _compare(figures: dict[str, tuple[int, int]]) -> bool:
    print(f"  {'the article':<26}{'this system':>14}")
    ok = True
    for key, said, matches in ARTICLE:
        n, d = figures[key]
        got = percent(n, d) if key.endswith("rate") else str(n)
        good = matches(n, d)
        ok &= good
        label = f"{key} {said}"
        print(f"  {label:<26}{got:>14}   {'✓' if good else '✗ differs'}")
    print()
    say("the system's figures are the article's" if ok else "the figures differ from the article")
    return ok


# --- where the requests are --------------------------------------------------------------


def _place(stubs: Stubs, scripts: list[Script]) -> None:
    """Give each request its own point (more than 50 m from any other, so nothing is
    merged as a duplicate), spread over the street's communities."""
    units = stubs.registry.ListUnits(
        reg.ListUnitsRequest(parent_code=STREET, level=reg_res.UNIT_LEVEL_COMMUNITY),
        timeout=10,
    ).units
    if not units:
        raise StepFailed(f"registry knows no communities of {STREET} ({STREET_NAME})")
    lattices = {u.code: iter(_lattice(u)) for u in units}
    order = itertools.cycle(sorted(lattices))
    for s in scripts:
        for _ in range(len(lattices)):
            code = next(order)
            point = next(lattices[code], None)
            if point is not None:
                s.community, s.point = code, point
                break
        else:
            raise StepFailed("the communities are too small for 258 distinct points")


def _lattice(unit: reg_res.Unit, step: float = 0.0012) -> list[tuple[float, float]]:
    """Points 0.0012° apart (over 100 m) inside the community's bounding box, away from
    its edges; each checked with registry when the case is filed."""
    geometry = json.loads(unit.boundary_geojson) if unit.boundary_geojson else None
    if not geometry:
        c = unit.centroid
        return [(c.latitude, c.longitude)]
    rings = geometry["coordinates"] if geometry["type"] == "Polygon" else geometry["coordinates"][0]
    xs = [p[0] for p in rings[0]]
    ys = [p[1] for p in rings[0]]
    out = []
    # Offset so that no point falls on a grid boundary (those lie on round numbers).
    lat = min(ys) + OFFSET
    while lat < max(ys) - OFFSET:
        lon = min(xs) + OFFSET
        while lon < max(xs) - OFFSET:
            out.append((round(lat, 6), round(lon, 6)))
            lon += step
        lat += step
    return out


# --- one request's path ------------------------------------------------------------------


def _actor(unit_code: str) -> tuple[tuple[str, str], ...]:
    if not unit_code.isdigit():
        who = "staff-" + unit_code.lower()  # a department's staff
    elif len(unit_code) == 12:
        who = "staff-ga-" + unit_code  # the community's grid assistant
    else:
        who = "staff-cc-" + unit_code  # the street's or district's command centre
    return (("x-lianxin-actor", who),)


def _above(case: R.Case) -> str:
    return STREET if case.level == R.LEVEL_COMMUNITY else DISTRICT


@dataclass(frozen=True)
class Submitted:
    ref: str
    case_id: str
    created: bool
    create_seconds: float


def _submit(stubs: Stubs, s: Script) -> Submitted:
    lat, lon = s.point
    reply = stubs.intake.SubmitCase(
        intake_svc.SubmitCaseRequest(
            channel=s.channel,
            external_ref=s.ref,
            reporter=intake_res.Reporter(name=f"居民{s.n:03d}", phone=f"1380632{s.n:04d}"),
            location=intake_res.Location(
                point=intake_res.LatLng(latitude=lat, longitude=lon),
                address=f"{STREET_NAME} {s.community} 第{s.n}号",
            ),
            category=s.category,
            description=DESCRIPTIONS[s.category],
        ),
        timeout=10,
        metadata=(("x-lianxin-actor", "hotline:article-table"),),
    )
    return Submitted(s.ref, reply.case.id, reply.created, float(reply.case.create_time.seconds))


def _wait_received(stubs: Stubs, expected: int, timeout: float = 120.0) -> None:
    """Until routing counts `expected` requests in the street (all filed or merged)."""
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        got = _figures(stubs)["received"][0]
        if got >= expected:
            return
        time.sleep(0.2)
    raise StepFailed(f"routing filed {got} of {expected} requests within {timeout:.0f}s")


def _street_queue(stubs: Stubs) -> dict[str, R.Case]:
    """Every open case of the street and its communities, by id (one call per 500)."""
    out: dict[str, R.Case] = {}
    token = ""
    while True:
        page = stubs.routing.ListWorkQueue(
            rsvc.ListWorkQueueRequest(unit_code=STREET, page_size=500, page_token=token),
            timeout=30,
        )
        out.update({c.id: c for c in page.cases})
        token = page.next_page_token
        if not token:
            return out


def _play_one(stubs: Stubs, s: Script, case: R.Case, tally: Tally) -> None:
    case_id = case.id
    r = stubs.routing
    for i, action in enumerate(s.actions):
        rid = f"{s.ref}-{i}-{action}"
        md = _actor(case.assigned_unit_code)
        if action == "accept":
            case = r.AcceptCase(
                rsvc.AcceptCaseRequest(case_id=case_id, request_id=rid), timeout=10, metadata=md
            ).case
        elif action == "resolve":
            case = r.ResolveCase(
                rsvc.ResolveCaseRequest(
                    case_id=case_id,
                    request_id=rid,
                    result="已处理完毕，现场恢复正常",
                    acting_unit_code=case.assigned_unit_code,
                ),
                timeout=10,
                metadata=md,
            ).case
        elif action == "close":
            case = r.CloseCase(
                rsvc.CloseCaseRequest(case_id=case_id, request_id=rid, note="网格员核查属实"),
                timeout=10,
                metadata=_actor(s.community),
            ).case
        elif action == "rework":
            case = r.ReworkCase(
                rsvc.ReworkCaseRequest(
                    case_id=case_id, request_id=rid, reason="核查未通过，仍有问题"
                ),
                timeout=10,
                metadata=_actor(s.community),
            ).case
        elif action == "escalate":
            reason = "需街道协调" if case.level == R.LEVEL_COMMUNITY else "需区级部门处置"
            case = r.EscalateCase(
                rsvc.EscalateCaseRequest(case_id=case_id, request_id=rid, reason=reason),
                timeout=10,
                metadata=md,
            ).case
        elif action == "return":
            case = r.ReturnCase(
                rsvc.ReturnCaseRequest(case_id=case_id, request_id=rid, reason="不属本单位职责"),
                timeout=10,
                metadata=md,
            ).case
        elif action == "redispatch_street":
            case = r.RedispatchCase(
                rsvc.RedispatchCaseRequest(
                    case_id=case_id,
                    request_id=rid,
                    acting_unit_code=STREET,
                    unit_code=STREET,
                    note="街道统一协调处置",
                ),
                timeout=10,
                metadata=_actor(STREET),
            ).case
        elif action == "ext_request":
            case = r.RequestExtension(
                rsvc.RequestExtensionRequest(
                    case_id=case_id, request_id=rid, hours=8, reason="需等待配件"
                ),
                timeout=10,
                metadata=md,
            ).case
        elif action in ("ext_approve", "ext_refuse"):
            above = _above(case)
            if action == "ext_approve":
                case = r.ApproveExtension(
                    rsvc.ApproveExtensionRequest(
                        case_id=case_id, request_id=rid, acting_unit_code=above
                    ),
                    timeout=10,
                    metadata=_actor(above),
                ).case
            else:
                case = r.RefuseExtension(
                    rsvc.RefuseExtensionRequest(
                        case_id=case_id,
                        request_id=rid,
                        acting_unit_code=above,
                        reason="时限内可以办结",
                    ),
                    timeout=10,
                    metadata=_actor(above),
                ).case
        elif action == "supervise":
            above = _above(case)
            req = rsvc.SuperviseCaseRequest(
                case_id=case_id, request_id=rid, acting_unit_code=above, note="群众反映强烈，督办"
            )
            req.deadline_time.FromDatetime(case.deadline_time.ToDatetime() + timedelta(days=1))
            case = r.SuperviseCase(req, timeout=10, metadata=_actor(above)).case
        elif action == "explain":
            case = r.ExplainCase(
                rsvc.ExplainCaseRequest(
                    case_id=case_id,
                    request_id=rid,
                    explanation="涉及规划调整，暂时无法解决，已向群众解释说明",
                ),
                timeout=10,
                metadata=md,
            ).case
        elif action.startswith("rate_"):
            satisfaction = {
                "rate_s": R.SATISFACTION_SATISFIED,
                "rate_b": R.SATISFACTION_BASICALLY_SATISFIED,
                "rate_u": R.SATISFACTION_UNSATISFIED,
            }[action]
            case = r.RateCase(
                rsvc.RateCaseRequest(case_id=case_id, request_id=rid, satisfaction=satisfaction),
                timeout=10,
                metadata=_actor(STREET),
            ).case
        else:  # pragma: no cover - a typo in GROUPS
            raise StepFailed(f"unknown action {action!r}")
        tally.add(action)


def _filed(stubs: Stubs, case_id: str, ref: str, timeout: float = 60.0) -> R.Case:
    """The case once routing has filed and dispatched it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            case = stubs.routing.GetCase(rsvc.GetCaseRequest(case_id=case_id), timeout=5).case
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
                raise
        else:
            if case.filing_error:
                raise StepFailed(f"{ref}: filing failed: {case.filing_error}")
            if case.merged_into_case_id:
                raise StepFailed(f"{ref}: merged into {case.merged_into_case_id} unexpectedly")
            if case.status != R.CASE_STATUS_RECEIVED:
                return case
        time.sleep(0.05)
    raise StepFailed(f"{ref}: not filed within {timeout:.0f}s")
