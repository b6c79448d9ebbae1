"""Fixtures for real dependencies: a nats-server with JetStream per test, in-process gRPC
servers from each service's `create_server()` on port 0, SQLite databases under tmp_path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

import tests.callers  # noqa: F401 - signing keys for every service the tests start
from services.common.natsserver import NatsServer, free_port
from services.common.server import ServiceHost
from tests.postgres import PostgresServer, postgres_server  # noqa: F401 - a fixture


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", port=free_port())
    # Stopped by the kernel if pytest dies (a timeout's kill) instead of outliving it.
    server.start(die_with_parent=True)
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def service_database_url(request: pytest.FixtureRequest) -> str:
    """A service's database for a test that runs on both: "" (the service's default, a
    SQLite file under its data dir) or a fresh database on a throwaway PostgreSQL."""
    if request.param == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(request.node.name[:40])


def settings_for(cls: type[Any], tmp_path: Path, nats_url: str, **overrides: Any) -> Any:
    """A service's settings for a test: port 0, no metrics port, data under tmp_path."""
    name = cls.__name__.removesuffix("Settings").lower()
    values: dict[str, Any] = {
        "grpc_port": 0,
        "metrics_port": None,
        "data_dir": tmp_path / name,
        "nats_url": nats_url,
        "shutdown_grace_seconds": 0.5,
    }
    values.update(overrides)
    return cls(**values)


@asynccontextmanager
async def running(
    create_server: Callable[[Any], Awaitable[ServiceHost]], settings: Any
) -> AsyncIterator[ServiceHost]:
    """A started service; stopped gracefully on exit."""
    host = await create_server(settings)
    await host.start()
    try:
        yield host
    finally:
        await host.stop(grace=0.5)


def error_details(
    err: grpc.aio.AioRpcError,
) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest]:
    """The ErrorInfo and BadRequest (empty when absent) packed in a google.rpc.Status."""
    status = rpc_status.from_call(err)
    assert status is not None, "the error carries no google.rpc.Status"
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
    return info, bad


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    """Field → description of every BadRequest field violation in a failed call."""
    return {v.field: v.description for v in error_details(err)[1].field_violations}


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll `probe` until it returns something truthy; fail with the last value after
    `timeout` seconds. For effects that travel through the bus."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
