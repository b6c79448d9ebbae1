"""A registry server shared by a test module: the real service on port 0, SQLite under a
temporary directory, the packaged demo district loaded, and a real gRPC client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.registry.app import create_server
from services.registry.config import RegistrySettings
from tests.conftest import running, settings_for

# The registry publishes no events, so it never dials NATS: an unreachable URL proves it.
NO_NATS = "nats://127.0.0.1:1"


@pytest.fixture(scope="module")
async def registry(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RegistryServiceStub]:
    settings = settings_for(RegistrySettings, tmp_path_factory.mktemp("registry"), NO_NATS)
    async with (
        running(create_server, settings) as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        yield RegistryServiceStub(channel)
