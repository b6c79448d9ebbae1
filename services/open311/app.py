"""The gateway's process: `create_server(settings)` builds it, `serve()` runs it.

Start: database migrated (API keys) → channels to intake and routing → HTTP listening.
The gateway is stateless otherwise: any number of replicas can serve one district.
Stop (SIGTERM/SIGINT): uvicorn stops taking connections and lets requests in flight
finish for `shutdown_grace_seconds`, then the channels and the database close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from datetime import datetime
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common import channels, telemetry, tokens
from services.common.auth import SERVICE_SCOPES
from services.common.db import Database, migrate
from services.common.interceptors import (
    ClientContextInterceptor,
    bearer_interceptors,
    register_client_methods,
)
from services.common.timeutil import to_ts
from services.open311 import keys, store
from services.open311.api import bounded, build_app, list_request
from services.open311.config import Open311Settings
from services.open311.errors import Open311Error, not_found
from services.open311.resources import request_status, service_request
from services.open311.upstream import Catalog, Upstream

log = logging.getLogger(__name__)


class Gateway:
    """One gateway: its settings, key database, upstream clients and HTTP server."""

    def __init__(self, settings: Open311Settings) -> None:
        self.settings = settings
        telemetry.setup("open311", log_level=settings.log_level)
        url = settings.sqlalchemy_url()
        migrate(url, store.MIGRATIONS)
        self.db = Database(url)
        source = tokens.service_token_source(
            "open311",
            data_dir=settings.data_dir,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            token_file=settings.auth_service_token_file,
            signing_key_file=settings.auth_signing_key_file,
            scopes=SERVICE_SCOPES["open311"],
        )
        self._channels = {
            name: channels.aio_channel(
                target,
                settings.tls(),
                interceptors=[ClientContextInterceptor(), *bearer_interceptors(source.token)],
            )
            for name, target in (
                ("intake", settings.intake_target),
                ("routing", settings.routing_target),
            )
        }
        for upstream in (intake_svc, routing_svc):
            (service,) = upstream.DESCRIPTOR.services_by_name.values()
            register_client_methods(service)  # its client-side series exist at 0
        self.upstream = Upstream(
            intake=self._channels["intake"],
            routing=self._channels["routing"],
            timeout=settings.rpc_timeout_seconds,
            catalog_ttl=settings.catalog_ttl_seconds,
        )
        self.app = build_app(self)
        self.port = 0
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.settings.base_url(self.port)

    # --- what the API needs --------------------------------------------------------------

    async def identify(self, key: str) -> keys.Identity | None:
        return await self.db.read(lambda conn: keys.identify(conn, key.strip()))

    async def get_case(self, case_id: str) -> Any:
        try:
            return await self.upstream.get_case(case_id)
        except Open311Error as err:
            if err.status == 404:
                raise not_found(f"service_request_id {case_id!r} was not found") from err
            raise

    async def fetch_cases(self, ids: list[str]) -> list[Any]:
        """Each case with its timeline; None for an id intake does not know."""

        async def one(case_id: str) -> Any:
            try:
                return await self.upstream.get_case(case_id)
            except Open311Error as err:
                if err.status == 404:
                    return None
                raise

        return await bounded([one(i) for i in ids])

    async def records(self, cat: Catalog, cases: list[Any]) -> list[dict[str, Any]]:
        ids = [c.id for c in cases]
        media = await self.db.read(lambda conn: store.media_of(conn, case_ids=ids))
        return [service_request(c, cat, media_url=media.get(c.id, "")) for c in cases]

    async def search(
        self, codes: list[str], statuses: set[str], start: datetime, end: datetime, *, limit: int
    ) -> list[Any]:
        """Up to `limit` cases received in [start, end), newest first, of the given
        categories (all when none) and GeoReport statuses (all when none)."""
        found: list[Any] = []
        for code in list(dict.fromkeys(codes)) or [""]:
            token, taken = "", 0
            while taken < limit:
                reply = await self.upstream.list_cases(list_request(code, start, end, token))
                for c in reply.cases:
                    if not statuses or request_status(c.status) in statuses:
                        found.append(c)
                        taken += 1
                        if taken == limit:
                            break
                token = reply.next_page_token
                if not token:
                    break
        found.sort(key=lambda c: c.id, reverse=True)  # UUIDv7: newest first
        return found[:limit]

    async def changes(self, start: datetime, end: datetime, *, limit: int) -> list[Any]:
        out: list[Any] = []
        token = ""
        while len(out) < limit:
            req = intake_svc.ListStatusChangesRequest(
                page_size=min(500, limit - len(out)), page_token=token
            )
            to_ts(start, req.start_time)
            to_ts(end, req.end_time)
            reply = await self.upstream.list_changes(req)
            out.extend(reply.status_changes)
            token = reply.next_page_token
            if not token:
                break
        return out

    async def readiness(self) -> list[str]:
        """What keeps the gateway from serving: intake or routing not SERVING."""
        problems = []
        for name, channel in self._channels.items():
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    problems.append(f"{name} is not serving")
            except grpc.aio.AioRpcError as err:
                problems.append(f"{name} cannot be reached: {err.code().name}")
        return problems

    # --- running -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (port 0 picks one) and serve in the background."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.host, self.settings.http_port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=int(self.settings.shutdown_grace_seconds) or None,
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        log.info("open311 gateway listening on http://%s", self.address)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for channel in self._channels.values():
            await channel.close()
        self.db.close()
        if self._socket is not None:
            self._socket.close()

    async def wait(self) -> None:
        if self._task is not None:
            await self._task


async def create_server(settings: Open311Settings) -> Gateway:
    return Gateway(settings)


async def serve(settings: Open311Settings | None = None) -> None:
    import signal

    gw = await create_server(settings or Open311Settings())
    await gw.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait(
        {waiter, asyncio.ensure_future(gw.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    await gw.stop()
