"""The event stream's limits are settings: a service creates the stream with them, a later
start with other values updates it in place, and a stream a server cannot hold fails the
start with the reason."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from nats.js.api import DiscardPolicy, StreamConfig

from services.common import bus
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests.conftest import running, settings_for


async def stream_config(nats_url: str, name: str = "LIANXIN") -> StreamConfig:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info(name)).config
    finally:
        await nc.close()


async def test_a_service_creates_the_stream_with_its_limit_settings(
    tmp_path: Path, nats_url: str
) -> None:
    settings = settings_for(
        IntakeSettings,
        tmp_path,
        nats_url,
        stream_max_age_seconds=86400.0,
        stream_max_bytes=64 * 1024 * 1024,
        stream_discard="new",
    )
    async with running(create_server, settings):
        config = await stream_config(nats_url)
    assert config.num_replicas == 1
    assert config.max_age == 86400.0
    assert config.max_bytes == 64 * 1024 * 1024
    assert config.discard == DiscardPolicy.NEW


async def test_a_restart_with_other_limits_updates_the_stream_and_keeps_its_events(
    tmp_path: Path, nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await bus.ensure_stream(js, "LIANXIN")
        await js.publish("lianxin.case.received", b"kept")
        await bus.ensure_stream(
            js, "LIANXIN", max_age_seconds=3600.0, max_bytes=1 << 20, discard="new"
        )
        info = await js.stream_info("LIANXIN")
    finally:
        await nc.close()
    assert (info.config.max_age, info.config.max_bytes) == (3600.0, 1 << 20)
    assert info.config.discard == DiscardPolicy.NEW
    assert info.state.messages == 1


async def test_three_replicas_on_a_single_server_fail_with_the_reason(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        with pytest.raises(RuntimeError, match="cannot create it"):
            await bus.ensure_stream(nc.jetstream(), "LIANXIN", replicas=3)
        await bus.ensure_stream(nc.jetstream(), "LIANXIN")
        with pytest.raises(RuntimeError, match="num_replicas"):
            await bus.ensure_stream(nc.jetstream(), "LIANXIN", replicas=3)
    finally:
        await nc.close()
