"""Fixtures for notify's tests: its migrated database (SQLite, or PostgreSQL where a test
runs on both), a JetStream client to publish events with, a real registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from services.common import bus
from services.common.db import Database
from services.common.server import ServiceHost
from services.notify import store
from services.registry import app as registry_app
from services.registry.config import RegistrySettings
from tests.conftest import running, settings_for
from tests.dbtools import migrated


@pytest.fixture
def db(tmp_path: Path, service_database_url: str) -> Iterator[Database]:
    url = service_database_url or f"sqlite:///{tmp_path / 'notify.db'}"
    with migrated(url, store.MIGRATIONS) as database:
        yield database


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await bus.connect(nats_url, name="notify-test")
    yield nc.jetstream()
    await nc.drain()


@pytest.fixture
async def registry(tmp_path: Path, nats_url: str) -> AsyncIterator[ServiceHost]:
    settings = settings_for(RegistrySettings, tmp_path, nats_url)
    async with running(registry_app.create_server, settings) as host:
        yield host
