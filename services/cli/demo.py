"""`lianxin demo`: the article's first story, played against a running system.

11月25日, 龙山路街道辛庄社区: 张胜起's light keeps flickering. He calls his grid manager
韩丽源, who reports it from her phone; the case is filed to her grid and dispatched to the
community's electrician, who accepts it, repairs a loose connection, reports the result
with a photo; 韩丽源 checks with 张胜起 and the case is closed. Every step goes through the
public gRPC APIs and is printed with its time; any failure exits non-zero.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as notify_res
from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as reg_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.cli import connect
from services.cli.format import describe_error, status_name

T = TypeVar("T")

HOME = (34.8605, 117.5585)  # 张胜起's home in 辛庄社区, grid 370402003001001
GRID_MANAGER = "staff-hanliyuan"
ELECTRICIAN = "staff-xinzhuang-electrician"


class StepFailed(Exception):
    pass


def tiny_png() -> bytes:
    """A valid 1×1 PNG: the 'photo' of the repaired light."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xee\x88")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def say(text: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S.%f')[:-3]}] {text}", flush=True)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.1)
    raise StepFailed(f"timed out after {timeout:.0f}s waiting for {what}")


def as_actor(actor: str) -> tuple[tuple[str, str], ...]:
    return (("x-lianxin-actor", actor),)


def run_story(targets: dict[str, str]) -> int:
    channels = {name: connect.channel(t) for name, t in targets.items()}
    try:
        _play(channels)
    except StepFailed as exc:
        say(f"FAILED: {exc}")
        return 1
    except grpc.RpcError as err:
        say("FAILED: " + describe_error(err))
        return 1
    finally:
        for ch in channels.values():
            ch.close()
    return 0


def _play(ch: dict[str, grpc.Channel]) -> None:
    started = time.monotonic()
    for name, channel in ch.items():
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.RpcError as err:
            raise StepFailed(
                f"{name} is not reachable ({err.code().name}); "  # type: ignore[attr-defined]
                "start the system with `make run`"
            ) from None
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise StepFailed(f"{name} is not SERVING")
    say("all four services are SERVING")

    registry = registry_service_pb2_grpc.RegistryServiceStub(ch["registry"])
    intake = intake_service_pb2_grpc.IntakeServiceStub(ch["intake"])
    routing = routing_service_pb2_grpc.RoutingServiceStub(ch["routing"])
    notify = notify_service_pb2_grpc.NotifyServiceStub(ch["notify"])

    where = registry.LocateGrid(
        reg.LocateGridRequest(location=reg_res.LatLng(latitude=HOME[0], longitude=HOME[1])),
        timeout=5,
    )
    managers = registry.ListStaff(
        reg.ListStaffRequest(grid_code=where.grid.code, role=reg_res.STAFF_ROLE_GRID_MANAGER),
        timeout=5,
    ).staff
    manager = managers[0].name if managers else "?"
    say(
        f"张胜起's home lies in {where.district.name} {where.street.name} "
        f"{where.community.name}, grid {where.grid.name} ({where.grid.code}); "
        f"grid manager {manager}"
    )

    say("张胜起 calls 韩丽源: 家中电灯一直闪个不停. She reports it from 市中数字通 …")
    ref = f"SZT-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
    submit = intake_svc.SubmitCaseRequest(
        channel=intake_res.CHANNEL_GRID_APP,
        external_ref=ref,
        reporter=intake_res.Reporter(name="张胜起", phone="13806325566", staff_id=GRID_MANAGER),
        location=intake_res.Location(
            point=intake_res.LatLng(latitude=HOME[0], longitude=HOME[1]),
            address="龙山路街道辛庄社区 张胜起家",
        ),
        category="household_electrical",
        description="家中电灯一直闪个不停，老人不懂电路，需要电工上门检查。",
    )
    created = intake.SubmitCase(submit, timeout=10, metadata=as_actor(GRID_MANAGER))
    case_id = created.case.id
    say(f"intake received case {case_id} (ref {ref})")
    again = intake.SubmitCase(submit, timeout=10, metadata=as_actor(GRID_MANAGER))
    if again.created or again.case.id != case_id:
        raise StepFailed("a resubmission created a second case")
    say("the phone's retry of the same report returned the same case (nothing new created)")

    def dispatched() -> intake_res.Case | None:
        c = intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id), timeout=5).case
        if c.filing_error:
            raise StepFailed(f"filing failed: {c.filing_error}")
        return c if c.status == routing_res.CASE_STATUS_DISPATCHED else None

    case = wait_for("filing and dispatch", dispatched)
    routed = routing.GetCase(routing_svc.GetCaseRequest(case_id=case_id), timeout=5).case
    deadline = case.deadline_time.ToDatetime().astimezone().strftime("%m-%d %H:%M")
    say(
        f"routing filed it to grid {case.grid_code} and dispatched it to "
        f"{case.assigned_unit_name} (assignee {routed.assignee_staff_id or '-'}), "
        f"deadline {deadline}"
    )
    if routed.assignee_staff_id != ELECTRICIAN:
        raise StepFailed(f"expected the community electrician, got {routed.assignee_staff_id!r}")

    def told() -> list[str] | None:
        ds = notify.ListDeliveries(notify_svc.ListDeliveriesRequest(case_id=case_id), timeout=5)
        names = sorted({d.recipient.id for d in ds.deliveries if d.event_type == "case.dispatched"})
        return names if {GRID_MANAGER, ELECTRICIAN} <= set(names) else None

    say(f"notify told {', '.join(wait_for('dispatch notifications', told))}")

    routing.AcceptCase(
        routing_svc.AcceptCaseRequest(
            case_id=case_id, request_id=f"{ref}-accept", note="电工马上上门"
        ),
        timeout=5,
        metadata=as_actor(ELECTRICIAN),
    )
    say("the electrician accepted the case and went to 张胜起's home")
    photo = routing_res.Photo(filename="repaired.png", content_type="image/png", content=tiny_png())
    routing.ResolveCase(
        routing_svc.ResolveCaseRequest(
            case_id=case_id,
            request_id=f"{ref}-resolve",
            result="经检测，家中一处电路虚接导致电压不稳，已重新接线，灯已不闪。",
            photos=[photo],
        ),
        timeout=5,
        metadata=as_actor(ELECTRICIAN),
    )
    say("resolved: 一处电路虚接导致电压不稳，已修复 (with a photo of the repair)")
    routing.CloseCase(
        routing_svc.CloseCaseRequest(
            case_id=case_id, request_id=f"{ref}-close", note="韩丽源回访，张胜起确认灯已不闪"
        ),
        timeout=5,
        metadata=as_actor(GRID_MANAGER),
    )

    def closed() -> intake_res.Case | None:
        c = intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id), timeout=5).case
        return c if c.status == routing_res.CASE_STATUS_CLOSED else None

    final = wait_for("closure to reach intake", closed)
    say(f"closed after 韩丽源's check; intake says {status_name(final.status)}")

    def closure_told() -> list[notify_res.Delivery] | None:
        ds = notify.ListDeliveries(
            notify_svc.ListDeliveriesRequest(case_id=case_id, page_size=200), timeout=5
        ).deliveries
        done = any(d.event_type == "case.closed" and d.recipient.kind == "citizen" for d in ds)
        return list(ds) if done else None

    told_all = wait_for("the citizen to be told of the closure", closure_told)
    print()
    print("  who notify told (each once per step; `lianxin deliveries list` shows the texts):")
    steps: dict[str, list[str]] = {}
    for d in sorted(told_all, key=lambda d: (d.event_id, d.id)):  # event ids sort by time
        steps.setdefault(d.event_type, []).append(f"{d.recipient.name} ({d.recipient.kind})")
    for event_type, names in steps.items():
        print(f"    {event_type.removeprefix('case.'):<12} {', '.join(names)}")
    print()
    print("  timeline (as the hotline sees it through intake):")
    for t in final.timeline:
        when = t.time.ToDatetime().astimezone().strftime("%H:%M:%S.%f")[:-3]
        print(f"    {when}  {status_name(t.status):<12} {t.unit_name:<8} {t.note}")
    print()
    say(f"story complete in {time.monotonic() - started:.1f}s (the article: half an hour)")
