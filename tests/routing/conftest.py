"""A running system shared by the tests of a module (each test works on its own cases,
at its own points), on a fake clock that stays at Tuesday 25 November 2014, 09:00."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from services.common.natsserver import NatsServer, free_port
from services.routing.clock import FakeClock
from tests.routing.helpers import start_clock
from tests.system import System, running_system


@pytest.fixture(scope="module")
def module_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = NatsServer(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start(die_with_parent=True)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def still_clock() -> FakeClock:
    return start_clock()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(
    tmp_path_factory: pytest.TempPathFactory, module_nats_url: str, still_clock: FakeClock
) -> AsyncIterator[System]:
    async with running_system(
        tmp_path_factory.mktemp("system"), module_nats_url, clock=still_clock
    ) as running:
        yield running
