"""The whole pipeline, end to end: SubmitCase → filed and dispatched (seen on WatchCases)
→ the dispatch notification sent (seen at the hotline's webhook receiver), beside a raw
gRPC echo measured in the same run.

The system runs as `lianxin up` runs it (nats-server and the four services as separate
processes, embedded default: SQLite, file-stored JetStream). N cases go in with C calls in
flight, as fast as intake takes them; the figures are

- sustained cases/s: N ÷ (first SubmitCase sent → last dispatch webhook received);
- end-to-end p50/p99: SubmitCase returned → DISPATCHED on WatchCases, and → the dispatch
  webhook received;
- CPU per case of each process (user + system time from /proc ÷ N), which says where the
  time goes;
- the echo's calls/s at the same C, and the pipeline's ratio to it.

    .venv/bin/python bench/pipeline.py [--cases 3000] [--in-flight 16 32 64] [--rounds 1]
    .venv/bin/python bench/pipeline.py --rate 30 [--cases 1500] [--in-flight 64]
    .venv/bin/python bench/pipeline.py --stored 0 100000 1000000 [--cases 500] [--profile DIR]
    .venv/bin/python bench/pipeline.py --replicas 2 [--cases 3000] [--in-flight 32]

With `--rate R` the cases are offered at R a second (at most C at once), as a hotline's
callers arrive, instead of as fast as intake takes them: below saturation the end-to-end
latency is the pipeline's own, not the wait behind a backlog.

With `--replicas N`, N replicas of every service share one PostgreSQL database each (the
tests' throwaway server: fsync off, so this measures the software, not a disk) and a
three-node JetStream cluster with the stream at R3; cases go round-robin to the intakes.

With `--stored`, each run starts on databases already holding that many cases (intake's
and routing's, spread over two years, categories and the district's points; 5% still
open), and the table shows how SubmitCase's latency and routing's CPU per filed case grow
with the data, as ratios to the empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench.submit import ECHO_METHOD, drive, pct  # noqa: E402
from lianxin.intake.v1 import intake_service_pb2 as svc  # noqa: E402
from lianxin.intake.v1 import intake_service_pb2_grpc  # noqa: E402
from lianxin.intake.v1 import resources_pb2 as res  # noqa: E402
from lianxin.routing.v1 import resources_pb2 as routing_res  # noqa: E402
from services.common.natsserver import free_port  # noqa: E402
from tests import callers  # noqa: E402 - tokens the services trust (test keys)
from tests.faults.stack import Stack, drill_policy, wait_serving  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
LON0, LON1, LAT0, LAT1 = 117.5505, 117.5645, 34.8585, 34.8695  # 辛庄社区第一网格


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """A server that forks a process per connection (PostgreSQL, started through a user
    switch as root): the time of the process and of all its descendants, the live ones
    and those that have exited."""
    stats: dict[int, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stats[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
    children: dict[int, list[int]] = {}
    for p, f in stats.items():
        children.setdefault(int(f[1]), []).append(p)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        f = stats.get(p)
        if f is not None:  # utime stime cutime cstime
            total += sum(int(x) for x in f[11:15]) / CLK_TCK
        todo += children.get(p, [])
    return total


_points = itertools.count()
SIDE = 200  # a 200 × 200 lattice, ~6 m apart: every case of a bench run has its own point


def submission(i: int, run: str) -> svc.SubmitCaseRequest:
    """A fresh point each call (a repeated point would be merged as a duplicate)."""
    row, col = divmod(next(_points) % (SIDE * SIDE), SIDE)
    req = svc.SubmitCaseRequest(
        channel=res.CHANNEL_MAYOR_HOTLINE,
        external_ref=f"pipe-{run}-{i}",
        reporter=res.Reporter(name="张胜起", phone="13806325566"),
        location=res.Location(address="龙山路街道辛庄社区"),
        category="household_electrical",
        description="家中电灯一直闪个不停，需要电工上门检查。",
    )
    req.location.point.latitude = LAT0 + (LAT1 - LAT0) * row / (SIDE - 1)
    req.location.point.longitude = LON0 + (LON1 - LON0) * col / (SIDE - 1)
    return req


@dataclass
class Seen:
    """When each case's milestones were seen (time.monotonic())."""

    submitted: dict[str, float] = field(default_factory=dict)
    dispatched: dict[str, float] = field(default_factory=dict)
    told: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Current:
    """The run whose milestones the webhook receiver records."""

    seen = Seen()


