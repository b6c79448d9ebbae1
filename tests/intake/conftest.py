"""Fixtures shared by intake's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from services.common import bus


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """JetStream on the test's NATS, to publish routing's events as routing does."""
    nc = await bus.connect(nats_url, name="intake-test")
    yield nc.jetstream()
    await nc.drain()
