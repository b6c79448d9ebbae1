"""notify's event handling: who must hear about a case step, recorded once per event.

`case.received` only teaches notify who the citizen is (notify keeps its own copy). For
the steps people must hear about (`domain.AUDIENCES`, plus the subscribed hotline systems
on every transition), registry is asked for the staff first (outside any transaction;
UNAVAILABLE means the event comes back later); then the rendered deliveries are written
with the inbox row in one transaction (the events of a fetched batch together: one
statement for all their deliveries). The sender sends them after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from datetime import UTC
from datetime import time as clock_time
from typing import Any

import grpc
from opentelemetry import trace

from lianxin.events.v1 import event_pb2
from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as reg_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import telemetry
from services.common.cache import TtlCache
from services.common.consumer import Apply, Batched, RetryLater
from services.common.db import Database
from services.common.policy import Policy
from services.common.timeutil import utcnow
from services.notify import domain, metrics, store, subscription_store
from services.notify.channels import Clock

CONSUMER = "notify"
SUBJECTS = "lianxin.case.>"
SERVICE_ACTOR: tuple[tuple[str, str], ...] = ()  # the channel adds this service's token
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
MAX_STAFF_PAGES = 20
UNIT_CACHE_SECONDS = 600.0
STAFF_CACHE_SECONDS = 60.0
SUBSCRIPTION_CACHE_SECONDS = 10.0

# Roles that handle a unit's cases when routing named no assignee.
HANDLERS = (
    reg_res.STAFF_ROLE_UNIT_STAFF,
    reg_res.STAFF_ROLE_DEPARTMENT_STAFF,
    reg_res.STAFF_ROLE_COMMAND_CENTRE,
)

log = logging.getLogger(__name__)


def _time(entry: routing_res.HistoryEntry) -> Any:
    return entry.time.ToDatetime(tzinfo=UTC) if entry.HasField("time") else utcnow()


def subscription_view(row: Any) -> domain.SubscriptionView:
    return domain.SubscriptionView(
        id=row.id,
        hotline=row.hotline,
        webhook_url=row.webhook_url,
        unit_code=row.unit_code,
        case_channels=frozenset(int(c) for c in row.case_channels.split(",") if c),
        event_types=frozenset(t for t in row.event_types.split(",") if t),
    )


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
        clock: Clock = utcnow,
        quiet: tuple[clock_time, clock_time] | None = None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.registry = registry_service_pb2_grpc.RegistryServiceStub(registry)
        self.available = frozenset(available)
        self.registry_timeout = registry_timeout
        self.reporter_wait_seconds = reporter_wait_seconds
        self.clock = clock
        self.quiet = quiet
        self._missing: dict[str, float] = {}  # event id → when its reporter was first missed
        self._parents: dict[str, tuple[float, str]] = {}  # unit code → (when, parent code)
        # Staff lists per registry query, and the live subscriptions: read for every event
        # otherwise. Cleared on a registry change (`registry_changed`) or a subscription
        # written here (`subscriptions_changed`); the TTL covers other replicas' writes.
        self._staff: TtlCache[bytes, list[reg_res.Staff]] = TtlCache(STAFF_CACHE_SECONDS)
        self._subscriptions: TtlCache[str, list[domain.SubscriptionView]] = TtlCache(
            SUBSCRIPTION_CACHE_SECONDS
        )

    def registry_changed(self) -> None:
        self._staff.clear()
        self._parents.clear()

    def subscriptions_changed(self) -> None:
        self._subscriptions.clear()

    async def _active_subscriptions(self) -> list[domain.SubscriptionView]:
        async def load() -> list[domain.SubscriptionView]:
            return [
                subscription_view(r)
                for r in await self.db.read(subscription_store.active_subscriptions)
            ]

        return await self._subscriptions.get("active", load)

    async def handle(self, event: event_pb2.Event, apply: Apply) -> None:
        body = event.WhichOneof("body")
        if body == "case_received":
            row = {
                **domain.reporter_row(event.case_received.case, utcnow()),
                # The case's first trace (this span is in it): later steps link to it.
                "origin_traceparent": telemetry.inject_headers().get("traceparent"),
            }
            await apply(lambda conn: store.remember_reporter(conn, row=row))
            return
        audience = domain.AUDIENCES.get(event.type)
        if body != "case_transitioned" or audience is None:
            return  # not a workflow step notify knows
        case = event.case_transitioned.case
        entry = event.case_transitioned.entry

        def seen_and_reporter(c: Any) -> tuple[bool, Any]:
            return (
                store.processed(c, consumer=CONSUMER, event_id=event.id),
                store.get_reporter(c, case_id=case.id),
            )

        seen, found = await self.db.read(seen_and_reporter)
        if seen:
            return  # a redelivery: do not ask registry again for nothing
        reporter = self._reporter(event.id, case.id, found)
        if reporter is not None:  # one case, one story: link to the case's first trace
            telemetry.link_to(
                trace.get_current_span(), reporter.origin_traceparent, case_id=case.id
            )
        subscriptions = await self._active_subscriptions()
        recipients: list[domain.Recipient] = []
        try:
            for who in audience:
                if who == domain.CITIZEN_AUDIENCE and (r := domain.citizen(reporter)) is not None:
                    recipients.append(r)
                elif who == domain.UNIT:
                    recipients.extend(await self._unit(case))
                elif who == domain.GRID:
                    recipients.extend(await self._grid(case))
                elif who == domain.ABOVE:
                    recipients.extend(await self._above(case))
        except grpc.aio.AioRpcError as exc:
            if exc.code() in TRANSIENT:
                raise RetryLater(f"registry: {exc.code().name}") from exc
            raise
        recipients.extend(
            domain.hotline_recipients(
                event_type=event.type,
                case=case,
                reporter=reporter,
                subscriptions=subscriptions,
                origin_told=domain.ORIGIN in audience,
            )
        )
        now = self.clock()
        rows = domain.plan(
            event_id=event.id,
            event_type=event.type,
            case_id=case.id or event.case_id,
            recipients=recipients,
            values=domain.fields(case, reporter, self.policy, entry),
            available=self.available,
            now=now,
            quiet=self.quiet,
            data=domain.webhook_data(event.type, case, entry, reporter),
        )
        if not rows:
            log.info("%s %s for case %s: nobody to tell", event.type, event.id, case.id)
        closing = case.status == routing_res.CASE_STATUS_CLOSED
        reopening = entry.transition == routing_res.TRANSITION_REOPENED
        planned = store.Planned(
            rows=rows,
            case_id=case.id,
            # For the retention job: when the case closed, or that it was reopened.
            closed=closing if closing or reopening else None,
            time=_time(entry),
        )
        # A new event (its inbox row is new) has no deliveries yet: all of them are new.
        if await apply(Batched(store.write_planned, planned)):
            for r in rows:
                metrics.DELIVERIES.labels(domain.channel_label(r["channel"]), "pending").inc()

    def _reporter(self, event_id: str, case_id: str, reporter: Any) -> Any:
        """The remembered reporter (the citizen, the hotline, the address), `reporter` as
        read with the event's inbox check.

        The case.received may still be on its way: in the same fetched batch (taken
        concurrently), or behind this event after an outage. The event is then retried
        until it has waited `reporter_wait_seconds` here (counted from when notify first
        missed it, not from the event's time, so catching up after a long outage still
        waits); after that it goes out without the citizen and the hotline.
        """
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

    async def _unit(self, case: routing_res.Case) -> list[domain.Recipient]:
        """The unit that must act: the assignee routing named, else the unit's handlers
        (or, when it has none, everyone in it)."""
        found: list[reg_res.Staff] = []
        if case.assignee_staff_id:
            assignee = await self._find_staff(case.assignee_staff_id, case.assigned_unit_code)
            if assignee is not None:
                found = [assignee]
            else:
                log.warning("assignee %s not found in registry", case.assignee_staff_id)
        if not found and case.assigned_unit_code:
            staff = await self._list_staff(reg.ListStaffRequest(unit_code=case.assigned_unit_code))
            found = [s for s in staff if s.role in HANDLERS] or staff
        return [_staff(s, domain.UNIT) for s in found]

    async def _grid(self, case: routing_res.Case) -> list[domain.Recipient]:
        """The grid managers of the case's grid."""
        if not case.grid_code:
            return []
        staff = await self._list_staff(
            reg.ListStaffRequest(grid_code=case.grid_code, role=reg_res.STAFF_ROLE_GRID_MANAGER)
        )
        return [_staff(s, domain.GRID) for s in staff]

    async def _above(self, case: routing_res.Case) -> list[domain.Recipient]:
        """The command centre of the level above the unit handling the case."""
        unit = case.assigned_unit_code or case.community_code
        parent = await self._parent(unit, case.district_code) if unit else ""
        if not parent:
            log.info("case %s: unit %r has no level above", case.id, unit)
            return []
        staff = await self._list_staff(
            reg.ListStaffRequest(unit_code=parent, role=reg_res.STAFF_ROLE_COMMAND_CENTRE)
        )
        return [_staff(s, domain.ABOVE) for s in staff]

    async def _parent(self, unit_code: str, district_code: str) -> str:
        """A unit's parent in registry (cached); a department's is its district."""
        cached = self._parents.get(unit_code)
        if cached is not None and time.monotonic() - cached[0] < UNIT_CACHE_SECONDS:
            return cached[1]
        try:
            reply = await self.registry.GetUnit(
                reg.GetUnitRequest(code=unit_code),
                timeout=self.registry_timeout,
                metadata=SERVICE_ACTOR,
            )
            parent = reply.unit.parent_code
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            parent = district_code if unit_code != district_code else ""
        self._parents[unit_code] = (time.monotonic(), parent)
        return parent

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
        request.page_size = 1000
        return await self._staff.get(
            request.SerializeToString(deterministic=True), lambda: self._fetch_staff(request)
        )

    async def _fetch_staff(self, request: reg.ListStaffRequest) -> list[reg_res.Staff]:
        out: list[reg_res.Staff] = []
        for _ in range(MAX_STAFF_PAGES):
            resp = await self.registry.ListStaff(
                request, timeout=self.registry_timeout, metadata=SERVICE_ACTOR
            )
            out.extend(resp.staff)
            if not resp.next_page_token:
                break
            request.page_token = resp.next_page_token
        return out


def _staff(s: reg_res.Staff, audience: str) -> domain.Recipient:
    return domain.Recipient(domain.STAFF, s.id, s.name, s.phone, audience)
