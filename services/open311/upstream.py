"""The gateway's calls to intake and routing, over their public gRPC APIs only.

The gateway calls as itself: its channels carry its service token (`service:open311`,
see `services.common.tokens.service_token_source`); the client application's identity is
checked by the gateway (its API keys) and recorded with the request it submits.

The district's categories and policy change only when routing restarts with a new
policy, so they are read once and reused for `catalog_ttl_seconds`; when routing cannot
be reached the last good copy is used (and said in the log).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any, TypeVar

import grpc

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.open311.errors import from_rpc
from services.open311.keys import Identity

log = logging.getLogger(__name__)

SERVICE_ACTOR = "service:open311"  # the gateway reading on its own behalf
T = TypeVar("T")


def call_metadata(identity: Identity | None = None) -> tuple[tuple[str, str], ...]:
    """Extra metadata of the gateway's calls (its token is added by the channel)."""
    return ()


@dataclass(frozen=True)
class Catalog:
    """The district's policy and categories, as routing serves them."""

    policy: routing_res.Policy
    categories: list[routing_res.Category]
    by_code: dict[str, routing_res.Category] = field(init=False)
    tz: timezone = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {c.code: c for c in self.categories})
        offset = self.policy.calendar.utc_offset or "+00:00"
        sign = -1 if offset.startswith("-") else 1
        hours, minutes = (int(x) for x in offset.lstrip("+-").split(":"))
        object.__setattr__(self, "tz", timezone(sign * timedelta(hours=hours, minutes=minutes)))


class Upstream:
    def __init__(
        self,
        *,
        intake: grpc.aio.Channel,
        routing: grpc.aio.Channel,
        timeout: float,
        catalog_ttl: float,
    ) -> None:
        self.intake = intake_service_pb2_grpc.IntakeServiceStub(intake)
        self.routing = routing_service_pb2_grpc.RoutingServiceStub(routing)
        self.timeout = timeout
        self.catalog_ttl = catalog_ttl
        self._catalog: Catalog | None = None
        self._catalog_at = 0.0
        self._lock = asyncio.Lock()

    async def _call(
        self,
        service: str,
        call: Callable[..., Awaitable[T]],
        request: Any,
        identity: Identity | None = None,
    ) -> T:
        try:
            return await call(request, timeout=self.timeout, metadata=call_metadata(identity))
        except grpc.aio.AioRpcError as err:
            raise from_rpc(err, service=service) from err

    # --- intake ----------------------------------------------------------------------

    async def submit(
        self, request: intake_svc.SubmitCaseRequest, identity: Identity
    ) -> intake_svc.SubmitCaseResponse:
        return await self._call("intake", self.intake.SubmitCase, request, identity)

    async def get_case(self, case_id: str) -> Any:
        reply = await self._call(
            "intake", self.intake.GetCase, intake_svc.GetCaseRequest(case_id=case_id)
        )
        return reply.case

    async def list_cases(self, request: intake_svc.ListCasesRequest) -> Any:
        return await self._call("intake", self.intake.ListCases, request)

    async def list_changes(self, request: intake_svc.ListStatusChangesRequest) -> Any:
        return await self._call("intake", self.intake.ListStatusChanges, request)

    # --- routing ---------------------------------------------------------------------

    async def catalog(self) -> Catalog:
        fresh = self._catalog is not None and time.monotonic() - self._catalog_at < self.catalog_ttl
        if fresh:
            assert self._catalog is not None
            return self._catalog
        async with self._lock:
            if self._catalog is not None and time.monotonic() - self._catalog_at < self.catalog_ttl:
                return self._catalog
            try:
                self._catalog = await self._load_catalog()
                self._catalog_at = time.monotonic()
            except Exception as exc:
                if self._catalog is None:
                    raise
                log.warning(
                    "routing's categories could not be refreshed (%s); using the copy of policy %s",
                    exc,
                    self._catalog.policy.version,
                )
            return self._catalog

    async def _load_catalog(self) -> Catalog:
        policy = (
            await self._call("routing", self.routing.GetPolicy, routing_svc.GetPolicyRequest())
        ).policy
        categories: list[routing_res.Category] = []
        token = ""
        while True:
            reply = await self._call(
                "routing",
                self.routing.ListCategories,
                routing_svc.ListCategoriesRequest(page_size=500, page_token=token),
            )
            categories.extend(reply.categories)
            token = reply.next_page_token
            if not token:
                return Catalog(policy=policy, categories=categories)