def webhook_receiver() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                msg = json.loads(body)
            except ValueError:
                msg = {}
            if msg.get("event_type") == "case.dispatched":
                seen = Current.seen
                with seen.lock:
                    seen.told.setdefault(msg.get("case_id", ""), time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def watch(target: str, seen: Seen, stop: asyncio.Event) -> None:
    async with callers.channel(target) as channel:
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)
        call = stub.WatchCases(svc.WatchCasesRequest(channel=res.CHANNEL_MAYOR_HOTLINE))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                read = asyncio.ensure_future(call.read())
                await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    break
                msg = read.result()
                if msg is grpc.aio.EOF:
                    break
                if msg.change.status == routing_res.CASE_STATUS_DISPATCHED:
                    seen.dispatched.setdefault(msg.case.id, time.monotonic())
        finally:
            call.cancel()
            stopping.cancel()


@dataclass
class Topology:
    """Where to send cases and whose CPU to count: one process per service (embedded) or
    several replicas of each."""

    intake_targets: list[str]
    pids: dict[str, list[int]]  # process group (service, nats) → its processes

    @classmethod
    def of_stack(cls, stack: Stack) -> Topology:
        pids = {n: [s.proc.pid] for n, s in stack.services.items() if s.proc}
        pids["nats"] = [stack.nats.pid()]
        return cls([stack["intake"].target], pids)


