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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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
from tests.faults.stack import Stack, drill_policy, wait_serving  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
LON0, LON1, LAT0, LAT1 = 117.5505, 117.5645, 34.8585, 34.8695  # 辛庄社区第一网格


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def submission(i: int, run: str) -> svc.SubmitCaseRequest:
    row, col = divmod(i % 3600, 60)
    req = svc.SubmitCaseRequest(
        channel=res.CHANNEL_MAYOR_HOTLINE,
        external_ref=f"pipe-{run}-{i}",
        reporter=res.Reporter(name="张胜起", phone="13806325566"),
        location=res.Location(address="龙山路街道辛庄社区"),
        category="household_electrical",
        description="家中电灯一直闪个不停，需要电工上门检查。",
    )
    req.location.point.latitude = LAT0 + (LAT1 - LAT0) * row / 59
    req.location.point.longitude = LON0 + (LON1 - LON0) * col / 59
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
    async with grpc.aio.insecure_channel(target) as channel:
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


async def one_run(
    stack: Stack, cases: int, in_flight: int, run: str, timeout: float
) -> dict[str, Any]:
    seen = Current.seen = Seen()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(stack["intake"].target, seen, stop))
    await asyncio.sleep(0.5)
    pids = {n: s.proc.pid for n, s in stack.services.items() if s.proc}
    pids["nats"] = stack.nats.pid()
    cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
    async with grpc.aio.insecure_channel(stack["intake"].target) as channel:
        stub = intake_service_pb2_grpc.IntakeServiceStub(channel)

        async def submit(i: int) -> object:
            reply = await stub.SubmitCase(submission(i, run), timeout=30)
            seen.submitted[reply.case.id] = time.monotonic()
            return reply

        began = time.monotonic()
        submit_rate, _ = await drive(submit, cases, in_flight)
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
    cpu = {n: cpu_seconds(p) - cpu0[n] for n, p in pids.items()}
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
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        echo = channel.unary_unary(ECHO_METHOD)

        async def call(i: int) -> object:
            return await echo(payload)

        await drive(call, 200, in_flight)
        rate, _ = await drive(call, calls, in_flight)
        return rate


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
            results.setdefault(c, []).append(await one_run(stack, args.cases, c, run, args.timeout))
            echo.setdefault(c, []).append(await echo_rate(echo_port, c, 2000))
    print(
        f"\nPipeline, embedded default (SQLite fsynced, JetStream file store), {args.cases} "
        f"cases per run, median of {args.rounds} round(s), {os.cpu_count()} cores\n"
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to settle a run")
    args = parser.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
