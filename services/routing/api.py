"""routing's gRPC servicer: the steps units, command centres and checkers take on a case,
work queues, and statistics.

The steps are declared once each in `steps.RULES` (their checks, lookups and plans) and
served here by one method, `step`. Every step request is idempotent per (case,
`request_id`): a retry returns the case as it is now and writes nothing; a request id is
scoped to its case. A decision "by the level above" (approving or refusing an extension,
supervising, re-dispatching a returned case) is taken for the caller's own unit, from
their token (`authz.acting_unit`; `acting_unit_code` may be left empty), which must be a
district, street or community whose area holds the case and which stands above the
case's unit (`decisions.check_above`). Every read and step first checks the case lies in the
caller's scope (`scope.py`); one outside it is NOT_FOUND.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry import trace
from sqlalchemy import Connection

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common import auth, authz, bus, paging, telemetry
from services.common.blobs import BlobStore
from services.common.db import Database
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from services.common.interceptors import actor_var
from services.common.policy import Policy
from services.common.timeutil import from_ts, to_ts
from services.routing import (
    domain,
    metrics,
    policy_view,
    ranking,
    scope,
    stats,
    steps,
    store,
    views,
)
from services.routing.clock import Clock
from services.routing.config import RoutingSettings
from services.routing.directory import Directory, RegistryDown

S = res
# A work queue: the open cases, and (the district's) those waiting to be located by hand.
QUEUE_STATUSES = sorted(domain.OPEN | {S.CASE_STATUS_RECEIVED})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Plan = Callable[[Connection, Any, datetime], list[domain.Step]]


class RoutingServicer(routing_service_pb2_grpc.RoutingServiceServicer):
    def __init__(
        self,
        *,
        settings: RoutingSettings,
        db: Database,
        relay: bus.OutboxRelay,
        blobs: BlobStore,
        policy: Policy,
        directory: Directory,
        clock: Clock,
        on_deadline_change: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.relay = relay
        self.blobs = blobs
        self.policy = policy
        self.sla = domain.Sla(policy)
        self.directory = directory
        self.clock = clock
        self.on_deadline_change = on_deadline_change

    # --- reading ---------------------------------------------------------------------

    async def GetCase(
        self, request: svc.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetCaseResponse:
        steps.require_case_id(request.case_id)
        p, district = auth.current(), self.policy.district

        def load(conn: Connection) -> res.Case | None:
            row = store.get_case(conn, case_id=request.case_id)
            if row is None or not scope.visible(p, row, district=district):
                return None
            return views.case_to_proto(
                row,
                store.get_history(conn, case_id=row.id),
                assisting=[a.unit_code for a in store.get_assisting(conn, case_id=row.id)],
                merged_ids=[f.id for f in store.followers(conn, case_id=row.id)],
            )

        case = await self.db.read(load)
        if case is None:
            raise NotFound(
                f"case {request.case_id} not found", metadata={"case_id": request.case_id}
            )
        return svc.GetCaseResponse(case=case)

    async def ListWorkQueue(
        self, request: svc.ListWorkQueueRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListWorkQueueResponse:
        v = Violations()
        v.check(bool(request.unit_code), "unit_code", "is required")
        if request.status and request.status not in QUEUE_STATUSES:
            names = ", ".join(domain.status_name(s) for s in QUEUE_STATUSES)
            v.add("status", f"must be an open status: {names}")
        if request.level not in res.Level.values():
            v.add("level", "must be COMMUNITY, STREET or DISTRICT")
        v.raise_if_any()
        size = paging.page_size(request.page_size)
        token = paging.read_token(request.page_token, {"d": str, "id": str})
        try:
            after = (datetime.fromisoformat(token["d"]), token["id"]) if token["d"] else None
        except ValueError as exc:
            raise InvalidArgument([("page_token", "is not a token this service issued")]) from exc
        statuses = [request.status] if request.status else QUEUE_STATUSES
        if request.to_locate_only:
            statuses = [s for s in statuses if s == S.CASE_STATUS_RECEIVED]

        def load(conn: Connection) -> tuple[list[Any], dict[str, list[str]]]:
            rows = store.work_queue(
                conn,
                unit_code=request.unit_code,
                statuses=statuses,
                after=after,
                limit=size + 1,
                overdue_only=request.overdue_only,
                supervised_only=request.supervised_only,
                level=request.level,
            )
            return rows, store.assisting_of(conn, case_ids=[r.id for r in rows[:size]])

        rows, assisting = await self.db.read(load)
        page = rows[:size]
        next_token = ""
        if len(rows) > size:
            last = page[-1]
            key = last.deadline_key
            key = key if isinstance(key, datetime) else datetime.fromisoformat(str(key))
            next_token = paging.encode_token({"d": key.isoformat(), "id": last.id})
        return svc.ListWorkQueueResponse(
            cases=[views.case_to_proto(r, assisting=assisting[r.id]) for r in page],
            next_page_token=next_token,
        )

    async def GetStats(
        self, request: svc.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetStatsResponse:
        v = Violations()
        code = request.unit_code.strip()
        if not code:
            v.add("unit_code", "is required")
        elif domain.unit_level(code) == 0 and not (code.isdigit() and len(code) == 15):
            v.add("unit_code", "must be a district, street, community, grid or department code")
        start = from_ts(request.start_time) or EPOCH
        end = from_ts(request.end_time) or self.clock.now()
        if request.HasField("end_time") and request.HasField("start_time") and start >= end:
            v.add("end_time", "must be after start_time")
        version = request.formula_version.strip() or stats.CURRENT
        if version not in stats.VERSIONS:
            v.add("formula_version", f"must be one of {', '.join(stats.VERSIONS)}, or unset")
        v.raise_if_any()
        # Without an end the period runs to now, now included.
        bound = end if request.HasField("end_time") else end + timedelta(microseconds=1)
        rows = await self.db.read(
            lambda conn: store.stats_rows(conn, unit_code=code, start=start, end=bound)
        )
        figures = stats.compute(rows, end=bound, version=version)
        reply = svc.GetStatsResponse(
            unit_code=code,
            indicators=[f.to_proto() for f in figures],
            formula_version=version,
        )
        to_ts(start, reply.start_time)
        to_ts(end, reply.end_time)
        return reply

    async def GetRanking(
        self, request: svc.GetRankingRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetRankingResponse:
        v = Violations()
        version = request.formula_version.strip() or stats.CURRENT
        area = request.unit_code.strip()
        ranking.validate(
            v, level=request.level, indicator_id=request.indicator_id, version=version, area=area
        )
        start = from_ts(request.start_time) or EPOCH
        end = from_ts(request.end_time) or self.clock.now()
        if request.HasField("end_time") and request.HasField("start_time") and start >= end:
            v.add("end_time", "must be after start_time")
        v.raise_if_any()
        bound = end if request.HasField("end_time") else end + timedelta(microseconds=1)
        rows = await self.db.read(
            lambda conn: store.ranking_rows(
                conn, unit_code=area or self.policy.district, start=start, end=bound
            )
        )
        scored = ranking.rank(
            rows, level=request.level, indicator_id=request.indicator_id, version=version, end=bound
        )
        named = []
        for code, name, figure in scored:
            if not name:
                try:
                    name = await self.directory.unit_name(code) or code
                except RegistryDown:
                    name = code  # the ranking stands without the name
            named.append((code, name, figure))
        reply = svc.GetRankingResponse(
            level=request.level,
            indicator_id=request.indicator_id,
            lower_is_better=ranking.FIGURES[request.indicator_id],
            formula_version=version,
            entries=[
                svc.RankingEntry(
                    rank=e.rank,
                    unit_code=e.unit_code,
                    unit_name=e.unit_name,
                    indicator=e.figure.to_proto(),
                )
                for e in ranking.with_ranks(named)
            ],
        )
        to_ts(start, reply.start_time)
        to_ts(end, reply.end_time)
        return reply

    async def ListCategories(
        self, request: svc.ListCategoriesRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListCategoriesResponse:
        return policy_view.list_categories(self.policy, request)

    async def GetPolicy(
        self, request: svc.GetPolicyRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetPolicyResponse:
        return svc.GetPolicyResponse(policy=policy_view.policy_to_proto(self.policy))

    # --- the steps: one shape for all, declared in steps.RULES ---------------------------

    async def step(self, rule: steps.StepRule, request: Any) -> Message:
        """Serve one step RPC: its checks, the caller's unit if it decides for one, the
        lookups outside the transaction, the steps applied once per (case, request_id)."""
        v = steps.step_violations(request.case_id, request.request_id)
        values = rule.check(request, v, self.settings)
        v.raise_if_any()
        principal = auth.current()
        given = rule.acting is steps.Acting.IF_GIVEN and request.acting_unit_code.strip()
        call = steps.Call(
            request=request,
            actor=actor_var.get(),
            acting=(
                authz.acting_unit(principal, request.acting_unit_code)
                if rule.acting is steps.Acting.YES or given
                else ""
            ),
            principal=principal,
            sla=self.sla,
            policy=self.policy,
            values=values,
        )
        if rule.prepare is not None:
            call.prepared = await rule.prepare(self, call)
        case = await self._act(
            request.case_id,
            request.request_id,
            rule.transition,
            lambda conn, row, now: rule.plan(call, conn, row, now),
        )
        return rule.response(case=case, **rule.answer(case))

    # --- machinery ---------------------------------------------------------------------

    async def current(self, case_id: str, request_id: str) -> Any:
        """The case as it is now, for lookups that must happen outside the transaction;
        NOT_FOUND when there is no such case; None when the step will answer by itself
        (a retry of a request already done, or a case merged into another)."""

        p, district = auth.current(), self.policy.district

        def load(conn: Connection) -> Any:
            row = store.get_case(conn, case_id=case_id)
            if row is None or not scope.visible(p, row, district=district):
                raise scope.not_found(case_id)
            if (
                request_id
                and store.seen_request(conn, case_id=case_id, request_id=request_id) is not None
            ):
                return None
            return None if row.merged_into else row

        return await self.db.read(load)

    async def named(self, target: domain.Target, field: str) -> domain.Target:
        """`target` with names from registry; a code registry does not know is bad input.
        Assisting units repeat neither the lead nor each other."""
        helpers = tuple(dict.fromkeys((c, n) for c, n in target.assisting if c != target.unit_code))
        target = domain.Target(
            target.level, target.unit_code, target.unit_name, helpers, target.staff_id
        )
        try:
            if not target.unit_name and await self.directory.unit_name(target.unit_code) is None:
                raise InvalidArgument(
                    [(field, f"no unit or department {target.unit_code!r} in registry")]
                )
            for i, (code, _) in enumerate(helpers):
                if await self.directory.unit_name(code) is None:
                    raise InvalidArgument(
                        [(f"assisting_unit_codes[{i}]", f"no unit or department {code!r}")]
                    )
            return await self.directory.named(target)
        except RegistryDown as exc:
            raise steps.registry_down(exc) from exc

    async def would_step(self, call: steps.Call, transition: int, plan: steps.Plan) -> bool:
        """The checks of `_act`, read-only: raises what `_act` would (not found, illegal
        transition, a plan's refusal); False for a retry of a request already applied."""
        case_id, request_id = call.request.case_id, call.request.request_id
        now = self.clock.now()
        p, district = auth.current(), self.policy.district

        def check(conn: Connection) -> bool:
            row = store.get_case(conn, case_id=case_id, for_update=True)
            scope.check(p, row, case_id, district=district)  # before anything else is said
            if (
                request_id
                and store.seen_request(conn, case_id=case_id, request_id=request_id) is not None
            ):
                return False
            domain.check_not_merged(row, case_id)
            domain.check_allowed(row, transition)
            plan(call, conn, row, now)
            return True

        return await self.db.read(check)

    async def _act(self, case_id: str, request_id: str, transition: int, plan: Plan) -> res.Case:
        """Apply the steps `plan` makes of the case, once per request id; a retry with the
        same request id returns the case as it is now."""
        traceparent = telemetry.inject_headers().get("traceparent")
        now = self.clock.now()

        origin: list[str | None] = []
        p, district = auth.current(), self.policy.district

        def job(conn: Connection) -> tuple[res.Case, list[tuple[int, res.Case]]]:
            # One read of the case (locked): out of scope is NOT_FOUND before anything else.
            row = store.get_case(conn, case_id=case_id, for_update=True)
            scope.check(p, row, case_id, district=district)
            if request_id:
                seen = store.seen_request(conn, case_id=case_id, request_id=request_id)
                if seen is not None:
                    if seen.transition != transition:
                        raise FailedPrecondition(
                            f"request_id {request_id} was used for another step of case {case_id}",
                            reason="REQUEST_ID_REUSED",
                            metadata={"case_id": case_id, "request_id": request_id},
                        )
                    assisting = [a.unit_code for a in store.get_assisting(conn, case_id=case_id)]
                    return views.case_to_proto(row, assisting=assisting), []
            domain.check_not_merged(row, case_id)
            origin.append(row.origin_traceparent)
            domain.check_allowed(row, transition)
            case = None
            done = []
            for s in plan(conn, row, now):
                case = domain.step(conn, case_id=case_id, s=s, now=now, traceparent=traceparent)
                done.append((s.transition, case))
            if request_id:
                store.record_request(
                    conn, request_id=request_id, case_id=case_id, transition=transition
                )
            assert case is not None
            return case, done

        case, done = await self.db.write(job)
        # This step belongs to the case's story: link it to the case's first trace.
        telemetry.link_to(trace.get_current_span(), origin[-1] if origin else None, case_id=case_id)
        if done:
            self.relay.kick()
            if self.on_deadline_change is not None:
                self.on_deadline_change()
            metrics.record_steps(done, now=now)
        return case


def _handler(name: str, rule: steps.StepRule) -> Callable[..., Awaitable[Message]]:
    async def handle(
        self: RoutingServicer, request: Any, context: grpc.aio.ServicerContext
    ) -> Message:
        return await self.step(rule, request)

    handle.__name__ = handle.__qualname__ = name
    return handle


for _name, _rule in steps.RULES.items():
    setattr(RoutingServicer, _name, _handler(_name, _rule))
