"""ServiceHost: one service's process — gRPC server, database, NATS, relay, consumers.

Every service builds one in its `create_server(settings)` and `serve()` runs it until
SIGTERM/SIGINT. Start order: database migrated → NATS connected and stream present → gRPC
server listening → relay and consumers running (each under the `Supervisor`) → health
SERVING. Shutdown is the reverse: health NOT_SERVING (load balancers stop sending) →
`server.stop(grace)` lets in-flight RPCs finish → relay and consumers stop, NATS drains →
database closes.

Health (`grpc.health.v1.Health`) answers several names:

- `""` and the service's own name — **readiness**: the service can do its job. It is
  SERVING while the service runs, its database answers and every background loop is
  running. A NATS outage does not take it down: RPCs still commit (the outbox holds the
  events) and the loops wait for NATS by themselves.
- `liveness` — the process is not stuck: answered by the event loop itself, NOT_SERVING
  only when the database writer thread has died.
- `dependency:nats`, `dependency:database` — each dependency as last seen (every
  `HEALTH_INTERVAL` seconds and on NATS's connect callbacks).
- `loop:<name>` — each supervised background loop (`relay`, `consumer:<durable>`, …).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import start_http_server
from sqlalchemy import Table

from services.common import bus, channels, telemetry, tokens
from services.common.auth import SERVICE_SCOPES
from services.common.authz import AuthInterceptor
from services.common.consumer import EventConsumer
from services.common.db import Database, check_schema, migrate
from services.common.guard import RequestGuardInterceptor, max_receive_bytes
from services.common.interceptors import (
    client_chain,
    register_client_methods,
    register_methods,
    server_chain,
)
from services.common.opsmetrics import OpsPoller
from services.common.ratelimit import RateLimitInterceptor
from services.common.settings import ServiceSettings
from services.common.supervise import Loop, Supervisor

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # responses, and what a client channel accepts
HEALTH_INTERVAL = 2.0
LIVENESS = "liveness"
DEPENDENCY_NATS = "dependency:nats"
DEPENDENCY_DATABASE = "dependency:database"


def _verifier(settings: ServiceSettings) -> tokens.Verifier | None:
    """The token checks of this service; None (every call refused) without trusted keys."""
    source = settings.auth_jwks or str(tokens.dev_key_paths(settings.data_dir).jwks)
    try:
        keys = tokens.KeySet(source)
    except (OSError, ValueError, tokens.TokenError) as exc:
        log.error(
            "no signing keys to trust (%s): every call will be refused as UNAUTHENTICATED; "
            "set AUTH_JWKS or start with `lianxin up`",
            exc,
        )
        return None
    return tokens.Verifier(keys, issuer=settings.auth_issuer, audience=settings.auth_audience)


def _token_source(name: str, settings: ServiceSettings) -> tokens.TokenSource:
    return tokens.service_token_source(
        name,
        data_dir=settings.data_dir,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        token_file=settings.auth_service_token_file,
        signing_key_file=settings.auth_signing_key_file,
        scopes=SERVICE_SCOPES.get(name, ()),
    )


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
        self.verifier = _verifier(settings)
        self.token_source = _token_source(name, settings)
        limits = RateLimitInterceptor(
            rate=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            service_rate=settings.rate_limit_service_per_second,
        )
        self.server = grpc.aio.server(
            # The caller's token and the permission table; then rate limits per caller and
            # the request guard (size, decoding, shape), innermost.
            interceptors=[
                *server_chain(AuthInterceptor(self.verifier)),
                limits,
                RequestGuardInterceptor(),
            ],
            options=[
                # The largest request of this service's RPCs (services.common.guard).
                ("grpc.max_receive_message_length", max_receive_bytes(f"lianxin.{name}.v1")),
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
        self.health_port: int | None = None
        self._health_server: grpc.aio.Server | None = None
        self.db: Database | None = None
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._relays: list[bus.OutboxRelay] = []
        self._consumers: list[EventConsumer] = []
        self._channels: list[grpc.aio.Channel] = []
        self._background: list[tuple[str, Loop]] = []
        self._listeners: list[tuple[str, Callable[[], None]]] = []
        self._stop = asyncio.Event()
        self.supervisor = Supervisor(name, self._stop, on_change=self._update_health)
        self._database_ok = True
        self._metrics_server: Any = None
        self._started = False
        # Named parts a service exposes to its tests (e.g. routing's "scheduler").
        self.parts: dict[str, Any] = {}

    # --- building ----------------------------------------------------------------------

    def open_database(self, migrations_dir: Path) -> Database:
        url = self.settings.sqlalchemy_url(self.name)
        # The writer lock first: a second process on the same SQLite file is refused
        # before it touches anything.
        db = Database(
            url,
            name=self.name,
            sqlite_synchronous=self.settings.sqlite_synchronous,
            exclusive=True,
        )
        try:
            if self.settings.migrate_on_start:
                migrate(url, migrations_dir)
            else:
                check_schema(url, migrations_dir)
        except BaseException:
            db.close()
            raise
        self.db = db
        return self.db

    async def connect_bus(self) -> JetStreamContext:
        async def changed() -> None:
            await self._update_health()

        self.nc = await bus.connect(
            self.settings.nats_url,
            name=f"lianxin-{self.name}",
            auth=self.settings.nats_auth(self.name),
        )
        self.nc._disconnected_cb = changed
        self.nc._reconnected_cb = changed
        self.js = self.nc.jetstream()
        s = self.settings
        await bus.ensure_stream(
            self.js,
            s.stream_name,
            replicas=s.stream_replicas,
            max_age_seconds=s.stream_max_age_seconds,
            max_bytes=s.stream_max_bytes,
            discard=s.stream_discard,
        )
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
        self.background("ops-poller", poller)
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
    ) -> EventConsumer:
        assert self.db is not None and self.js is not None
        c = EventConsumer(
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

    def background(self, name: str, loop: Loop) -> None:
        """Run `loop.run(stop_event)` under supervision while the service runs (schedulers
        and the like); `loop.heartbeat()` is set to report its rounds."""
        self._background.append((name, loop))

    def listen(self, subject: str, callback: Callable[[], None]) -> None:
        """Call `callback` for every message on `subject` (core NATS, from start on; no
        durability: for cache invalidation and the like, which a TTL backs up)."""
        self._listeners.append((subject, callback))

    def add_service(
        self, add_fn: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str
    ) -> None:
        add_fn(servicer, self.server)
        self._service_names.append(full_name)
        service = _service_descriptor(full_name)
        if service is not None:
            register_methods(full_name, [m.name for m in service.methods])

    def channel(self, target: str, service: ServiceDescriptor) -> grpc.aio.Channel:
        """A client channel to `service` (its generated descriptor) at `target`, closed with
        this host; the client-side RPC series of its methods exist at 0 from now on."""
        register_client_methods(service)
        ch = channels.aio_channel(
            target,
            self.settings.tls(),
            interceptors=client_chain(
                self.token_source.token, default_timeout=self.settings.client_deadline_seconds
            ),
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
            self.port = channels.add_port(
                self.server,
                f"{self.settings.host}:{self.settings.grpc_port}",
                self.settings.server_tls(),
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
        if self.settings.health_port is not None:
            await self._start_health_port()
        if self.nc is not None:
            for subject, callback in self._listeners:

                async def on_message(_msg: Any, callback: Callable[[], None] = callback) -> None:
                    callback()

                await self.nc.subscribe(subject, cb=on_message)
        for c in self._consumers:
            try:
                await c.start()
            except Exception as exc:  # JetStream busy (a cluster electing): its loop binds
                log.warning(
                    "%s: consumer %s not bound yet (%s); its loop retries", self.name, c.name, exc
                )
        for i, r in enumerate(self._relays):
            self.supervisor.start("relay" if i == 0 else f"relay-{i}", r)
        for c in self._consumers:
            self.supervisor.start(f"consumer:{c.name}", c)
        for name, loop in self._background:
            self.supervisor.start(name, loop)
        self.supervisor.start("health", _HealthWatch(self))
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
        await self._update_health()
        log.info("%s serving gRPC on %s", self.name, self.address)

    async def _start_health_port(self) -> None:
        """Health alone, in plaintext, on its own port: for probes that cannot do TLS. It
        answers from the same servicer, so it says what the main port says."""
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        address = f"{self.settings.host}:{self.settings.health_port}"
        try:
            port = channels.add_port(server, address, None)
        except RuntimeError:
            port = 0
        if port == 0:
            await self.server.stop(0)
            raise RuntimeError(
                f"{self.name}: cannot listen for health on {address}: the port is in use "
                f"(set {self._env('HEALTH_PORT')})"
            )
        await server.start()
        self._health_server, self.health_port = server, port

    @property
    def ready(self) -> bool:
        """Readiness: running, the database answers, every background loop runs."""
        return (
            self._started
            and not self._stop.is_set()
            and self._database_ok
            and self.supervisor.all_running
        )

    def _env(self, name: str) -> str:
        return f"{self.settings.model_config.get('env_prefix', 'LIANXIN_')}{name}"

    async def _update_health(self) -> None:
        if self._stop.is_set() or not self._started:
            return  # graceful shutdown owns the statuses from here

        def status(ok: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
            return (
                health_pb2.HealthCheckResponse.SERVING
                if ok
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )

        ready = self.ready
        for name in ("", *self._service_names[1:]):
            await self.health.set(name, status(ready))
        writer_alive = self.db is None or self.db.writer_alive
        await self.health.set(LIVENESS, status(writer_alive))
        if self.nc is not None:
            await self.health.set(DEPENDENCY_NATS, status(self.nc.is_connected))
        if self.db is not None:
            await self.health.set(DEPENDENCY_DATABASE, status(self._database_ok))
        for state in self.supervisor.loops.values():
            await self.health.set(f"loop:{state.name}", status(state.running))

    async def check_database(self) -> None:
        """Ask the database a trivial question; readiness follows the answer."""
        if self.db is None:
            return
        try:
            await asyncio.wait_for(self.db.read(_ping), timeout=5.0)
            ok = True
        except Exception as exc:
            if self._database_ok:
                log.warning(
                    "%s: database does not answer (%s: %s)", self.name, type(exc).__name__, exc
                )
            ok = False
        if ok and not self._database_ok:
            log.info("%s: database answers again", self.name)
        self._database_ok = ok

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown; safe to call twice."""
        if self._stop.is_set():
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self._health_server is not None:
            await self._health_server.stop(0)
        self._stop.set()
        for c in self._consumers:
            await c.stop()
        await self.supervisor.join(timeout=grace + 5)
        for ch in self._channels:
            await ch.close()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await self.nc.drain()  # closes the client once drained
            except Exception as exc:  # reconnecting, or the server is gone
                log.info("%s: NATS not drained (%s); closing", self.name, type(exc).__name__)
            if not self.nc.is_closed:
                # A client left open would go on reconnecting for the life of the process
                # (and in the tests, join the next NATS server to take the same port).
                with contextlib.suppress(Exception):
                    await self.nc.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        if self.db is not None:
            await asyncio.to_thread(self.db.close)
        log.info("%s stopped", self.name)


def _ping(conn: Any) -> None:
    conn.exec_driver_sql("SELECT 1")


class _HealthWatch:
    """Looks at the dependencies every `HEALTH_INTERVAL` seconds and updates health."""

    def __init__(self, host: ServiceHost) -> None:
        self.host = host
        self.heartbeat: Callable[[], None] = lambda: None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.host.check_database()
            await self.host._update_health()
            self.heartbeat()
            await bus.wait_any(stop, timeout=HEALTH_INTERVAL)


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
