"""The production shape on loopback: two replicas of every service sharing its PostgreSQL
database, a three-node JetStream cluster with the stream at R3. The article's story plays
through it, then a burst goes in through both intake replicas — with pairs of duplicates
sent to different replicas at the same moment, and the same submission sent to both at
once — while one NATS node and one routing replica are SIGKILLed (the replica is started
again). Every case is filed, dispatched and told exactly once; every duplicate pair makes
one case, every same-reference twin one case."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import grpc
import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.cli.demo import run_story
from services.common import natsauth
from services.common.natsserver import free_port
from services.intake import watch
from tests import callers
from tests.faults.checker import check, settled
from tests.faults.stack import ORDER, Service, drill_policy, wait_serving
from tests.faults.test_fault_suite import KeyCounter, submission
from tests.natscluster import NatsCluster
from tests.postgres import PostgresServer

REPLICAS = 2
BURST = 400
PAIRS = 20  # of the burst, pairs of the same case sent to both intakes at once
TWINS = 10  # then the same submission (one reference) sent to both intakes at once
IN_FLIGHT = 32
FOLLOWED_ON_B = 300  # WatchCases changes a hotline takes from the second intake, then moves


def nats_credentials(cluster: NatsCluster, service: str) -> dict[str, str]:
    """The service's NATS user and password when the cluster has users (as in production)."""
    user = next((u for u in cluster.users if u.name == service), None)
    return {"NATS_USER": user.name, "NATS_PASSWORD": user.password} if user else {}


def replicas(
    root: Path,
    cluster: NatsCluster,
    urls: dict[str, str],
    env: dict[str, dict[str, str]],
    count: int = REPLICAS,
) -> dict[str, list[Service]]:
    """`count` replicas of each service (not started), replica i of routing and notify
    calling replica i of registry."""
    ports = {(n, i): free_port() for n in ORDER for i in range(count)}
    out: dict[str, list[Service]] = {}
    for name in ORDER:
        for i in range(count):
            prefix = f"LIANXIN_{name.upper()}_"
            values = {
                "DATA_DIR": str(root / f"{name}-{i}"),
                "DATABASE_URL": urls[name],
                "NATS_URL": cluster.url,
                **nats_credentials(cluster, name),
                "STREAM_REPLICAS": "3",
                "GRPC_PORT": str(ports[(name, i)]),
                "METRICS_PORT": "off",
                "REGISTRY_TARGET": f"127.0.0.1:{ports[('registry', i)]}",
                "ACK_WAIT_SECONDS": "10",
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_PER_SECOND": "0",  # the burst and the checker: one caller
                **env.get(name, {}),
            }
            service_env = {**os.environ, **{prefix + k: v for k, v in values.items()}}
            out.setdefault(name, []).append(
                Service(name, ports[(name, i)], service_env, root / f"{name}-{i}.log")
            )
    return out


