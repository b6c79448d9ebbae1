"""registry at district scale: import, audit and LocateGrid, beside a raw gRPC echo.

A generated district (services/registry/generate.py: 2,000 grids, 20,000 buildings,
150,000 households, 500,000 persons; cached under bench/results/) is

1. imported into a fresh SQLite database, file by file, in process (the importer the
   ImportData RPC runs: parse, check every row, write, index) — wall time per file;
2. audited (AuditCoverage's work for the district, in process) — wall time;
3. asked LocateGrid in process (the in-memory grid map, one thread) — lookups/s;
4. asked LocateGrid over gRPC with 64 calls in flight, against the registry running as its
   own process on that database, beside a raw gRPC echo server (bench/submit.py's) driven
   by the same client loop in the same run — calls/s and the ratio.

Figures are medians of rounds; the machine is small and noisy, so read the ratios.

    .venv/bin/python bench/registry.py [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench.submit import ECHO_METHOD, drive, pct, serve_echo  # noqa: E402
from lianxin.registry.v1 import registry_service_pb2 as svc  # noqa: E402
from lianxin.registry.v1 import resources_pb2 as res  # noqa: E402
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub  # noqa: E402
from services.cli.up import wait_serving  # noqa: E402
from services.common.db import Database, migrate  # noqa: E402
from services.common.natsserver import NatsServer, free_port  # noqa: E402
from services.registry import audit, generate, importer  # noqa: E402
from services.registry.gridmap import GridMap  # noqa: E402
from services.registry.store import records, tables  # noqa: E402
from tests import callers  # noqa: E402 - tokens the services trust (test keys)

RESULTS = ROOT / "bench" / "results"
FILES = [
    ("units", res.IMPORT_KIND_UNITS),
    ("buildings", res.IMPORT_KIND_BUILDINGS),
    ("households", res.IMPORT_KIND_HOUSEHOLDS),
    ("persons", res.IMPORT_KIND_PERSONS),
]
TARGETS = {"import": 60.0, "audit": 5.0, "inproc": 50_000.0, "ratio": 0.8}


def district(layout: generate.Layout, seed: int) -> dict[str, Path]:
    """The generated files, made once per layout and seed."""
    name = "full" if layout == generate.FULL else "small"
    out = RESULTS / f"district-{name}-{seed}"
    paths = {
        k: out / f"{k}.{'geojson' if k in ('units', 'buildings') else 'csv'}" for k, _ in FILES
    }
    if not all(p.exists() for p in paths.values()):
        print(f"generating the {name} district into {out} …", flush=True)
        paths = generate.write(out, layout, seed=seed)
    return paths


def import_district(paths: dict[str, Path], url: str) -> dict[str, float]:
    """Seconds per file to import the district into a fresh database at `url`."""
    migrate(url, tables.MIGRATIONS)
    db = Database(url)
    times: dict[str, float] = {}
    try:
        for key, kind in FILES:
            content = paths[key].read_bytes()
            start = time.perf_counter()
            batch = importer.read(kind=kind, fmt=0, file_name=paths[key].name, content=content)
            outcome = db.write_sync(
                lambda conn, batch=batch: importer.apply(
                    conn, batch, actor="bench", now=datetime.now(UTC)
                )
            )
            times[key] = time.perf_counter() - start
            r = outcome.report
            if r.rejected_count or r.inserted != r.total_rows:
                raise SystemExit(f"{key}: {r.rejected_count} rejected: {list(r.rejected)[:3]}")
    finally:
        db.close()
    return times


def audit_district(url: str, unit: str) -> tuple[float, dict[int, int]]:
    db = Database(url)
    try:
        start = time.perf_counter()
        found = db.write_sync(  # a read, on the writer's connection: no other traffic here
            lambda conn: audit.run(conn, unit_code=unit, kind=0, after=(0, ""), limit=101)
        )
        return time.perf_counter() - start, dict(found.counts) if found else {}
    finally:
        db.close()


def points(grid_map: GridMap, n: int, seed: int = 1) -> list[tuple[float, float]]:
    """`n` random (lat, lon) inside the district's grids (a hotline's points are)."""
    import shapely

    rng = random.Random(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(grid_map.geoms)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lat, lon = rng.uniform(miny, maxy), rng.uniform(minx, maxx)
        if grid_map.locate_code(lat, lon):
            out.append((lat, lon))
    return out


def locate_in_process(grid_map: GridMap, pts: list[tuple[float, float]]) -> float:
    locate = grid_map.locate
    start = time.perf_counter()
    for lat, lon in pts:
        locate(lat, lon)
    return len(pts) / (time.perf_counter() - start)


async def locate_over_grpc(
    args: argparse.Namespace, echo_port: int, registry_port: int, pts: list[tuple[float, float]]
) -> dict[tuple[str, int], list[tuple[float, float, float]]]:
    requests = [svc.LocateGridRequest(location=res.LatLng(latitude=a, longitude=o)) for a, o in pts]
    payload = requests[0].SerializeToString()
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    async with (
        callers.channel(f"127.0.0.1:{echo_port}") as echo_ch,
        callers.channel(f"127.0.0.1:{registry_port}") as reg_ch,
    ):
        echo = echo_ch.unary_unary(ECHO_METHOD)
        registry = RegistryServiceStub(reg_ch)

        async def do_echo(i: int) -> object:
            return await echo(payload)

        async def do_locate(i: int) -> object:
            return await registry.LocateGrid(requests[i % len(requests)])

        calls_fns: list[tuple[str, Callable[[int], Any]]] = [
            ("echo", do_echo),
            ("locate", do_locate),
        ]
        for _ in range(args.rounds):
            for in_flight in (1, 64):
                calls = args.calls if in_flight > 1 else max(200, args.calls // 4)
                for name, fn in calls_fns:
                    await drive(fn, min(200, calls), in_flight)  # warm-up
                    rate, lat = await drive(fn, calls, in_flight)
                    results.setdefault((name, in_flight), []).append(
                        (rate, pct(lat, 0.5), pct(lat, 0.99))
                    )
    return results


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=4000, help="gRPC calls per run at 64")
    parser.add_argument("--lookups", type=int, default=200_000, help="in-process lookups/round")
    parser.add_argument("--seed", type=int, default=370402)
    parser.add_argument("--quick", action="store_true", help="small district, one round")
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        asyncio.run(serve_echo(args.serve_echo))
        return 0
    layout = generate.FULL
    if args.quick:
        layout, args.rounds, args.calls, args.lookups = generate.SMALL, 1, 500, 20_000
    paths = district(layout, args.seed)
    unit = layout.district[0]

    with tempfile.TemporaryDirectory(prefix="lianxin-bench-registry-") as tmp:
        data = Path(tmp)
        imports: list[dict[str, float]] = []
        url = ""
        for i in range(args.rounds):
            round_dir = data / f"import-{i}"
            round_dir.mkdir()
            url = f"sqlite:///{round_dir / 'registry.db'}"
            times = import_district(paths, url)
            imports.append(times)
            print(
                f"import round {i + 1}: "
                + "  ".join(f"{k} {v:.1f}s" for k, v in times.items())
                + f"  total {sum(times.values()):.1f}s",
                flush=True,
            )
        served = Path(url.removeprefix("sqlite:///")).parent
        audits = []
        counts: dict[int, int] = {}
        for _ in range(args.rounds):
            seconds, counts = audit_district(url, unit)
            audits.append(seconds)
        db = Database(url)
        try:
            grid_map = GridMap(db.write_sync(records.all_units))
        finally:
            db.close()
        pts = points(grid_map, args.lookups)
        inproc = [locate_in_process(grid_map, pts) for _ in range(args.rounds)]

        nats = NatsServer(data / "nats", port=free_port())
        nats.start()
        echo_port, registry_port = free_port(), free_port()
        env = {
            **os.environ,
            "LIANXIN_REGISTRY_DATA_DIR": str(served),
            "LIANXIN_REGISTRY_NATS_URL": nats.url,
            "LIANXIN_REGISTRY_GRPC_PORT": str(registry_port),
            "LIANXIN_REGISTRY_METRICS_PORT": "off",
            "LIANXIN_REGISTRY_LOG_LEVEL": "WARNING",
            "LIANXIN_REGISTRY_LOAD_DEMO": "false",
            "LIANXIN_REGISTRY_ROUTING_TARGET": "",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
        }
        procs = [
            subprocess.Popen([sys.executable, __file__, "--serve-echo", str(echo_port)], env=env),
            subprocess.Popen([sys.executable, "-m", "services.registry"], env=env, cwd=ROOT),
        ]
        try:
            for port in (echo_port, registry_port):
                if not wait_serving(f"127.0.0.1:{port}", timeout=60):
                    print(f"server on port {port} did not start", file=sys.stderr)
                    return 1
            grpc_results = asyncio.run(
                locate_over_grpc(args, echo_port, registry_port, pts[:10_000])
            )
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=15)
            nats.stop()

    total_import = statistics.median(sum(t.values()) for t in imports)
    per_file = {k: statistics.median(t[k] for t in imports) for k, _ in FILES}
    audit_s = statistics.median(audits)
    inproc_rate = statistics.median(inproc)
    med = {
        key: tuple(statistics.median(r[i] for r in runs) for i in range(3))
        for key, runs in grpc_results.items()
    }
    ratio = med[("locate", 64)][0] / med[("echo", 64)][0]
    print(
        f"\nregistry at scale: {layout.grid_count:,} grids, {layout.buildings:,} buildings, "
        f"{layout.households:,} households, {layout.persons:,} persons; "
        f"{os.cpu_count()} cores; median of {args.rounds} round(s)\n"
    )
    print(
        f"import into fresh SQLite   {total_import:8.1f} s      ("
        + ", ".join(f"{k} {v:.1f}s" for k, v in per_file.items())
        + f")   target ≤ {TARGETS['import']:.0f} s   {verdict(total_import <= TARGETS['import'])}"
    )
    found = sum(counts.values())
    print(
        f"audit of {unit}            {audit_s:8.2f} s      ({found} findings)"
        f"   target ≤ {TARGETS['audit']:.0f} s   {verdict(audit_s <= TARGETS['audit'])}"
    )
    print(
        f"LocateGrid in process      {inproc_rate:8,.0f} /s"
        f"   target ≥ {TARGETS['inproc']:,.0f}/s   {verdict(inproc_rate >= TARGETS['inproc'])}"
    )
    print(
        f"\n{'in flight':>9} {'what':>10} {'calls/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}"
    )
    for in_flight in (1, 64):
        for name in ("echo", "locate"):
            rate, p50, p99 = med[(name, in_flight)]
            r = rate / med[("echo", in_flight)][0]
            shown = f"{r:.2f}x" if name == "locate" else ""
            label = "echo" if name == "echo" else "LocateGrid"
            print(
                f"{in_flight:>9} {label:>10} {rate:>10,.0f} {p50 * 1000:>8.2f} "
                f"{p99 * 1000:>8.2f} {shown:>7}"
            )
    ok = verdict(ratio >= TARGETS["ratio"])
    print(
        f"\nratio = LocateGrid calls/s ÷ raw echo calls/s at the same concurrency; "
        f"target ≥ {TARGETS['ratio']}x at 64 in flight: {ratio:.2f}x {ok}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
