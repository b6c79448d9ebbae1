"""notify's process: `create_server(settings)` builds it, `serve()` runs it."""

from __future__ import annotations

from lianxin.notify.v1 import notify_service_pb2, notify_service_pb2_grpc
from services.common.policy import load_policy
from services.common.server import ServiceHost, run_until_signalled
from services.notify import domain, events, store
from services.notify.api import NotifyServicer
from services.notify.channels import Channel, FileSink, Sender
from services.notify.config import NotifySettings

SERVICE_NAME = notify_service_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name


def build_channels(settings: NotifySettings) -> dict[int, Channel]:
    """The configured delivery channels by DeliveryChannel value (embedded: the file)."""
    sinks: list[Channel] = [FileSink(settings.sink_path())]
    return {domain.channel_value(c.name): c for c in sinks}


async def create_server(settings: NotifySettings) -> ServiceHost:
    policy = load_policy(settings.policy_file)
    host = ServiceHost("notify", settings)
    db = host.open_database(store.MIGRATIONS)
    await host.connect_bus()
    sender = Sender(
        db=db,
        channels=build_channels(settings),
        batch=settings.send_batch,
        poll_seconds=settings.send_poll_seconds,
        max_attempts=settings.max_attempts,
    )
    notifier = events.Notifier(
        db=db,
        policy=policy,
        registry=host.channel(settings.registry_target),
        available=sender.available,
        registry_timeout=settings.registry_timeout_seconds,
        reporter_wait_seconds=settings.reporter_wait_seconds,
    )
    host.add_service(
        notify_service_pb2_grpc.add_NotifyServiceServicer_to_server,
        NotifyServicer(db=db),
        SERVICE_NAME,
    )
    host.consume(
        name=events.CONSUMER,
        inbox=store.inbox,
        filter_subject=events.SUBJECTS,
        handler=notifier.handle,
        on_applied=sender.kick,
    )
    host.background(sender.run)
    return host


async def serve(settings: NotifySettings | None = None) -> None:
    await run_until_signalled(await create_server(settings or NotifySettings()))
