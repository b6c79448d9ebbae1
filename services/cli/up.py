"""`lianxin up`: nats-server, the four services and the Open311 gateway as separate
processes, embedded mode;
with `--with-prometheus`, Debian's prometheus too, scraping them with the alert rules.

Every port can be chosen: `--ports intake=50061,nats=4232,…` or the environment
(`LIANXIN_<SERVICE>_GRPC_PORT`, `LIANXIN_<SERVICE>_METRICS_PORT`, `LIANXIN_NATS_PORT`,
`LIANXIN_NATS_MONITOR_PORT`, `LIANXIN_NATS_EXPORTER_PORT`, `LIANXIN_PROMETHEUS_PORT`). Each
is checked before anything starts: a port in use is an error that names it.

nats-server's monitoring port serves JSON; the launcher serves it to Prometheus itself
(`services.ops.natsexporter`, threads of this process, on the `nats-exporter` port: the
official exporter's metric names, with the official chart's `nats` prefix), and
`--with-prometheus` scrapes it as job `nats`. The launcher owns what it starts: each
child gets SIGTERM from the kernel if the launcher dies, even by SIGKILL, and a
nats-server left from an earlier run on the same data dir is stopped and reported.

NATS runs with authentication: a user per service, allowed to publish only its own
subjects (`services.common.natsauth`); the passwords are made once and kept in
`<data dir>/nats/credentials.json` (mode 0600), and each service gets its own in its
environment (`LIANXIN_<SERVICE>_NATS_USER`, `…_NATS_PASSWORD`). The `ops` user there has
every right, for an operator's tools.
"""

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

from services.cli import connect
from services.common import natsauth, tokens
from services.common.natsserver import NatsServer, parent_death_signal, port_in_use
from services.ops import natsexporter
from services.ops.natsexporter import CHART_PREFIX


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int


SERVICES = (
    ServiceSpec("registry", 50052, 9102),
    ServiceSpec("intake", 50051, 9101),
    ServiceSpec("routing", 50053, 9103),
    ServiceSpec("notify", 50054, 9104),
)
OTHER_PORTS = {
    "open311": 8311,
    "nats": 4222,
    "nats-monitor": 8222,
    "nats-exporter": 7777,  # the official prometheus-nats-exporter's port
    "prometheus": 9090,
}


def wait_ready(url: str, timeout: float = 30.0) -> bool:
    """True once the HTTP readiness probe at `url` answers 200 (the Open311 gateway)."""
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


def default_ports(env: dict[str, str] | None = None) -> dict[str, int]:
    """Every port by name (`intake`, `intake-metrics`, …, `nats`, `nats-monitor`,
    `prometheus`), from the environment where set."""
    env = dict(os.environ if env is None else env)
    ports: dict[str, int] = {}
    for s in SERVICES:
        prefix = f"LIANXIN_{s.name.upper()}_"
        ports[s.name] = int(env.get(prefix + "GRPC_PORT") or s.grpc_port)
        ports[f"{s.name}-metrics"] = int(env.get(prefix + "METRICS_PORT") or s.metrics_port)
    for name, port in OTHER_PORTS.items():
        key = "LIANXIN_" + name.upper().replace("-", "_") + "_PORT"
        ports[name] = int(env.get(key) or port)
    return ports


def parse_ports(text: str, ports: dict[str, int]) -> dict[str, int]:
    """`intake=50061,nats=4232` over `ports`; unknown names and bad numbers are errors."""
    out = dict(ports)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in out:
            raise SystemExit(f"--ports: {part!r}: expected NAME=PORT, NAME one of {', '.join(out)}")
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise SystemExit(f"--ports: {name}: {value!r} is not a port (1-65535)")
        out[name] = int(value)
    return out


def wait_serving(target: str, timeout: float = 30.0) -> bool:
    """True once the gRPC health service at `target` says SERVING."""
    deadline = time.monotonic() + timeout
    with connect.channel(target) as channel:
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


def check_free(host: str, ports: dict[str, int], names: list[str]) -> list[str]:
    """One line per port among `names` that something already listens on."""
    seen: dict[int, str] = {}
    problems = []
    for name in names:
        port = ports[name]
        if port in seen:
            problems.append(f"{name} and {seen[port]} both want port {port}")
        seen[port] = name
        if port_in_use(host, port):
            problems.append(
                f"{name}: {host}:{port} is in use by another process "
                f"(choose another: --ports {name}=PORT)"
            )
    return problems


