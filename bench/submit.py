"""Durable SubmitCase throughput and latency, beside a raw gRPC echo in the same run.

Both servers run as child processes on this machine and are driven by the same client
loop: N calls with C in flight. The echo server returns the request bytes untouched (no
protobuf parsing, no database) — the ceiling for one gRPC round trip here. intake does the
real work: validates, writes the case and its outbox row (committed in groups by the
writer thread; SQLite WAL, `synchronous=FULL`: every commit fsynced), the relay publishes
to JetStream. Every acknowledged case is on disk. A second intake with
`synchronous=NORMAL` (no fsync per commit; not durable across a power loss) shows what the
fsyncs cost. Figures are medians of several rounds; the machine is small and noisy, so
read the ratio, not the absolute numbers.

    .venv/bin/python bench/submit.py [--rounds 3] [--calls 2000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from lianxin.intake.v1 import intake_service_pb2 as svc  # noqa: E402
from lianxin.intake.v1 import intake_service_pb2_grpc  # noqa: E402
from lianxin.intake.v1 import resources_pb2 as res  # noqa: E402
from services.cli.up import wait_serving  # noqa: E402
from services.common.natsserver import NatsServer, free_port  # noqa: E402
from tests import callers  # noqa: E402 - tokens the services trust (test keys)

ECHO_METHOD = "/bench.Echo/Echo"


async def serve_echo(port: int) -> None:
    def echo(request: bytes, context: object) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    from grpc_health.v1 import health, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def submission(i: int, run: str) -> svc.SubmitCaseRequest:
    return svc.SubmitCaseRequest(
        channel=res.CHANNEL_MAYOR_HOTLINE,
        external_ref=f"bench-{run}-{i}",
        reporter=res.Reporter(name="张胜起", phone="13806325566"),
        location=res.Location(
            point=res.LatLng(latitude=34.8605, longitude=117.5585), address="龙山路街道辛庄社区"
        ),
        category="household_electrical",
        description="家中电灯一直闪个不停，需要电工上门检查。",
    )


async def drive(
    call: Callable[[int], Awaitable[object]], calls: int, in_flight: int
) -> tuple[float, list[float]]:
    """Run `calls` calls with `in_flight` concurrent; returns (calls/s, latencies s)."""
    latencies: list[float] = []
    next_i = 0

    async def worker() -> None:
        nonlocal next_i
        while next_i < calls:
            i = next_i
            next_i += 1
            t0 = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return calls / (time.perf_counter() - start), latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


NAMES = ("echo", "submit", "nosync")


async def measure(
    args: argparse.Namespace, echo_port: int, intake_port: int, nosync_port: int
) -> int:
    payload = submission(0, "x").SerializeToString()
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    async with (
        callers.channel(f"127.0.0.1:{echo_port}") as echo_ch,
        callers.channel(f"127.0.0.1:{intake_port}") as intake_ch,
        callers.channel(f"127.0.0.1:{nosync_port}") as nosync_ch,
    ):
        echo = echo_ch.unary_unary(ECHO_METHOD)
        intake = intake_service_pb2_grpc.IntakeServiceStub(intake_ch)
        nosync = intake_service_pb2_grpc.IntakeServiceStub(nosync_ch)
        for rnd in range(args.rounds):
            for in_flight in (1, 64):
                calls = args.calls if in_flight > 1 else max(200, args.calls // 4)
                run = f"{os.getpid()}-{rnd}-{in_flight}"

                async def do_echo(i: int) -> object:
                    return await echo(payload)

                async def do_submit(i: int, run: str = run) -> object:
                    return await intake.SubmitCase(submission(i, run))

                async def do_nosync(i: int, run: str = run) -> object:
                    return await nosync.SubmitCase(submission(i, run))

                for name, fn in (("echo", do_echo), ("submit", do_submit), ("nosync", do_nosync)):
                    await drive(fn, min(100, calls), in_flight)  # warm-up
                    rate, lat = await drive(fn, calls, in_flight)
                    results.setdefault((name, in_flight), []).append(
                        (rate, pct(lat, 0.5), pct(lat, 0.99))
                    )
    print(
        f"\nSubmitCase (durable: SQLite WAL fsynced + outbox → JetStream; nosync: "
        f"synchronous=NORMAL) vs raw gRPC echo, "
        f"median of {args.rounds} rounds, {os.cpu_count()} cores\n"
    )
    print(f"{'in flight':>9} {'what':>7} {'calls/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    for in_flight in (1, 64):
        med = {
            n: tuple(statistics.median(r[k] for r in results[(n, in_flight)]) for k in range(3))
            for n in NAMES
        }
        for name in NAMES:
            rate, p50, p99 = med[name]
            ratio = f"{rate / med['echo'][0]:.2f}x" if name != "echo" else ""
            print(
                f"{in_flight:>9} {name:>7} {rate:>10.0f} {p50 * 1000:>8.2f} "
                f"{p99 * 1000:>8.2f} {ratio:>7}"
            )
    print(
        "\nratio = SubmitCase calls/s ÷ echo calls/s at the same concurrency "
        "(target ≥ 0.6x at 64 in flight)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000, help="calls per run at 64 in flight")
    parser.add_argument("--quick", action="store_true", help="one small round (smoke test)")
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        asyncio.run(serve_echo(args.serve_echo))
        return 0
    if args.quick:
        args.rounds, args.calls = 1, 200
    with tempfile.TemporaryDirectory(prefix="lianxin-bench-") as tmp:
        data = Path(tmp)
        nats = NatsServer(data / "nats", port=free_port())
        nats.start()
        echo_port, intake_port, nosync_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "LIANXIN_INTAKE_DATA_DIR": str(data),
            "LIANXIN_INTAKE_NATS_URL": nats.url,
            "LIANXIN_INTAKE_GRPC_PORT": str(intake_port),
            "LIANXIN_INTAKE_METRICS_PORT": "off",
            "LIANXIN_INTAKE_LOG_LEVEL": "WARNING",
            # One anonymous caller at hundreds a second: measure intake, not the limiter.
            "LIANXIN_INTAKE_RATE_LIMIT_PER_SECOND": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
        }
        nosync_env = {
            **env,
            "LIANXIN_INTAKE_DATA_DIR": str(data / "nosync"),
            "LIANXIN_INTAKE_GRPC_PORT": str(nosync_port),
            "LIANXIN_INTAKE_SQLITE_SYNCHRONOUS": "NORMAL",
        }
        procs = [
            subprocess.Popen([sys.executable, __file__, "--serve-echo", str(echo_port)], env=env),
            subprocess.Popen([sys.executable, "-m", "services.intake"], env=env, cwd=ROOT),
            subprocess.Popen([sys.executable, "-m", "services.intake"], env=nosync_env, cwd=ROOT),
        ]
        try:
            for port in (echo_port, intake_port, nosync_port):
                if not wait_serving(f"127.0.0.1:{port}"):
                    print(f"server on port {port} did not start", file=sys.stderr)
                    return 1
            return asyncio.run(measure(args, echo_port, intake_port, nosync_port))
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=15)
            nats.stop()


if __name__ == "__main__":
    sys.exit(main())
