"""The whole system in one test process: four real gRPC servers on port 0, one NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common.server import ServiceHost
from services.intake.app import create_server as create_intake
from services.intake.config import IntakeSettings
from services.notify.app import create_server as create_notify
from services.notify.config import NotifySettings
from services.registry.app import create_server as create_registry
from services.registry.config import RegistrySettings
from services.routing.app import create_server as create_routing
from services.routing.config import RoutingSettings
from tests import callers
from tests.conftest import running, settings_for

HOME = (34.8605, 117.5585)  # 张胜起's home, in grid 370402003001001 of 辛庄社区


@dataclass
class System:
    hosts: dict[str, ServiceHost]
    intake: intake_service_pb2_grpc.IntakeServiceStub
    registry: registry_service_pb2_grpc.RegistryServiceStub
    routing: routing_service_pb2_grpc.RoutingServiceStub
    notify: notify_service_pb2_grpc.NotifyServiceStub


@asynccontextmanager
async def running_system(
    tmp_path: Path,
    nats_url: str,
    *,
    without: tuple[str, ...] = (),
    database_urls: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    service_settings: dict[str, dict[str, Any]] | None = None,
    **routing_overrides: Any,
) -> AsyncIterator[System]:
    """The four services; each on SQLite under tmp_path unless `database_urls` names
    another database for it (e.g. PostgreSQL); `overrides` and `service_settings` set any
    service's settings (e.g. its rate limits, its NATS user)."""
    urls = database_urls or {}
    extra: dict[str, dict[str, Any]] = {}
    for given in (overrides or {}, service_settings or {}):
        for name, values in given.items():
            extra.setdefault(name, {}).update(values)

    def db(name: str) -> dict[str, Any]:
        return {**({"database_url": urls[name]} if name in urls else {}), **extra.get(name, {})}

    async with AsyncExitStack() as stack:
        hosts: dict[str, ServiceHost] = {}
        registry = await stack.enter_async_context(
            running(
                create_registry,
                settings_for(RegistrySettings, tmp_path, nats_url, **db("registry")),
            )
        )
        hosts["registry"] = registry
        hosts["intake"] = await stack.enter_async_context(
            running(create_intake, settings_for(IntakeSettings, tmp_path, nats_url, **db("intake")))
        )
        if "routing" not in without:
            hosts["routing"] = await stack.enter_async_context(
                running(
                    create_routing,
                    settings_for(
                        RoutingSettings,
                        tmp_path,
                        nats_url,
                        registry_target=registry.address,
                        **db("routing"),
                        **routing_overrides,
                    ),
                )
            )
        hosts["notify"] = await stack.enter_async_context(
            running(
                create_notify,
                settings_for(
                    NotifySettings,
                    tmp_path,
                    nats_url,
                    registry_target=registry.address,
                    **db("notify"),
                ),
            )
        )

        def channel(name: str) -> grpc.aio.Channel:
            address = hosts[name].address if name in hosts else "127.0.0.1:1"
            return callers.channel(address)

        chans = {
            n: await stack.enter_async_context(channel(n))
            for n in ("intake", "registry", "routing", "notify")
        }
        yield System(
            hosts=hosts,
            intake=intake_service_pb2_grpc.IntakeServiceStub(chans["intake"]),
            registry=registry_service_pb2_grpc.RegistryServiceStub(chans["registry"]),
            routing=routing_service_pb2_grpc.RoutingServiceStub(chans["routing"]),
            notify=notify_service_pb2_grpc.NotifyServiceStub(chans["notify"]),
        )


def story_submission(
    ref: str, *, point: tuple[float, float] | None = HOME, category: str = "household_electrical"
) -> intake_svc.SubmitCaseRequest:
    req = intake_svc.SubmitCaseRequest(
        channel=intake_res.CHANNEL_GRID_APP,
        external_ref=ref,
        reporter=intake_res.Reporter(
            name="张胜起", phone="13806325566", staff_id="staff-hanliyuan"
        ),
        location=intake_res.Location(address="龙山路街道辛庄社区"),
        category=category,
        description="家中电灯一直闪个不停",
    )
    if point is not None:
        req.location.point.latitude, req.location.point.longitude = point
    return req
