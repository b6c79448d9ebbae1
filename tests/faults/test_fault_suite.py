"""The fault suite: the whole embedded system takes a paced load while every process is
killed in turn, one is paused, and the links to NATS are cut and slowed; then a checker
reads everything through the public APIs.

Promise under test (README, "Durability"): an acknowledged case is filed, dispatched and
told exactly once, whatever dies and whenever; a message goes out twice only if it was in
flight at the moment its sender died, and then with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common.natsserver import free_port
from tests import callers
from tests.faults.checker import Outcome, check, settled
from tests.faults.proxy import ProxyThread
from tests.faults.stack import DRILL, ORDER, Stack, drill_policy, health_status, wait_serving
from tests.notify.helpers import HttpReceiver

CASES = 3000
IN_FLIGHT = 32
RATE = 40.0  # submissions a second, paced
DOWN_SECONDS = 3.0  # a killed process stays dead this long before it is started again
SETTLE_SECONDS = 240.0
# A re-send is explained when its first copy reached the receiver this shortly before
# notify was killed: it was in flight (sent, its outcome not yet committed). At most
# SEND_CONCURRENCY are in flight at once, so a kill may explain no more than that.
IN_FLIGHT_WINDOW = 2.0
SEND_CONCURRENCY = 16

# The grid 辛庄社区第一网格 (370402003001001): a 60 × 60 lattice of points ~20 m apart.
LON0, LON1, LAT0, LAT1 = 117.5505, 117.5645, 34.8585, 34.8695


def point(i: int) -> tuple[float, float]:
    row, col = divmod(i % 3600, 60)
    return LAT0 + (LAT1 - LAT0) * row / 59, LON0 + (LON1 - LON0) * col / 59


def submission(i: int) -> intake_svc.SubmitCaseRequest:
    lat, lon = point(i)
    req = intake_svc.SubmitCaseRequest(
        channel=intake_res.CHANNEL_MAYOR_HOTLINE,
        external_ref=f"fault-{i:05d}",
        reporter=intake_res.Reporter(name="张胜起", phone="13806325566"),
        location=intake_res.Location(address="龙山路街道辛庄社区"),
        category=DRILL if i % 10 == 0 else "household_electrical",
        description=f"家中电灯一直闪个不停（{i}）",
    )
    req.location.point.latitude, req.location.point.longitude = lat, lon
    return req


class KeyCounter(HttpReceiver):
    """The SMS gateway / webhook receiver, counting each idempotency key and when it
    first arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: Counter[str] = Counter()
        self.first_seen: dict[str, float] = {}

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        key = headers.get("Idempotency-Key", "")
        with self._lock:
            self.keys[key] += 1
            self.first_seen.setdefault(key, time.time())
        return 200

    def snapshot(self) -> tuple[Counter[str], dict[str, float]]:
        """The counts and first arrivals so far (the server threads keep writing)."""
        with self._lock:
            return Counter(self.keys), dict(self.first_seen)


@dataclass
class Load:
    acked: dict[str, str] = field(default_factory=dict)  # external ref → case id
    drill: set[str] = field(default_factory=set)
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)


async def submit_all(target: str, load: Load) -> None:
    """CASES submissions, IN_FLIGHT at a time, paced at RATE a second; each is retried
    with its own external reference until acknowledged (intake may be dead meanwhile)."""
    sem = asyncio.Semaphore(IN_FLIGHT)
    async with callers.channel(target) as channel:
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)

        async def one(i: int) -> None:
            req = submission(i)
            try:
                while True:
                    try:
                        reply = await stub.SubmitCase(req, timeout=10)
                    except grpc.aio.AioRpcError as err:
                        if err.code() not in (
                            grpc.StatusCode.UNAVAILABLE,
                            grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.CANCELLED,
                        ):
                            raise
                        load.retries += 1
                        load.errors[err.code().name] += 1
                        await asyncio.sleep(0.25)
                        continue
                    load.acked[req.external_ref] = reply.case.id
                    if req.category == DRILL:
                        load.drill.add(reply.case.id)
                    return
            finally:
                sem.release()

        began = time.monotonic()
        tasks = []
        for i in range(CASES):
            await sem.acquire()
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(max(0.0, began + (i + 1) / RATE - time.monotonic()))
        await asyncio.gather(*tasks)