async def burst(targets: list[str], acked: dict[str, str], twins: dict[str, list[str]]) -> None:
    """BURST cases round-robin over the intake replicas; the first PAIRS go to both at
    once under two references (a citizen calling twice: a duplicate), the next TWINS to
    both at once under one reference (a hotline retrying on the other replica: one case,
    whose id both answers give, in `twins`)."""
    channels = [callers.channel(t) for t in targets]
    stubs = [intake_service_pb2_grpc.IntakeServiceStub(c) for c in channels]
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def one(
        i: int, stub: intake_service_pb2_grpc.IntakeServiceStub, ref: str, twin: bool = False
    ) -> None:
        req = submission(i + 1)  # the lattice from its second point: not the story's home
        req.category = "household_electrical"
        req.external_ref = ref
        async with sem:
            for _ in range(40):
                try:
                    reply = await stub.SubmitCase(req, timeout=10)
                except grpc.aio.AioRpcError as err:
                    if err.code() != grpc.StatusCode.UNAVAILABLE:
                        raise
                    await asyncio.sleep(0.25)
                    continue
                acked[ref] = reply.case.id
                if twin:
                    twins.setdefault(ref, []).append(reply.case.id)
                return
            raise AssertionError(f"{ref} never acknowledged")

    tasks = []
    for i in range(BURST):
        if i < PAIRS:
            tasks += [one(i, stubs[0], f"burst-{i}-a"), one(i, stubs[1], f"burst-{i}-b")]
        elif i < PAIRS + TWINS:
            ref = f"burst-{i}-twin"
            tasks += [one(i, stubs[0], ref, twin=True), one(i, stubs[1], ref, twin=True)]
        else:
            tasks.append(one(i, stubs[i % len(stubs)], f"burst-{i}"))
    try:
        await asyncio.gather(*tasks)
    finally:
        for c in channels:
            await c.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_two_replicas_of_everything_on_postgresql_and_a_nats_cluster_do_it_once(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    gateway, hooks = KeyCounter().start(), KeyCounter().start()
    # As production runs it: a user per service, each publishing only its own subjects.
    passwords = natsauth.embedded_passwords(tmp_path / "credentials")
    cluster = NatsCluster(tmp_path / "nats", users=natsauth.service_users(passwords))
    services: dict[str, list[Service]] = {}
    hotline: Hotline | None = None
    try:
        await asyncio.to_thread(cluster.start)
        urls = {n: postgres_server.create_database(f"replicas_{n}") for n in ORDER}
        policy = drill_policy(tmp_path / "policy.yaml")
        notify_env = {
            "POLICY_FILE": str(policy),
            "SMS_GATEWAY_URL": gateway.url,
            "APP_PUSH": "true",
            "FILE_SINK": "false",
            "QUIET_HOURS": "",
            "SMS_RATE_LIMIT_PER_NUMBER": "0",
            "DEFAULT_HOTLINE_WEBHOOK_URL": hooks.url,
        }
        services = replicas(
            tmp_path,
            cluster,
            urls,
            {
                "intake": {"POLICY_FILE": str(policy)},
                "routing": {"POLICY_FILE": str(policy)},
                "notify": notify_env,
            },
        )
        # Replicas of one service start together, as a Deployment's pods do.
        for name in ORDER:
            for s in services[name]:
                s.start()
            for s in services[name]:
                await asyncio.to_thread(wait_serving, s.target)

        # The story, against the first replica of each service.
        targets = {n: services[n][0].target for n in ORDER}
        assert await asyncio.to_thread(run_story, targets) == 0

        # A hotline follows WatchCases through the burst: on the second intake from now,
        # then (after FOLLOWED_ON_B changes) on the first with its last cursor. Both
        # intakes apply routing's steps into the one timeline at once.
        hotline = Hotline(*(s.target for s in services["intake"]))
        await hotline.start()

        acked: dict[str, str] = {}
        killer = asyncio.create_task(kill_a_node_soon(cluster))
        replaced = asyncio.create_task(kill_a_replica_soon(services["routing"][1]))
        twins: dict[str, list[str]] = {}
        await burst([s.target for s in services["intake"]], acked, twins)
        # The same submission on both replicas at once is one case; both were told its id.
        assert len(twins) == TWINS and all(len(v) == 2 and v[0] == v[1] for v in twins.values())
        await killer
        await replaced

        async with (
            callers.channel(services["intake"][1].target) as ic,
            callers.channel(services["routing"][1].target) as rc,
            callers.channel(services["notify"][1].target) as nc,
        ):
            apis = {
                "intake": intake_service_pb2_grpc.IntakeServiceStub(ic),
                "routing": routing_service_pb2_grpc.RoutingServiceStub(rc),
                "notify": notify_service_pb2_grpc.NotifyServiceStub(nc),
            }
            outcome = None
            for _ in range(90):
                received = gateway.snapshot()[0] + hooks.snapshot()[0]
                outcome = await settled(**apis, acked=acked, drill=set(), received=received)
                if outcome is not None:
                    break
                await asyncio.sleep(2.0)
            if outcome is None:
                outcome = await check(
                    **apis,
                    acked=acked,
                    drill=set(),
                    received=gateway.snapshot()[0] + hooks.snapshot()[0],
                )
            # The hotline got every change after its start once, in the timeline's order.
            streamed, log = await hotline.finish(apis["intake"])
            assert streamed[: len(log)] == log, hotline.first_difference(log)
            # Each duplicate pair is one case: one of the two joined the other.
            merged = 0
            for i in range(PAIRS):
                a, b = acked[f"burst-{i}-a"], acked[f"burst-{i}-b"]
                cases = [
                    (await apis["routing"].GetCase(routing_svc.GetCaseRequest(case_id=c))).case
                    for c in (a, b)
                ]
                statuses = Counter(c.status for c in cases)
                merged += statuses[routing_res.CASE_STATUS_MERGED]
                assert statuses[routing_res.CASE_STATUS_MERGED] == 1, (i, statuses)
        print(
            f"\nreplicas: {len(acked)} acknowledged, lost {len(outcome.lost)}, doubled "
            f"{len(outcome.doubled)}, stuck {outcome.stuck}, re-sent {len(outcome.resent)}, "
            f"duplicate pairs merged {merged}/{PAIRS}, same-reference twins one case "
            f"{TWINS}/{TWINS}, a routing replica SIGKILLed and replaced, "
            f"WatchCases {len(streamed)} changes "
            f"({FOLLOWED_ON_B} on one intake, the rest resumed on the other), none missed"
        )
        assert len(acked) == BURST + PAIRS
        assert outcome.lost == [] and outcome.doubled == []
        assert outcome.stuck == 0, (outcome.not_filed[:3], outcome.undelivered[:3])
        assert outcome.resent == {}  # nothing died that sends: nothing goes out twice
    finally:
        if hotline is not None:
            await hotline.close()
        for group in services.values():
            for s in group:
                await asyncio.to_thread(s.stop)
        await asyncio.to_thread(cluster.stop)
        gateway.stop()
        hooks.stop()


class Hotline:
    """A WatchCases client: follows replica `b` from now for FOLLOWED_ON_B changes, then
    resumes on replica `a` with the last cursor it got."""

    def __init__(self, a: str, b: str) -> None:
        self.channels = [callers.channel(a), callers.channel(b)]
        self.a, self.b = (intake_service_pb2_grpc.IntakeServiceStub(c) for c in self.channels)
        self.got: list[intake_svc.WatchCasesResponse] = []
        self.start_seq = 0
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        call = self.b.WatchCases(intake_svc.WatchCasesRequest(from_now=True))
        start = dict(await call.initial_metadata())[watch.CURSOR_KEY]
        self.start_seq = watch.decode_cursor(start)
        self.task = asyncio.create_task(self._follow(call))

    async def _follow(self, on_b: grpc.aio.UnaryStreamCall) -> None:
        async for msg in on_b:
            self.got.append(msg)
            if len(self.got) == FOLLOWED_ON_B:
                break
        on_b.cancel()
        on_a = self.a.WatchCases(intake_svc.WatchCasesRequest(cursor=self.got[-1].cursor))
        try:
            async for msg in on_a:
                self.got.append(msg)
        finally:
            on_a.cancel()

    async def finish(
        self, intake: intake_service_pb2_grpc.IntakeServiceStub
    ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(what the stream sent, the timeline after its start), as (case, position); the
        stream given up to a minute to catch up with the timeline."""
        log: list[tuple[str, int]] = []
        token = ""
        while True:
            page = await intake.ListStatusChanges(
                intake_svc.ListStatusChangesRequest(page_size=500, page_token=token)
            )
            log += [
                (c.case_id, c.sequence) for c in page.status_changes if c.sequence > self.start_seq
            ]
            token = page.next_page_token
            if not token:
                break
        for _ in range(600):
            if self.task is not None and self.task.done():
                self.task.result()  # the stream failed: say why
            if len(self.got) >= len(log):
                break
            await asyncio.sleep(0.1)
        return [(m.change.case_id, m.change.sequence) for m in self.got], log

    def first_difference(self, log: list[tuple[str, int]]) -> str:
        got = [(m.change.case_id, m.change.sequence) for m in self.got]
        for i, (g, want) in enumerate(zip(got, log, strict=False)):
            if g != want:
                return f"at {i}: streamed {g}, timeline has {want}"
        return f"streamed {len(got)} of {len(log)}"

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for c in self.channels:
            await c.close()


async def kill_a_node_soon(cluster: NatsCluster) -> None:
    await asyncio.sleep(3.0)
    await asyncio.to_thread(cluster.nodes[0].kill)


async def kill_a_replica_soon(replica: Service) -> None:
    """SIGKILL one routing replica while it files the burst, and start it again a few
    seconds later, as a Deployment replaces a pod: what it had fetched but not acked
    comes back to either replica; what it had committed stays done once."""
    await asyncio.sleep(2.0)
    await asyncio.to_thread(replica.kill)
    await asyncio.sleep(5.0)
    replica.start()
    await asyncio.to_thread(wait_serving, replica.target)
