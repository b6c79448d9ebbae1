"""`lianxin up`: nats-server, the four services and the Open311 gateway as separate
processes, embedded mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.natsserver import NatsServer


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int
    http_port: int = 0  # an HTTP service (the Open311 gateway): metrics on the same port


SERVICES = (
    ServiceSpec("registry", 50052, 9102),
    ServiceSpec("intake", 50051, 9101),
    ServiceSpec("routing", 50053, 9103),
    ServiceSpec("notify", 50054, 9104),
    ServiceSpec("open311", 0, 8311, http_port=8311),
)
TARGETS = {s.name: s.grpc_port for s in SERVICES if s.grpc_port}


def wait_ready(url: str, timeout: float = 30.0) -> bool:
    """True once the HTTP readiness probe at `url` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def wait_serving(target: str, timeout: float = 30.0) -> bool:
    """True once the gRPC health service at `target` says SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    return False


def up(*, data_dir: Path, host: str, nats_port: int) -> int:
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    nats = NatsServer(data_dir / "nats", port=nats_port, host=host)
    print(f"starting nats-server (JetStream, store {data_dir / 'nats'}) …", flush=True)
    nats.start(log_file=logs / "nats.log")
    procs: list[tuple[ServiceSpec, subprocess.Popen[bytes]]] = []
    stop_requested = False

    def request_stop(_sig: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        for spec in SERVICES:
            prefix = f"LIANXIN_{spec.name.upper()}_"
            env = {
                **os.environ,
                prefix + "DATA_DIR": str(data_dir),
                prefix + "NATS_URL": nats.url,
                prefix + "HOST": host,
                prefix + "GRPC_PORT": str(spec.grpc_port),
                prefix + "METRICS_PORT": str(spec.metrics_port),
            }
            if spec.http_port:  # the gateway: its port and the services it calls
                env[prefix + "HTTP_PORT"] = str(spec.http_port)
                env.update(
                    {f"{prefix}{n.upper()}_TARGET": f"{host}:{p}" for n, p in TARGETS.items()}
                )
            log = open(logs / f"{spec.name}.log", "ab")  # noqa: SIM115 - owned by the child
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{spec.name}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append((spec, proc))
            ready = (
                wait_ready(f"http://{host}:{spec.http_port}/readyz")
                if spec.http_port
                else wait_serving(f"{host}:{spec.grpc_port}")
            )
            if not ready:
                print(
                    f"{spec.name} did not become SERVING; see {logs / spec.name}.log",
                    file=sys.stderr,
                )
                return 1
            print(f"  {spec.name:<9} SERVING", flush=True)
        print()
        print(f"{'service':<10}{'gRPC':<22}{'metrics':<32}{'log'}")
        for spec, proc in procs:
            where = (
                f"{host}:{spec.grpc_port}" if spec.grpc_port else f"http://{host}:{spec.http_port}"
            )
            print(
                f"{spec.name:<10}{where:<22}"
                f"http://{host}:{spec.metrics_port}/metrics{'':<4}{logs / spec.name}.log"
                f"  (pid {proc.pid})"
            )
        print(f"{'nats':<10}{nats.url:<22}{'':<32}{logs / 'nats.log'}")
        print(f"\ndata in {data_dir}. Try `lianxin demo`. Ctrl-C stops everything.", flush=True)
        # Children are started; from here signals are taken synchronously (no polling):
        # Ctrl-C / SIGTERM stop everything, SIGCHLD tells that a service died.
        watched = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        while not stop_requested:
            info = signal.sigwaitinfo(watched)
            if info.si_signo != signal.SIGCHLD:
                break
            dead = [(spec, proc) for spec, proc in procs if proc.poll() is not None]
            if dead:
                for spec, proc in dead:
                    print(f"{spec.name} exited with {proc.returncode}; stopping", file=sys.stderr)
                return 1
        return 0
    finally:
        print("\nstopping …", flush=True)
        for _spec, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for spec, proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{spec.name} did not stop in time; killing", file=sys.stderr)
                proc.kill()
                proc.wait()
        nats.stop()
        print("stopped.", flush=True)
