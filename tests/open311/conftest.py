"""The gateway in front of the real system: four real services (gRPC on port 0, one
nats-server, SQLite), the gateway's real HTTP server on port 0, and an API key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from services.common.natsserver import NatsServer, free_port
from services.open311 import keys
from services.open311.app import Gateway, create_server
from services.open311.config import Open311Settings
from tests.system import System, running_system


@dataclass
class Setup:
    system: System
    gateway: Gateway
    http: httpx.AsyncClient
    key: str
    key_id: str

    @property
    def url(self) -> str:
        return f"http://{self.gateway.address}"


@pytest.fixture(scope="module")
def module_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = NatsServer(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def o311(
    tmp_path_factory: pytest.TempPathFactory, module_nats_url: str
) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("system")
    async with running_system(tmp, module_nats_url) as system:
        settings = Open311Settings(
            http_port=0,
            data_dir=tmp / "open311",
            intake_target=system.hosts["intake"].address,
            routing_target=system.hosts["routing"].address,
            shutdown_grace_seconds=0.5,
        )
        gateway = await create_server(settings)
        await gateway.start()
        key, row = gateway.db.write_sync(
            lambda conn: keys.create_key(conn, name="test-app", actor="open311:test-app")
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://{gateway.address}") as http:
                yield Setup(system, gateway, http, key, row["id"])
        finally:
            await gateway.stop()
