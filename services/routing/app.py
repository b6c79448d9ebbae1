"""routing's process: `create_server(settings)` builds it, `serve()` runs it."""

from __future__ import annotations

from lianxin.registry.v1 import registry_service_pb2
from lianxin.routing.v1 import routing_service_pb2, routing_service_pb2_grpc
from services.common.blobs import BlobStore, BlobSweeper
from services.common.policy import load_policy
from services.common.server import ServiceHost, run_until_signalled
from services.routing import domain, events, metrics, store
from services.routing.api import RoutingServicer
from services.routing.clock import SystemClock
from services.routing.config import RoutingSettings
from services.routing.directory import Directory
from services.routing.scheduler import SlaScheduler

SERVICE_NAME = routing_service_pb2.DESCRIPTOR.services_by_name["RoutingService"].full_name
REGISTRY = registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"]


async def create_server(settings: RoutingSettings) -> ServiceHost:
    policy = load_policy(settings.policy_file)
    clock = settings.clock or SystemClock()
    host = ServiceHost("routing", settings)
    db = host.open_database(store.MIGRATIONS)
    metrics.init_known()
    metrics.CaseGauges.watch(db)
    await host.connect_bus()
    relay = host.relay(store.outbox)
    directory = Directory(
        host.channel(settings.registry_target, REGISTRY), timeout=settings.registry_timeout_seconds
    )
    blobs = BlobStore(settings.data_dir / "photos")
    scheduler = SlaScheduler(
        db=db,
        relay=relay,
        sla=domain.Sla(policy),
        directory=directory,
        clock=clock,
        poll_seconds=settings.scheduler_poll_seconds,
    )
    servicer = RoutingServicer(
        settings=settings,
        db=db,
        relay=relay,
        blobs=blobs,
        policy=policy,
        directory=directory,
        clock=clock,
        on_deadline_change=scheduler.wake,
    )
    host.add_service(
        routing_service_pb2_grpc.add_RoutingServiceServicer_to_server, servicer, SERVICE_NAME
    )
    filer = events.Filer(
        policy=policy, directory=directory, clock=clock, on_dispatched=scheduler.wake
    )
    host.consume(
        name=events.CONSUMER,
        inbox=store.inbox,
        filter_subject=events.SUBJECTS,
        handler=filer.handle,
        on_applied=relay.kick,
    )
    host.background("scheduler", scheduler)
    host.listen("lianxin.registry.>", directory.registry_changed)
    host.parts["scheduler"] = scheduler  # tests drive it with a fake clock
    host.background(
        "blob-sweep",
        BlobSweeper(
            blobs=blobs,
            db=db,
            referenced=store.referenced_photos,
            interval=settings.blob_sweep_interval_seconds,
            grace=settings.blob_sweep_grace_seconds,
        ),
    )
    return host


async def serve(settings: RoutingSettings | None = None) -> None:
    await run_until_signalled(await create_server(settings or RoutingSettings()))