def up(
    *,
    data_dir: Path,
    host: str,
    ports: dict[str, int],
    with_prometheus: bool = False,
    scrape_interval: str = "15s",
    rules_file: Path | None = None,
) -> int:
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    names = [n for s in SERVICES for n in (s.name, f"{s.name}-metrics")]
    names += ["open311", "nats", "nats-monitor", "nats-exporter"]
    names += ["prometheus"] if with_prometheus else []
    prometheus_bin = None
    if with_prometheus:
        from services.ops import prometheus as prom

        prometheus_bin = prom.find_binary()
        if prometheus_bin is None:
            print(prom.MISSING, file=sys.stderr)
            return 2
    passwords = natsauth.embedded_passwords(data_dir)
    nats = NatsServer(
        data_dir / "nats",
        port=ports["nats"],
        host=host,
        monitor_port=ports["nats-monitor"],
        users=natsauth.service_users(passwords),
    )
    # A nats-server of an earlier run on this data dir is ours to replace, not a conflict.
    nats._stop_stale((nats.store_dir / "nats.conf").resolve())
    problems = check_free(host, ports, names)
    if problems:
        print("cannot start:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    print(f"starting nats-server (JetStream, store {data_dir / 'nats'}) …", flush=True)
    nats.start(log_file=logs / "nats.log", die_with_parent=True)
    for note in nats.notes:
        print(f"  note: {note}", flush=True)
    assert nats.monitor_url is not None
    try:
        exporter = natsexporter.serve(
            nats.monitor_url, host=host, port=ports["nats-exporter"], prefix=CHART_PREFIX
        )
    except OSError as exc:
        nats.stop()
        print(
            f"cannot start:\n  nats-exporter: {host}:{ports['nats-exporter']}: {exc.strerror} "
            "(choose another: --ports nats-exporter=PORT)",
            file=sys.stderr,
        )
        return 2
    exporter_url = f"http://{host}:{exporter.port}/metrics"
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    stop_requested = False

    def request_stop(_sig: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    targets = {s.name: f"{host}:{ports[s.name]}" for s in SERVICES}
    # The development key pair: the services trust it, the CLI signs its tokens with it.
    keys = tokens.ensure_dev_keys(data_dir)
    try:
        for spec in SERVICES:
            prefix = f"LIANXIN_{spec.name.upper()}_"
            env = {
                **os.environ,
                prefix + "DATA_DIR": str(data_dir),
                prefix + "NATS_URL": nats.url,
                prefix + "NATS_USER": spec.name,
                prefix + "NATS_PASSWORD": passwords[spec.name],
                prefix + "HOST": host,
                prefix + "GRPC_PORT": str(ports[spec.name]),
                prefix + "METRICS_PORT": str(ports[f"{spec.name}-metrics"]),
                prefix + "REGISTRY_TARGET": targets["registry"],
            }
            # The development keys, unless the environment names keys of its own.
            env.setdefault(prefix + "AUTH_JWKS", str(keys.jwks))
            env.setdefault(prefix + "AUTH_SIGNING_KEY_FILE", str(keys.private))
            env["OTEL_SERVICE_NAME"] = f"lianxin-{spec.name}"  # one name per process
            log = open(logs / f"{spec.name}.log", "ab")  # noqa: SIM115 - owned by the child
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{spec.name}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=parent_death_signal(),
            )
            procs.append((spec.name, proc))
            if not wait_serving(targets[spec.name]):
                print(
                    f"{spec.name} did not become SERVING; see {logs / spec.name}.log",
                    file=sys.stderr,
                )
                return 1
            print(f"  {spec.name:<9} SERVING", flush=True)
        # The Open311 gateway (HTTP; metrics on the same port), in front of intake and routing.
        gateway = f"http://{host}:{ports['open311']}"
        env = {
            **os.environ,
            "LIANXIN_OPEN311_DATA_DIR": str(data_dir),
            "LIANXIN_OPEN311_HOST": host,
            "LIANXIN_OPEN311_HTTP_PORT": str(ports["open311"]),
            "LIANXIN_OPEN311_INTAKE_TARGET": targets["intake"],
            "LIANXIN_OPEN311_ROUTING_TARGET": targets["routing"],
            "OTEL_SERVICE_NAME": "lianxin-open311",
        }
        env.setdefault("LIANXIN_OPEN311_AUTH_SIGNING_KEY_FILE", str(keys.private))
        log = open(logs / "open311.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.open311"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=parent_death_signal(),
        )
        procs.append(("open311", proc))
        if not wait_ready(f"{gateway}/readyz"):
            print(f"open311 did not become ready; see {logs / 'open311.log'}", file=sys.stderr)
            return 1
        print(f"  {'open311':<9} READY", flush=True)
        prom_url = None
        if prometheus_bin is not None:
            from services.ops import prometheus as prom

            config = prom.write_config(
                data_dir / "prometheus",
                targets={
                    **{s.name: f"{host}:{ports[f'{s.name}-metrics']}" for s in SERVICES},
                    "open311": f"{host}:{ports['open311']}",
                },
                scrape_interval=scrape_interval,
                rules_file=rules_file or prom.RULES_FILE,
                nats_exporter=f"{host}:{exporter.port}",
            )
            proc = prom.start(
                prometheus_bin,
                config=config,
                data_dir=data_dir / "prometheus" / "data",
                listen=f"{host}:{ports['prometheus']}",
                log_file=logs / "prometheus.log",
            )
            procs.append(("prometheus", proc))
            prom_url = f"http://{host}:{ports['prometheus']}"
            if not prom.wait_ready(prom_url):
                print(f"prometheus did not start; see {logs / 'prometheus.log'}", file=sys.stderr)
                return 1
            print("  prometheus SERVING", flush=True)
        # Children are started; from here signals are taken synchronously: Ctrl-C / SIGTERM
        # stop everything, SIGCHLD tells that a child died. They are blocked before the
        # "ready" lines, so one sent as soon as those are read waits in the kernel for
        # sigtimedwait; one whose Python handler ran before the block set `stop_requested`,
        # which the loop checks at least once a second (a handler tripped but not yet run
        # would otherwise be lost until the next signal).
        watched = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        print()
        print(f"{'service':<11}{'gRPC':<22}{'metrics':<32}{'log'}")
        for name, proc in procs:
            if name == "prometheus":
                continue
            if name == "open311":
                print(
                    f"{name:<11}{gateway:<22}{gateway + '/metrics':<32}{logs / name}.log"
                    f"  (pid {proc.pid})"
                )
                continue
            metrics = f"http://{host}:{ports[f'{name}-metrics']}/metrics"
            print(f"{name:<11}{targets[name]:<22}{metrics:<32}{logs / name}.log  (pid {proc.pid})")
        print(
            f"{'nats':<11}{nats.url:<22}{(nats.monitor_url or '') + '/varz':<32}"
            f"{logs / 'nats.log'}  (pid {nats.pid()})"
        )
        print(f"{'':<11}a user per service; passwords in {natsauth.credentials_file(data_dir)}")
        print(f"{'':<11}{'':<22}{exporter_url:<32}(NATS's numbers for Prometheus)")
        if prom_url:
            print(f"{'prometheus':<11}{prom_url:<22}{'':<32}{logs / 'prometheus.log'}")
        hint = ""
        if data_dir != Path(".lianxin").resolve():
            hint = f" (with LIANXIN_DATA_DIR={data_dir}, so the CLI finds the signing key)"
        print(
            f"\ndata in {data_dir}; development signing key and JWKS in {keys.private.parent}."
            f"\nTry `lianxin demo`{hint}. Ctrl-C stops everything.",
            flush=True,
        )
        while not stop_requested:
            info = signal.sigtimedwait(watched, 1.0)
            if info is not None and info.si_signo != signal.SIGCHLD:
                break
            dead = [(name, proc) for name, proc in procs if proc.poll() is not None]
            if dead:
                for name, proc in dead:
                    print(f"{name} exited with {proc.returncode}; stopping", file=sys.stderr)
                return 1
        return 0
    finally:
        print("\nstopping …", flush=True)
        for _name, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing", file=sys.stderr)
                proc.kill()
                proc.wait()
        exporter.stop()
        nats.stop()
        print("stopped.", flush=True)
