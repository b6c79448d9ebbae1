"""notify's process: `create_server(settings)` builds it, `serve()` runs it."""

from __future__ import annotations

from datetime import timedelta

from nats.aio.client import Client as NATS

from lianxin.notify.v1 import notify_service_pb2, notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.registry.v1 import registry_service_pb2
from services.common.db import Database
from services.common.policy import load_policy
from services.common.retention import keep_reporters_limited
from services.common.server import ServiceHost, run_until_signalled
from services.common.timeutil import utcnow
from services.notify import events, metrics, policies, store, subscriptions
from services.notify.api import NotifyServicer
from services.notify.channels import (
    AppPush,
    Channel,
    Clock,
    FileSink,
    SmsGateway,
    WebhookChannel,
)
from services.notify.config import NotifySettings
from services.notify.sender import Sender

SERVICE_NAME = notify_service_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name
REGISTRY = registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"]


def build_channels(
    settings: NotifySettings, *, db: Database, nc: NATS | None, clock: Clock = utcnow
) -> dict[int, Channel]:
    """The configured delivery channels by DeliveryChannel value. Embedded: the file only
    (plus webhooks, which exist only where a subscription has a URL)."""
    channels: dict[int, Channel] = {
        res.DELIVERY_CHANNEL_WEBHOOK: WebhookChannel(
            db, timeout=settings.http_timeout_seconds, clock=clock
        )
    }
    if settings.file_sink:
        channels[res.DELIVERY_CHANNEL_FILE] = FileSink(settings.sink_path())
    if settings.sms_gateway_url:
        channels[res.DELIVERY_CHANNEL_SMS] = SmsGateway(
            settings.sms_gateway_url,
            token=settings.sms_gateway_token.get_secret_value(),
            username=settings.sms_gateway_username,
            password=settings.sms_gateway_password.get_secret_value(),
            timeout=settings.http_timeout_seconds,
        )
    if settings.app_push and nc is not None:
        channels[res.DELIVERY_CHANNEL_APP_PUSH] = AppPush(nc)
    return channels


async def create_server(settings: NotifySettings, *, clock: Clock = utcnow) -> ServiceHost:
    """`clock` is for tests of back-off and quiet hours; the service uses the real time."""
    policy = load_policy(settings.policy_file)
    host = ServiceHost("notify", settings)
    db = host.open_database(store.MIGRATIONS)
    metrics.init_known()
    await host.connect_bus()
    relay = host.relay(store.outbox)
    if settings.default_hotline:
        await db.write(
            lambda conn: subscriptions.ensure_default(
                conn,
                hotline=settings.default_hotline,
                unit_code=policy.district,
                webhook_url=settings.default_hotline_webhook_url,
                now=clock(),
            )
        )
    quiet = settings.quiet()
    sender = Sender(
        db=db,
        channels=build_channels(settings, db=db, nc=host.nc, clock=clock),
        batch=settings.send_batch,
        poll_seconds=settings.send_poll_seconds,
        lease_seconds=settings.send_lease_seconds,
        concurrency=settings.send_concurrency,
        publish_delivered=settings.publish_delivered,
        retry=policies.RetryPolicy(
            max_attempts=settings.max_attempts,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
        ),
        clock=clock,
        quiet=quiet,
        sms_limit=settings.sms_rate_limit_per_number,
        sms_window=timedelta(seconds=settings.sms_rate_limit_window_seconds),
        on_recorded=relay.kick,
    )
    notifier = events.Notifier(
        db=db,
        policy=policy,
        registry=host.channel(settings.registry_target, REGISTRY),
        available=sender.available,
        registry_timeout=settings.registry_timeout_seconds,
        reporter_wait_seconds=settings.reporter_wait_seconds,
        clock=clock,
        quiet=quiet,
    )
    host.add_service(
        notify_service_pb2_grpc.add_NotifyServiceServicer_to_server,
        NotifyServicer(
            db=db,
            clock=clock,
            quiet=quiet,
            file_sink=settings.file_sink,
            secret_grace=timedelta(seconds=settings.webhook_secret_grace_seconds),
            on_retry=sender.kick,
            on_subscriptions_changed=notifier.subscriptions_changed,
        ),
        SERVICE_NAME,
    )
    host.consume(
        name=events.CONSUMER,
        inbox=store.inbox,
        filter_subject=events.SUBJECTS,
        handler=notifier.handle,
        on_applied=sender.kick,
    )
    host.background("sender", sender)
    keep_reporters_limited(
        host, settings, db=db, erase=store.erase_reporters, counter=metrics.REPORTERS_ERASED
    )
    host.listen("lianxin.registry.>", notifier.registry_changed)
    return host


async def serve(settings: NotifySettings | None = None) -> None:
    await run_until_signalled(await create_server(settings or NotifySettings()))