def all_have_nats(stack: Stack) -> bool:
    return all(
        health_status(stack[n].target, "dependency:nats") == health_pb2.HealthCheckResponse.SERVING
        for n in ORDER
    )


async def until(probe: Callable[[], bool], timeout: float = 60.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if await asyncio.to_thread(probe):
            return time.monotonic() - began
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not recovered within {timeout}s")


async def run_faults(stack: Stack, proxy: ProxyThread, recovery: dict[str, float]) -> None:
    """Each fault in turn, ~10 s apart; records how long each took to recover."""

    async def kill(name: str) -> None:
        service = stack[name]
        await asyncio.to_thread(service.kill)
        await asyncio.sleep(DOWN_SECONDS)
        await asyncio.to_thread(service.start)
        recovery[f"SIGKILL {name}"] = await asyncio.to_thread(wait_serving, service.target)

    async def kill_nats() -> None:
        await asyncio.to_thread(stack.nats.kill)
        await asyncio.sleep(DOWN_SECONDS)
        await asyncio.to_thread(stack.start_nats)
        recovery["SIGKILL nats-server"] = await until(lambda: all_have_nats(stack))

    async def pause(name: str) -> None:
        stack[name].signal(signal.SIGSTOP)
        await asyncio.sleep(5.0)
        stack[name].signal(signal.SIGCONT)
        recovery[f"SIGSTOP {name} 5 s"] = await asyncio.to_thread(wait_serving, stack[name].target)

    async def cut() -> None:
        proxy.cut()
        await asyncio.sleep(4.0)
        proxy.restore()
        recovery["links to NATS cut 4 s"] = await until(lambda: all_have_nats(stack))

    async def slow() -> None:
        proxy.set_delay(0.2)
        await asyncio.sleep(6.0)
        proxy.set_delay(0.0)
        recovery["links to NATS delayed 200 ms for 6 s"] = await until(lambda: all_have_nats(stack))

    faults: list[Callable[[], Awaitable[None]]] = [
        lambda: kill("routing"),
        lambda: kill("notify"),
        lambda: kill("intake"),
        lambda: kill("registry"),
        kill_nats,
        lambda: pause("routing"),
        cut,
        slow,
    ]
    await asyncio.sleep(5.0)
    for fault in faults:
        await fault()
        await asyncio.sleep(7.0)


def explained(resent: dict[str, int], first_seen: dict[str, float], kills: list[float]) -> int:
    return sum(
        1 for key in resent if any(0 <= k - first_seen[key] <= IN_FLIGHT_WINDOW for k in kills)
    )


def report(
    out: Outcome, load: Load, recovery: dict[str, float], settle: float, unexplained: int
) -> str:
    lines = [
        "",
        "fault suite",
        f"  acknowledged cases      {out.acknowledged}",
        f"  lost                    {len(out.lost)}",
        f"  filed/dispatched twice  {len(out.doubled)}",
        f"  stuck                   {out.stuck}"
        f" (not dispatched {len(out.not_filed)}, undelivered {len(out.undelivered)},"
        f" deadlines wrong {len(out.drill_wrong)})",
        f"  deadline cases          {out.drill_cases} (reminded, overdue, escalated once each:"
        f" {out.drill_cases - len(out.drill_wrong)})",
        f"  deliveries              {out.deliveries}",
        f"  re-sent (same key)      {len(out.resent)} (in flight at a notify kill:"
        f" {len(out.resent) - unexplained}, unexplained: {unexplained})",
        f"  submit retries          {load.retries} {dict(load.errors)}",
        f"  settled after load in   {settle:.1f} s",
        "  recovery per fault (s):",
        *(f"    {name:<38} {seconds:5.1f}" for name, seconds in recovery.items()),
    ]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_every_acknowledged_case_is_filed_dispatched_and_told_once_through_every_fault(
    tmp_path: Path,
) -> None:
    gateway, hooks = KeyCounter().start(), KeyCounter().start()
    stack_dir = tmp_path / "stack"
    stack_dir.mkdir()
    policy = drill_policy(tmp_path / "policy.yaml")
    common = {"ACK_WAIT_SECONDS": "10", "SHUTDOWN_GRACE_SECONDS": "1"}
    proxy: ProxyThread | None = None
    stack: Stack | None = None
    try:
        # The proxy needs nats-server's port before the services get their settings.
        nats_port = free_port()
        proxy = ProxyThread("127.0.0.1", nats_port).start()
        stack = Stack(
            stack_dir,
            nats_port=nats_port,
            nats_url=proxy.url,
            extra_env={
                "intake": {**common, "POLICY_FILE": str(policy)},
                "registry": {**common},
                "routing": {**common, "POLICY_FILE": str(policy)},
                "notify": {
                    **common,
                    "POLICY_FILE": str(policy),
                    "SMS_GATEWAY_URL": gateway.url,
                    "APP_PUSH": "true",
                    "FILE_SINK": "false",
                    "QUIET_HOURS": "",
                    "SMS_RATE_LIMIT_PER_NUMBER": "0",
                    "DEFAULT_HOTLINE": "mayor_hotline",
                    "DEFAULT_HOTLINE_WEBHOOK_URL": hooks.url,
                    "SEND_LEASE_SECONDS": "10",
                    "SEND_CONCURRENCY": str(SEND_CONCURRENCY),
                },
            },
        )
        await asyncio.to_thread(stack.start_nats)
        await asyncio.to_thread(stack.start_services)

        load = Load()
        recovery: dict[str, float] = {}
        faults = asyncio.create_task(run_faults(stack, proxy, recovery))
        await submit_all(stack["intake"].target, load)
        await faults
        load_done = time.monotonic()

        async with (
            callers.channel(stack["intake"].target) as ic,
            callers.channel(stack["routing"].target) as rc,
            callers.channel(stack["notify"].target) as nc,
        ):
            apis = {
                "intake": intake_service_pb2_grpc.IntakeServiceStub(ic),
                "routing": routing_service_pb2_grpc.RoutingServiceStub(rc),
                "notify": notify_service_pb2_grpc.NotifyServiceStub(nc),
            }

            def received() -> Counter[str]:
                return gateway.snapshot()[0] + hooks.snapshot()[0]

            outcome: Outcome | None = None
            while time.monotonic() - load_done < SETTLE_SECONDS:
                outcome = await settled(
                    **apis, acked=load.acked, drill=load.drill, received=received()
                )
                if outcome is not None:
                    break
                await asyncio.sleep(2.0)
            settle = time.monotonic() - load_done
            if outcome is None:  # not settled: count what is wrong, for the report
                outcome = await check(
                    **apis, acked=load.acked, drill=load.drill, received=received()
                )
        first_seen = {**hooks.snapshot()[1], **gateway.snapshot()[1]}
        kills = stack["notify"].kills
        unexplained = len(outcome.resent) - explained(outcome.resent, first_seen, kills)
        for key in outcome.resent:  # how long before a notify kill each first copy came
            gaps = [round(k - first_seen[key], 2) for k in kills]
            print(f"  re-sent {key}: first copy {gaps} s before the notify kill(s)")
        print(report(outcome, load, recovery, settle, unexplained))

        assert outcome.acknowledged == CASES
        assert outcome.lost == []
        assert outcome.doubled == []
        assert outcome.stuck == 0, (
            outcome.not_filed[:5],
            outcome.undelivered[:5],
            outcome.drill_wrong[:5],
        )
        assert unexplained == 0
        assert len(outcome.resent) <= SEND_CONCURRENCY * len(stack["notify"].kills)
        assert len(recovery) == 8
    finally:
        if stack is not None:
            await asyncio.to_thread(stack.stop)
        if proxy is not None:
            proxy.stop()
        gateway.stop()
        hooks.stop()
