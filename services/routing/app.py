"""routing's process: `create_server(settings)` builds it, `serve()` runs it."""

from __future__ import annotations

from lianxin.routing.v1 import routing_service_pb2, routing_service_pb2_grpc
from services.common.blobs import BlobStore
from services.common.policy import load_policy
from services.common.server import ServiceHost, run_until_signalled
from services.routing import events, store
from services.routing.api import RoutingServicer
from services.routing.config import RoutingSettings

SERVICE_NAME = routing_service_pb2.DESCRIPTOR.services_by_name["RoutingService"].full_name


async def create_server(settings: RoutingSettings) -> ServiceHost:
    policy = load_policy(settings.policy_file)
    host = ServiceHost("routing", settings)
    db = host.open_database(store.MIGRATIONS)
    await host.connect_bus()
    relay = host.relay(store.outbox)
    servicer = RoutingServicer(
        settings=settings, db=db, relay=relay, blobs=BlobStore(settings.data_dir / "photos")
    )
    host.add_service(
        routing_service_pb2_grpc.add_RoutingServiceServicer_to_server, servicer, SERVICE_NAME
    )
    filer = events.Filer(
        policy=policy,
        registry=host.channel(settings.registry_target),
        timeout=settings.registry_timeout_seconds,
    )
    host.consume(
        name=events.CONSUMER,
        inbox=store.inbox,
        filter_subject=events.SUBJECTS,
        handler=filer.handle,
        on_applied=relay.kick,
    )
    return host


async def serve(settings: RoutingSettings | None = None) -> None:
    await run_until_signalled(await create_server(settings or RoutingSettings()))