def cpu_of(pids: dict[str, list[int]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            with contextlib.suppress(FileNotFoundError):
                total += tree_cpu_seconds(pid) if name == "postgres" else cpu_seconds(pid)
        out[name] = total
    return out


async def paced(
    call: Callable[[int], Awaitable[object]], calls: int, rate: float, in_flight: int
) -> tuple[float, list[float]]:
    """Start a call every 1/`rate` s (an offered load, as a hotline's callers make it),
    at most `in_flight` at once; returns (calls/s, latencies s)."""
    slots = asyncio.Semaphore(in_flight)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with slots:
            t0 = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    tasks = []
    for i in range(calls):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return calls / (time.perf_counter() - start), latencies


async def one_run(
    topo: Topology | Stack,
    cases: int,
    in_flight: int,
    run: str,
    timeout: float,
    rate: float | None = None,
) -> dict[str, Any]:
    if isinstance(topo, Stack):
        topo = Topology.of_stack(topo)
    seen = Current.seen = Seen()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(topo.intake_targets[0], seen, stop))
    await asyncio.sleep(0.5)
    cpu0 = cpu_of(topo.pids)
    channels = [callers.channel(t) for t in topo.intake_targets]
    try:
        stubs = [intake_service_pb2_grpc.IntakeServiceStub(c) for c in channels]

        async def submit(i: int) -> object:
            reply = await stubs[i % len(stubs)].SubmitCase(submission(i, run), timeout=30)
            seen.submitted[reply.case.id] = time.monotonic()
            return reply

        began = time.monotonic()
        if rate:
            submit_rate, _ = await paced(submit, cases, rate, in_flight)
        else:
            submit_rate, _ = await drive(submit, cases, in_flight)
    finally:
        for c in channels:
            await c.close()
    ids = set(seen.submitted)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with seen.lock:
            told = ids <= seen.told.keys()
        if told and ids <= seen.dispatched.keys():
            break
        await asyncio.sleep(0.2)
    stop.set()
    await watcher
    cpu1 = cpu_of(topo.pids)
    cpu = {n: cpu1[n] - cpu0[n] for n in cpu1}
    done = [c for c in ids if c in seen.told]
    last = max((seen.told[c] for c in done), default=time.monotonic())
    to_dispatch = [seen.dispatched[c] - seen.submitted[c] for c in ids if c in seen.dispatched]
    to_told = [seen.told[c] - seen.submitted[c] for c in done]
    return {
        "submit_rate": submit_rate,
        "sustained": len(done) / (last - began),
        "complete": len(done) == len(ids) and len(to_dispatch) == len(ids),
        "dispatch_p50": pct(to_dispatch, 0.5) if to_dispatch else float("nan"),
        "dispatch_p99": pct(to_dispatch, 0.99) if to_dispatch else float("nan"),
        "told_p50": pct(to_told, 0.5) if to_told else float("nan"),
        "told_p99": pct(to_told, 0.99) if to_told else float("nan"),
        "cpu_ms": {n: 1000 * s / max(1, len(ids)) for n, s in cpu.items()},
    }


async def echo_rate(port: int, in_flight: int, calls: int) -> float:
    payload = submission(0, "echo").SerializeToString()
    async with callers.channel(f"127.0.0.1:{port}") as channel:
        echo = channel.unary_unary(ECHO_METHOD)

        async def call(i: int) -> object:
            return await echo(payload)

        await drive(call, 200, in_flight)
        rate, _ = await drive(call, calls, in_flight)
        return rate


def seed(root: Path, stored: int) -> None:
    """Give intake's and routing's databases (migrated, under `root`/stack/data) `stored`
    cases, and notify's `stored` sent deliveries, written straight into their tables in
    batches."""
    if stored <= 0:
        return
    import random
    from datetime import UTC, datetime

    from services.intake import store as intake_store
    from services.routing import store as routing_store

    data = root / "stack" / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    now = datetime.now(UTC)
    for service, store_mod in (("intake", intake_store), ("routing", routing_store)):
        rng.seed(7)
        seed_cases(data, service, store_mod, stored, rng, now)
    seed_deliveries(data, stored, now)


def blank(table: Any, now: Any) -> dict[str, Any]:
    """A row of `table` with every column set to a neutral value."""
    from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text

    row: dict[str, Any] = {}
    for c in table.columns:
        if c.nullable:
            row[c.name] = None
        elif isinstance(c.type, Boolean):
            row[c.name] = False
        elif isinstance(c.type, Integer):
            row[c.name] = 0
        elif isinstance(c.type, Float):
            row[c.name] = 0.0
        elif isinstance(c.type, DateTime):
            row[c.name] = now
        elif isinstance(c.type, String | Text):
            row[c.name] = ""
        else:
            row[c.name] = "[]"
    return row


def seed_cases(data: Path, service: str, store_mod: Any, stored: int, rng: Any, now: Any) -> None:
    """Cases spread over two years, categories and the district's points; 5% still open."""
    from datetime import timedelta

    from sqlalchemy import insert

    from services.common.db import Database, migrate
    from services.common.ids import uuid7
    from services.routing import store as routing_store

    categories = ["household_electrical", "street_light", "sanitation", "illegal_vending"]
    url = f"sqlite:///{(data / f'{service}.db').resolve()}"
    migrate(url, store_mod.MIGRATIONS)
    db = Database(url, sqlite_synchronous="NORMAL")
    template = blank(store_mod.cases, now)
    try:
        for start in range(0, stored, 20_000):
            rows = []
            for i in range(start, min(stored, start + 20_000)):
                lat = LAT0 - 0.05 + rng.random() * 0.1
                lon = LON0 - 0.05 + rng.random() * 0.1
                created = now - timedelta(seconds=rng.randrange(2 * 365 * 86400))
                open_ = rng.random() < 0.05
                row = {
                    **template,
                    "id": uuid7(),
                    "category": rng.choice(categories),
                    "channel": 1 + i % 4,
                    "status": 3 if open_ else 6,
                    "latitude": lat,
                    "longitude": lon,
                    "created_at": created,
                    "updated_at": created,
                }
                if service == "intake":
                    row["external_ref"] = f"seed-{i}"
                else:
                    row["cell"] = routing_store.cell_of(lat, lon)
                rows.append(row)
            table = store_mod.cases
            db.write_sync(lambda conn, rows=rows, t=table: conn.execute(insert(t), rows))
    finally:
        db.close()


def seed_deliveries(data: Path, stored: int, now: Any) -> None:
    """notify's history: one sent delivery (an SMS to the reporter) per stored case."""
    from sqlalchemy import insert

    from services.common.db import Database, migrate
    from services.common.ids import uuid7
    from services.notify import store as notify_store

    url = f"sqlite:///{(data / 'notify.db').resolve()}"
    migrate(url, notify_store.MIGRATIONS)
    db = Database(url, sqlite_synchronous="NORMAL")
    template = blank(notify_store.deliveries, now)
    try:
        for start in range(0, stored, 20_000):
            rows = [
                {
                    **template,
                    "id": uuid7(),
                    "event_id": uuid7(),
                    "event_type": "case.received",
                    "case_id": uuid7(),
                    "recipient_kind": "citizen",
                    "recipient_id": f"seed-{i}",
                    "address": f"138{i:08d}",
                    "channel": 1,
                    "status": 2,
                    "data": "{}",
                    "sent_at": now,
                }
                for i in range(start, min(stored, start + 20_000))
            ]
            t = notify_store.deliveries
            db.write_sync(lambda conn, rows=rows, t=t: conn.execute(insert(t), rows))
    finally:
        db.close()


async def cost_run(
    stack: Stack, cases: int, run: str, profile: Path | None = None
) -> dict[str, float]:
    """SubmitCase one at a time (its latency), then the pipeline's routing CPU per case;
    with `profile`, py-spy samples intake, routing and notify all along (collapsed stacks in
    `profile`/<service>-<run>.txt, for `py-spy`'s flame graphs or a diff between sizes)."""
    spies = [] if profile is None else [py_spy(stack, name, profile, run) for name in PROFILED]
    try:
        return await _cost_run(stack, cases, run)
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for spy in spies:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)


