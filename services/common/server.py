"""ServiceHost: one service's process — gRPC server, database, NATS, relay, consumers.

Every service builds one in its `create_server(settings)` and `serve()` runs it until
SIGTERM/SIGINT. Start order: database migrated → NATS connected and stream present → gRPC
server listening → relay and consumers running → health SERVING. Shutdown is the reverse:
health NOT_SERVING (load balancers stop sending) → `server.stop(grace)` lets in-flight RPCs
finish → relay and consumers stop, NATS drains → database closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import start_http_server
from sqlalchemy import Table

from services.common import bus, telemetry
from services.common.db import Database, migrate
from services.common.interceptors import client_chain, register_methods, server_chain
from services.common.opsmetrics import OpsPoller
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ServiceHost:
    """Owns the parts of one service and starts and stops them in order."""

    def __init__(self, name: str, settings: ServiceSettings) -> None:
        self.name = name
        self.settings = settings
        telemetry.setup(
            name,
            log_level=settings.log_level,
            trace_exporter=settings.trace_exporter,
            log_format=settings.log_format,
        )
        self.server = grpc.aio.server(
            interceptors=server_chain(),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # A port another process holds is an error, not silently shared.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [health.SERVICE_NAME]
        self.port = 0
        self.metrics_port: int | None = None
        self.db: Database | None = None
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._relays: list[bus.OutboxRelay] = []
        self._consumers: list[bus.EventConsumer] = []
        self._channels: list[grpc.aio.Channel] = []
        self._background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._metrics_server: Any = None
        self._started = False
        # Named parts a service exposes to its tests (e.g. routing's "scheduler").
        self.parts: dict[str, Any] = {}

    # --- building ----------------------------------------------------------------------

    def open_database(self, migrations_dir: Path) -> Database:
        url = self.settings.sqlalchemy_url(self.name)
        migrate(url, migrations_dir)
        self.db = Database(url, name=self.name)
        return self.db

    async def connect_bus(self) -> JetStreamContext:
        async def disconnected() -> None:
            await self._set_serving(False)

        async def reconnected() -> None:
            await self._set_serving(self._started)

        self.nc = await bus.connect(self.settings.nats_url, name=f"lianxin-{self.name}")
        self.nc._disconnected_cb = disconnected
        self.nc._reconnected_cb = reconnected
        self.js = self.nc.jetstream()
        await bus.ensure_stream(self.js, self.settings.stream_name)
        poller = OpsPoller(
            service=self.name,
            db=lambda: self.db,
            js=lambda: self.js,
            stream=self.settings.stream_name,
            consumers=lambda: [
                (
                    c.name,
                    [c.filter_subject] if isinstance(c.filter_subject, str) else c.filter_subject,
                )
                for c in self._consumers
            ],
            outboxes=lambda: [r.outbox for r in self._relays],
            interval=self.settings.ops_poll_seconds,
        )
        self.background(poller.run)
        return self.js

    def relay(self, outbox: Table) -> bus.OutboxRelay:
        assert self.db is not None and self.js is not None
        r = bus.OutboxRelay(service=self.name, db=self.db, js=self.js, outbox=outbox)
        self._relays.append(r)
        return r

    def consume(
        self,
        *,
        name: str,
        inbox: Table,
        filter_subject: str | Sequence[str],
        handler: bus.Handler,
        on_applied: Callable[[], None] | None = None,
    ) -> bus.EventConsumer:
        assert self.db is not None and self.js is not None
        c = bus.EventConsumer(
            name=name,
            db=self.db,
            js=self.js,
            inbox=inbox,
            stream=self.settings.stream_name,
            filter_subject=filter_subject,
            handler=handler,
            ack_wait=self.settings.ack_wait_seconds,
            on_applied=on_applied,
        )
        self._consumers.append(c)
        return c

    def background(self, loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        """Run `loop(stop_event)` while the service runs (schedulers and the like)."""
        self._background.append(loop)

    def add_service(
        self, add_fn: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str
    ) -> None:
        add_fn(servicer, self.server)
        self._service_names.append(full_name)
        service = _service_descriptor(full_name)
        if service is not None:
            register_methods(full_name, [m.name for m in service.methods])

    def channel(self, target: str) -> grpc.aio.Channel:
        """A client channel to another service, closed with this host."""
        ch = grpc.aio.insecure_channel(
            target,
            interceptors=client_chain(),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._channels.append(ch)
        return ch

    # --- running -----------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> None:
        reflection.enable_server_reflection(
            [*self._service_names, reflection.SERVICE_NAME], self.server
        )
        try:
            self.port = self.server.add_insecure_port(
                f"{self.settings.host}:{self.settings.grpc_port}"
            )
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise RuntimeError(
                f"{self.name}: cannot listen for gRPC on "
                f"{self.settings.host}:{self.settings.grpc_port}: the port is in use or not "
                f"ours to take (set {self._env('GRPC_PORT')} or `lianxin up --ports`)"
            )
        await self.server.start()
        for c in self._consumers:
            await c.start()
        for r in self._relays:
            self._tasks.append(asyncio.create_task(r.run(self._stop), name=f"{self.name}-relay"))
        for c in self._consumers:
            self._tasks.append(asyncio.create_task(c.run(self._stop), name=c.name))
        for loop in self._background:
            self._tasks.append(asyncio.create_task(loop(self._stop)))
        if self.settings.metrics_port is not None:
            try:
                self._metrics_server, _ = start_http_server(
                    self.settings.metrics_port, addr=self.settings.host
                )
            except OSError as exc:
                await self.server.stop(0)
                raise RuntimeError(
                    f"{self.name}: cannot serve /metrics on "
                    f"{self.settings.host}:{self.settings.metrics_port}: {exc.strerror} "
                    f"(set {self._env('METRICS_PORT')} or `lianxin up --ports`)"
                ) from exc
            self.metrics_port = self._metrics_server.server_port
        self._started = True
        await self._set_serving(True)
        log.info("%s serving gRPC on %s", self.name, self.address)

    def _env(self, name: str) -> str:
        return f"{self.settings.model_config.get('env_prefix', 'LIANXIN_')}{name}"

    async def _set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self._service_names[1:]):
            await self.health.set(name, status)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown; safe to call twice."""
        if self._stop.is_set():
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        self._stop.set()
        for c in self._consumers:
            await c.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace + 5)
        for t in self._tasks:
            t.cancel()
        for ch in self._channels:
            await ch.close()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        if self.db is not None:
            await asyncio.to_thread(self.db.close)
        log.info("%s stopped", self.name)


def _service_descriptor(full_name: str) -> Any:
    try:
        return descriptor_pool.Default().FindServiceByName(full_name)
    except KeyError:
        return None


async def run_until_signalled(host: ServiceHost) -> None:
    """Start `host`, wait for SIGTERM or SIGINT, then shut it down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await host.start()
    try:
        await stop.wait()
    finally:
        await host.stop()
        telemetry.shutdown()
