"""registry's process: `create_server(settings)` builds it, `serve()` runs it."""

from __future__ import annotations

import logging

from lianxin.registry.v1 import registry_service_pb2, registry_service_pb2_grpc
from lianxin.routing.v1 import routing_service_pb2
from services.common.db import Database
from services.common.server import ServiceHost, run_until_signalled
from services.registry import demo, domain, events, metrics
from services.registry.api import RegistryServicer
from services.registry.cases import CaseDirectory
from services.registry.config import RegistrySettings
from services.registry.store import records, tables

log = logging.getLogger(__name__)

SERVICE_NAME = registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name
ROUTING = routing_service_pb2.DESCRIPTOR.services_by_name["RoutingService"]


async def create_server(settings: RegistrySettings) -> ServiceHost:
    host = ServiceHost("registry", settings)
    db = host.open_database(tables.MIGRATIONS)
    metrics.init_known()
    try:
        grid_map = await _load(db, settings)
        await host.connect_bus()
    except BaseException:
        db.close()
        if host.nc is not None:
            await host.nc.close()
        raise
    for word, level in domain.LEVELS.items():
        metrics.UNITS.labels(word).set(grid_map.count(level))
    relay = host.relay(tables.outbox)
    routing = host.channel(settings.routing_target, ROUTING) if settings.routing_target else None
    servicer = RegistryServicer(
        db=db,
        grid_map=grid_map,
        relay=relay,
        cases=CaseDirectory(routing, timeout=settings.routing_timeout_seconds),
    )
    host.add_service(
        registry_service_pb2_grpc.add_RegistryServiceServicer_to_server, servicer, SERVICE_NAME
    )
    host.consume(
        name=events.CONSUMER,
        inbox=tables.inbox,
        filter_subject=events.SUBJECTS,
        handler=events.CaseLinker(db).handle,
    )
    return host


async def _load(db: Database, settings: RegistrySettings) -> domain.GridMap:
    """The demo district on first start (one transaction), then the grid map in memory."""
    if settings.load_demo and await db.read(records.is_empty):
        data = demo.load_file(settings.demo_file)
        if await db.write(lambda conn: demo.load_if_empty(conn, data)):
            log.info("registry: loaded the demo district from %s", settings.demo_file)
    return domain.GridMap(await db.read(records.all_units))


async def serve(settings: RegistrySettings | None = None) -> None:
    await run_until_signalled(await create_server(settings or RegistrySettings()))