PROFILED = ("intake", "routing", "notify")


def py_spy(stack: Stack, name: str, directory: Path, run: str) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    proc = stack[name].proc
    assert proc is not None
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(proc.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(directory / f"{name}-{run}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _cost_run(stack: Stack, cases: int, run: str) -> dict[str, float]:
    async with callers.channel(stack["intake"].target) as channel:
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)
        latencies = []
        for i in range(200):
            t0 = time.perf_counter()
            await stub.SubmitCase(submission(i, f"{run}-single"), timeout=30)
            latencies.append(time.perf_counter() - t0)
    out = await one_run(stack, cases, 16, run, timeout=600)
    return {
        "submit_p50_ms": 1000 * pct(latencies, 0.5),
        "routing_ms": out["cpu_ms"]["routing"],
        "intake_ms": out["cpu_ms"]["intake"],
        "notify_ms": out["cpu_ms"]["notify"],
        "told_p50": out["told_p50"],
    }


def start_stack(root: Path, hooks_url: str) -> Stack:
    policy = drill_policy(root / "policy.yaml")  # round-the-clock; no merging of neighbours
    quiet = {"LOG_LEVEL": "WARNING"}
    stack = Stack(
        root / "stack",
        nats_port=free_port(),
        extra_env={
            "intake": {**quiet, "POLICY_FILE": str(policy)},
            "registry": quiet,
            "routing": {**quiet, "POLICY_FILE": str(policy)},
            "notify": {
                **quiet,
                "POLICY_FILE": str(policy),
                "FILE_SINK": "true",
                "QUIET_HOURS": "",
                "DEFAULT_HOTLINE": "mayor_hotline",
                "DEFAULT_HOTLINE_WEBHOOK_URL": hooks_url,
            },
        },
    )
    stack.start_nats()
    stack.start_services()
    return stack


async def measure(args: argparse.Namespace, stack: Stack, echo_port: int) -> int:
    results: dict[int, list[dict[str, Any]]] = {}
    echo: dict[int, list[float]] = {}
    for rnd in range(args.rounds):
        for c in args.in_flight:
            run = f"{os.getpid()}-{rnd}-{c}"
            results.setdefault(c, []).append(
                await one_run(stack, args.cases, c, run, args.timeout, rate=args.rate)
            )
            echo.setdefault(c, []).append(await echo_rate(echo_port, c, 2000))
    print(
        f"\nPipeline, embedded default (SQLite fsynced, JetStream file store), {args.cases} "
        f"cases per run, median of {args.rounds} round(s), {os.cpu_count()} cores"
        + (f", offered {args.rate:g} cases/s" if args.rate else ", as fast as taken")
        + "\n"
    )
    print(
        f"{'in flight':>9} {'submit/s':>9} {'cases/s':>8} {'echo/s':>8} {'ratio':>7} "
        f"{'dispatch p50/p99 s':>19} {'told p50/p99 s':>16}  complete"
    )
    for c, runs in results.items():

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        e = statistics.median(echo[c])
        print(
            f"{c:>9} {med('submit_rate'):>9.0f} {med('sustained'):>8.1f} {e:>8.0f} "
            f"{med('sustained') / e:>6.3f}x {med('dispatch_p50'):>9.2f}/{med('dispatch_p99'):<9.2f}"
            f" {med('told_p50'):>7.2f}/{med('told_p99'):<8.2f} "
            f"{all(r['complete'] for r in runs)}"
        )
    print("\nCPU per case (ms), by process:")
    names = list(next(iter(results.values()))[0]["cpu_ms"])
    print(f"{'in flight':>9} " + " ".join(f"{n:>9}" for n in names) + f" {'total':>9}")
    for c, runs in results.items():
        per = {n: statistics.median(r["cpu_ms"][n] for r in runs) for n in names}
        print(
            f"{c:>9} " + " ".join(f"{per[n]:>9.1f}" for n in names) + f" {sum(per.values()):>9.1f}"
        )
    print(
        "\ncases/s = cases ÷ (first SubmitCase → last dispatch webhook); ratio = cases/s ÷ "
        "raw gRPC echo calls/s at the same concurrency; told = the hotline's webhook for "
        "case.dispatched received"
    )
    return 0


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SIGTERM (`timeout`, a CI runner) ends the bench through its `finally` blocks, so the
    # servers it started (nats-servers in their own sessions, PostgreSQL) are stopped too.
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to settle a run")
    parser.add_argument(
        "--profile",
        type=Path,
        help="with --stored: py-spy intake, routing and notify into this directory (raw stacks)",
    )
    parser.add_argument(
        "--stored", type=int, nargs="+", help="cost as data grows: cases already stored"
    )
    parser.add_argument(
        "--replicas", type=int, help="replicas of each service on PostgreSQL + NATS cluster"
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="offer this many cases/s (at most --in-flight at once) instead of as fast as "
        "intake takes them: the latency below saturation",
    )
    args = parser.parse_args()
    if args.stored:
        return cost_as_data_grows(args)
    if args.replicas:
        return replicated(args)
    with tempfile.TemporaryDirectory(prefix="lianxin-pipeline-") as tmp:
        root = Path(tmp)
        echo_port = free_port()
        echo_proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "submit.py"), "--serve-echo", str(echo_port)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")])},
        )
        hooks = webhook_receiver()
        stack = start_stack(root, f"http://127.0.0.1:{hooks.server_address[1]}/hook")
        try:
            wait_serving(f"127.0.0.1:{echo_port}")
            return asyncio.run(measure(args, stack, echo_port))
        finally:
            stack.stop()
            hooks.shutdown()
            echo_proc.terminate()
            echo_proc.wait(timeout=15)


