"""The whole system on its embedded default, as separate processes the fault suite can
kill: nats-server (its links to the services through a `TcpProxy`), registry, intake,
routing and notify started as `python -m services.<name>` with their settings in the
environment, exactly as `lianxin up` starts them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.natsserver import NatsServer, free_port
from services.common.policy import DEFAULT_POLICY

ORDER = ("registry", "intake", "routing", "notify")
DRILL = "fault_drill"  # the category whose deadline passes during the faults


def drill_policy(path: Path) -> Path:
    """The district's policy with a round-the-clock calendar, no duplicate merging of
    nearby points, and one category, `fault_drill`, whose community deadline is 36 s: its
    reminder (at 75%), overdue flag and automatic escalation fire during the faults."""
    policy = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    policy["version"] = policy["version"] + "-faults"
    policy["calendar"]["work_days"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    policy["calendar"]["work_hours"] = ["00:00-23:59"]
    policy["calendar"]["holidays"] = []
    policy["calendar"]["extra_work_days"] = []
    policy["duplicates"]["radius_m"] = 1.0
    base = next(c for c in policy["categories"] if c["code"] == "household_electrical")
    policy["categories"].append(
        {
            **base,
            "code": DRILL,
            "name": "故障演练",
            "deadline_hours": {"community": 0.01, "street": 100, "district": 100},
        }
    )
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return path


def health_status(target: str, service: str = "", timeout: float = 1.0) -> int | None:
    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
            return int(reply.status)
    except grpc.RpcError:
        return None


def wait_serving(target: str, timeout: float = 60.0, service: str = "") -> float:
    """Seconds until `target` says SERVING; raises after `timeout`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if health_status(target, service) == health_pb2.HealthCheckResponse.SERVING:
            return time.monotonic() - began
        time.sleep(0.1)
    raise TimeoutError(f"{target} not SERVING ({service or 'readiness'}) after {timeout}s")


@dataclass
class Service:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    kills: list[float] = field(default_factory=list)  # wall-clock times of SIGKILLs

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.kills.append(time.time())
        self.proc.kill()
        self.proc.wait()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Stack:
    """nats-server (on `nats_port`) and the four services under `root`; `nats_url` is
    where the services connect (a proxy's address; nats-server itself by default)."""

    def __init__(
        self,
        root: Path,
        *,
        nats_port: int,
        nats_url: str | None = None,
        extra_env: dict[str, dict[str, str]],
    ) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.nats = NatsServer(root / "nats", port=nats_port)
        nats_url = nats_url or self.nats.url
        self.services: dict[str, Service] = {}
        ports = {name: free_port() for name in ORDER}
        for name in ORDER:
            prefix = f"LIANXIN_{name.upper()}_"
            env = {
                **os.environ,
                prefix + "DATA_DIR": str(root / "data"),
                prefix + "NATS_URL": nats_url,
                prefix + "GRPC_PORT": str(ports[name]),
                prefix + "METRICS_PORT": "off",
                prefix + "REGISTRY_TARGET": f"127.0.0.1:{ports['registry']}",
                # The load and the checker (3,000 reads at once) are one caller: unlimited.
                prefix + "RATE_LIMIT_PER_SECOND": "0",
                **{prefix + k: v for k, v in extra_env.get(name, {}).items()},
            }
            self.services[name] = Service(name, ports[name], env, self.logs / f"{name}.log")

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    def start_nats(self) -> None:
        self.nats.start(log_file=self.logs / "nats.log")

    def start_services(self) -> None:
        for name in ORDER:
            self.services[name].start()
            wait_serving(self.services[name].target)

    def stop(self) -> None:
        for name in reversed(ORDER):
            self.services[name].stop()
        self.nats.stop()
