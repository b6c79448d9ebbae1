"""intake's process: `create_server(settings)` builds it, `serve()` runs it."""

from __future__ import annotations

from lianxin.intake.v1 import intake_service_pb2, intake_service_pb2_grpc
from services.common.blobs import BlobStore, BlobSweeper
from services.common.policy import load_policy
from services.common.retention import keep_reporters_limited
from services.common.server import ServiceHost, run_until_signalled
from services.intake import events, metrics, store, watch
from services.intake.api import IntakeServicer
from services.intake.config import IntakeSettings

SERVICE_NAME = intake_service_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name


async def create_server(settings: IntakeSettings) -> ServiceHost:
    policy = load_policy(settings.policy_file)
    host = ServiceHost("intake", settings)
    db = host.open_database(store.MIGRATIONS)
    metrics.init_known(policy)
    await host.connect_bus()
    relay = host.relay(store.outbox)
    blobs = BlobStore(settings.data_dir / "attachments")
    servicer = IntakeServicer(settings=settings, db=db, relay=relay, policy=policy, blobs=blobs)
    host.add_service(
        intake_service_pb2_grpc.add_IntakeServiceServicer_to_server, servicer, SERVICE_NAME
    )
    host.consume(
        name=events.CONSUMER,
        inbox=store.inbox,
        filter_subject=events.SUBJECTS,
        handler=events.handle,
        on_applied=servicer.watcher.changed,
    )
    if db.engine.dialect.name == "postgresql":
        # Replicas share the database: a stream wakes for every replica's commits.
        host.background(
            "timeline-listener", watch.TimelineListener(url=db.url, feed=servicer.watcher.feed)
        )
    host.background(
        "blob-sweep",
        BlobSweeper(
            blobs=blobs,
            db=db,
            referenced=store.referenced_blobs,
            interval=settings.blob_sweep_interval_seconds,
            grace=settings.blob_sweep_grace_seconds,
        ),
    )
    # PIPL minimisation: reporters of cases closed long ago (what stays: store.py).
    keep_reporters_limited(
        host, settings, db=db, erase=store.anonymise_reporters, counter=metrics.REPORTERS_ANONYMISED
    )
    return host


async def serve(settings: IntakeSettings | None = None) -> None:
    await run_until_signalled(await create_server(settings or IntakeSettings()))