def replicated(args: argparse.Namespace) -> int:
    from tests.faults.stack import ORDER
    from tests.natscluster import NatsCluster
    from tests.postgres import PostgresServer, bin_dir
    from tests.test_replicas import replicas

    bindir = bin_dir()
    if bindir is None:
        print("PostgreSQL is not installed: make postgres", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lianxin-replicas-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
        pg = PostgresServer(bindir=bindir, root=root / "pg")
        (root / "pg").mkdir()
        pg.start()
        cluster = NatsCluster(root / "nats")
        cluster.start()
        hooks = webhook_receiver()
        policy = drill_policy(root / "policy.yaml")
        quiet = {"LOG_LEVEL": "WARNING", "POLICY_FILE": str(policy)}
        services = replicas(
            root,
            cluster,
            {n: pg.create_database(f"bench_{n}") for n in ORDER},
            {
                "intake": quiet,
                "registry": {"LOG_LEVEL": "WARNING"},
                "routing": quiet,
                "notify": {
                    **quiet,
                    "FILE_SINK": "true",
                    "QUIET_HOURS": "",
                    "DEFAULT_HOTLINE": "mayor_hotline",
                    "DEFAULT_HOTLINE_WEBHOOK_URL": (
                        f"http://127.0.0.1:{hooks.server_address[1]}/hook"
                    ),
                },
            },
            count=args.replicas,
        )
        try:
            for name in ORDER:
                for svc_ in services[name]:
                    svc_.start()
                for svc_ in services[name]:
                    wait_serving(svc_.target)
            pids = {n: [s_.proc.pid for s_ in group if s_.proc] for n, group in services.items()}
            pids["nats"] = [n.proc.pid for n in cluster.nodes if n.proc]
            pids["postgres"] = [pg.proc.pid] if pg.proc else []
            topo = Topology([s_.target for s_ in services["intake"]], pids)
            results = {
                c: asyncio.run(one_run(topo, args.cases, c, f"rep-{c}", args.timeout))
                for c in args.in_flight
            }
        finally:
            for group in services.values():
                for svc_ in group:
                    svc_.stop()
            cluster.stop()
            pg.stop()
            hooks.shutdown()
    print(
        f"\nPipeline, {args.replicas} replicas of each service on PostgreSQL (fsync off) and a "
        f"three-node JetStream cluster (R3), {args.cases} cases per run\n"
    )
    print(f"{'in flight':>9} {'submit/s':>9} {'cases/s':>8} {'told p50/p99 s':>16}  complete")
    for c, r in results.items():
        print(
            f"{c:>9} {r['submit_rate']:>9.0f} {r['sustained']:>8.1f} "
            f"{r['told_p50']:>7.2f}/{r['told_p99']:<8.2f} {r['complete']}"
        )
    names = list(next(iter(results.values()))["cpu_ms"])
    print("\nCPU per case (ms), all replicas of each:")
    print(f"{'in flight':>9} " + " ".join(f"{n:>9}" for n in names))
    for c, r in results.items():
        print(f"{c:>9} " + " ".join(f"{r['cpu_ms'][n]:>9.1f}" for n in names))
    return 0


def cost_as_data_grows(args: argparse.Namespace) -> int:
    results: dict[int, dict[str, float]] = {}
    for stored in args.stored:
        with tempfile.TemporaryDirectory(prefix="lianxin-cost-") as tmp:
            root = Path(tmp)
            t0 = time.monotonic()
            seed(root, stored)
            print(f"seeded {stored} cases in {time.monotonic() - t0:.0f} s", flush=True)
            hooks = webhook_receiver()
            stack = start_stack(root, f"http://127.0.0.1:{hooks.server_address[1]}/hook")
            try:
                results[stored] = asyncio.run(
                    cost_run(stack, args.cases, f"cost-{stored}", profile=args.profile)
                )
            finally:
                stack.stop()
                hooks.shutdown()
    base = results[args.stored[0]]
    print(f"\nCost as data grows ({args.cases} cases through the pipeline per size)\n")
    print(
        f"{'stored':>9} {'SubmitCase p50 ms':>18} {'ratio':>6} {'routing ms/case':>16} "
        f"{'ratio':>6} {'intake ms/case':>15} {'ratio':>6} {'notify ms/case':>15} {'ratio':>6}"
    )
    for stored, r in results.items():
        submit_ratio = r["submit_p50_ms"] / base["submit_p50_ms"]
        print(
            f"{stored:>9} {r['submit_p50_ms']:>18.2f} {submit_ratio:>5.2f}x"
            f" {r['routing_ms']:>16.1f} {r['routing_ms'] / base['routing_ms']:>5.2f}x"
            f" {r['intake_ms']:>15.1f} {r['intake_ms'] / base['intake_ms']:>5.2f}x"
            f" {r['notify_ms']:>15.1f} {r['notify_ms'] / base['notify_ms']:>5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
