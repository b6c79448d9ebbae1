"""notify's event handling: who must hear about a case step, recorded once per event.

`case.received` only teaches notify who the citizen is (notify keeps its own copy). For
the steps people must hear about, registry is asked for the staff first (outside any
transaction; UNAVAILABLE means the event comes back later); then the rendered deliveries
are written with the inbox row in one transaction. The sender sends them after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as reg_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.bus import Apply, RetryLater
from services.common.db import Database
from services.common.policy import Policy
from services.common.timeutil import utcnow
from services.notify import domain, metrics, store

CONSUMER = "notify"
SUBJECTS = "lianxin.case.>"
SERVICE_ACTOR = (("x-lianxin-actor", "service:notify"),)
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
MAX_STAFF_PAGES = 20

log = logging.getLogger(__name__)


class Notifier:
    """Turns case events into deliveries."""

    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        registry: grpc.aio.Channel,
        available: Collection[int],
        registry_timeout: float = 5.0,
        reporter_wait_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.policy = policy
        self.registry = registry_service_pb2_grpc.RegistryServiceStub(registry)
        self.available = frozenset(available)
        self.registry_timeout = registry_timeout
        self.reporter_wait_seconds = reporter_wait_seconds
        self._missing: dict[str, float] = {}  # event id → when its reporter was first missed

    async def handle(self, event: event_pb2.Event, apply: Apply) -> None:
        body = event.WhichOneof("body")
        if body == "case_received":
            row = domain.reporter_row(event.case_received.case, utcnow())
            await apply(lambda conn: store.remember_reporter(conn, row=row))
            return
        audience = domain.AUDIENCES.get(event.type)
        if body != "case_transitioned" or audience is None:
            return  # nobody needs to hear about this step
        if await self.db.read(lambda c: store.processed(c, consumer=CONSUMER, event_id=event.id)):
            return  # a redelivery: do not ask registry again for nothing
        case = event.case_transitioned.case
        reporter = await self._reporter(event.id, case.id)
        recipients: list[domain.Recipient] = []
        if domain.CITIZEN in audience and (r := domain.citizen(reporter)) is not None:
            recipients.append(r)
        if domain.STAFF in audience:
            recipients.extend(await self._staff(event.type, case))
        if domain.HOTLINE in audience and (h := domain.hotline(reporter)) is not None:
            recipients.append(h)
        values = domain.fields(case, reporter, self.policy)
        now = utcnow()
        rows = domain.plan(
            event_id=event.id,
            event_type=event.type,
            case_id=case.id or event.case_id,
            recipients=recipients,
            values=values,
            available=self.available,
            now=now,
        )
        if not rows:
            log.warning("%s %s for case %s: nobody to tell", event.type, event.id, case.id)
        created: list[dict[str, Any]] = []

        def effect(conn: Connection) -> None:
            created[:] = store.insert_deliveries(conn, rows=rows)

        if await apply(effect):
            for r in created:
                metrics.DELIVERIES.labels(domain.channel_label(r["channel"]), "pending").inc()

    async def _reporter(self, event_id: str, case_id: str) -> Any:
        """The remembered reporter (the citizen, the hotline, the address).

        The case.received may still be on its way: in the same fetched batch (taken
        concurrently), or behind this event after an outage. The event is then retried
        until it has waited `reporter_wait_seconds` here (counted from when notify first
        missed it, not from the event's time, so catching up after a long outage still
        waits); after that it goes out without the citizen and the hotline.
        """
        reporter = await self.db.read(lambda c: store.get_reporter(c, case_id=case_id))
        now = time.monotonic()
        first_miss = self._missing.pop(event_id, None)
        if reporter is not None:
            return reporter
        if first_miss is None:
            first_miss = now
            # Forget events that stopped coming back (e.g. handled by another replica).
            stale = now - 10 * max(self.reporter_wait_seconds, 1.0)
            for eid in [e for e, t in self._missing.items() if t < stale]:
                del self._missing[eid]
        if now - first_miss < self.reporter_wait_seconds:
            self._missing[event_id] = first_miss
            raise RetryLater(f"case {case_id}: case.received not seen yet", delay=0.5)
        log.warning(
            "%s: case %s was never received here; the citizen is not told", event_id, case_id
        )
        return None

    async def _staff(self, event_type: str, case: routing_res.Case) -> list[domain.Recipient]:
        """The assignee (on dispatch) and the grid managers of the case's grid."""
        found: list[reg_res.Staff] = []
        try:
            if event_type == "case.dispatched" and case.assignee_staff_id:
                assignee = await self._find_staff(case.assignee_staff_id, case.assigned_unit_code)
                if assignee is None:
                    log.warning("assignee %s not found in registry", case.assignee_staff_id)
                else:
                    found.append(assignee)
            if case.grid_code:
                found.extend(
                    await self._list_staff(
                        reg.ListStaffRequest(
                            grid_code=case.grid_code, role=reg_res.STAFF_ROLE_GRID_MANAGER
                        )
                    )
                )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in TRANSIENT:
                raise RetryLater(f"registry ListStaff: {exc.code().name}") from exc
            raise
        return [domain.Recipient(domain.STAFF, s.id, s.name, s.phone) for s in found]

    async def _find_staff(self, staff_id: str, unit_code: str) -> reg_res.Staff | None:
        # registry has no GetStaff: the assignee is picked from the assigned unit's staff,
        # so look there first, and only then through everyone.
        requests = [reg.ListStaffRequest(unit_code=unit_code)] if unit_code else []
        requests.append(reg.ListStaffRequest())
        for request in requests:
            for s in await self._list_staff(request):
                if s.id == staff_id:
                    return s
        return None

    async def _list_staff(self, request: reg.ListStaffRequest) -> list[reg_res.Staff]:
        out: list[reg_res.Staff] = []
        request.page_size = 1000
        for _ in range(MAX_STAFF_PAGES):
            resp = await self.registry.ListStaff(
                request, timeout=self.registry_timeout, metadata=SERVICE_ACTOR
            )
            out.extend(resp.staff)
            if not resp.next_page_token:
                break
            request.page_token = resp.next_page_token
        return out
