"""routing's gRPC servicer: the steps units, command centres and checkers take on a case,
work queues, and statistics.

Every step request is idempotent per (case, `request_id`): a retry returns the case as it
is now and writes nothing; a request id is scoped to its case. Who may do what is checked
from the request: a decision "by the level above" (approving or refusing an extension,
supervising, re-dispatching a returned case) is taken for the caller's own unit, from
their token (`authz.acting_unit`; `acting_unit_code` may be left empty), which must be a
district, street or community whose area holds the case and which stands above the
case's unit (`domain.check_above`). Every read and step first checks the case lies in the
caller's scope (`scope.py`); one outside it is NOT_FOUND.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from opentelemetry import trace
from sqlalchemy import Connection

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common import auth, authz, bus, paging, telemetry
from services.common.auth import principal_of
from services.common.blobs import BlobStore, check_upload, digest
from services.common.db import Database
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    Violations,
)
from services.common.interceptors import actor_var
from services.common.policy import Policy
from services.common.timeutil import from_ts, to_ts
from services.routing import (
    domain,
    final,
    locating,
    metrics,
    policy_view,
    ranking,
    scope,
    stats,
    store,
)
from services.routing.clock import Clock
from services.routing.config import RoutingSettings
from services.routing.directory import Directory, RegistryDown
from services.routing.events import first_target

S = res
# A work queue: the open cases, and (the district's) those waiting to be located by hand.
QUEUE_STATUSES = sorted(domain.OPEN | {S.CASE_STATUS_RECEIVED})
MAX_EXTENSION_HOURS = 400.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Plan = Callable[[Connection, Any, datetime], list[domain.Step]]


# Result photos per step (the request guard's size for ResolveCase assumes this many).
MAX_PHOTOS = 9


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
        _require_case_id(request.case_id)
        p, district = auth.current(), self.policy.district

        def load(conn: Connection) -> res.Case | None:
            row = store.get_case(conn, case_id=request.case_id)
            if row is None or not scope.visible(p, row, district=district):
                return None
            return domain.case_to_proto(
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
            cases=[domain.case_to_proto(r, assisting=assisting[r.id]) for r in page],
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

    # --- the unit's steps --------------------------------------------------------------

    async def AcceptCase(
        self, request: svc.AcceptCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.AcceptCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        _text(v, "note", request.note, required=False)
        v.raise_if_any()
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_ACCEPTED,
            lambda conn, row, now: [
                domain.Step(S.TRANSITION_ACCEPTED, actor, request.note.strip())
            ],
        )
        return svc.AcceptCaseResponse(case=case)

    async def ResolveCase(
        self, request: svc.ResolveCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.ResolveCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        result = request.result.strip()
        v.check(bool(result), "result", "is required: say what was done")
        v.check(
            len(request.result) <= self.settings.result_max_chars,
            "result",
            f"must be at most {self.settings.result_max_chars} characters",
        )
        v.check(len(request.photos) <= MAX_PHOTOS, "photos", f"at most {MAX_PHOTOS} photos")
        for i, p in enumerate(request.photos):
            check_upload(
                v,
                f"photos[{i}]",
                filename=p.filename,
                content_type=p.content_type,
                content=p.content,
                limit=self.settings.photo_max_bytes,
            )
        v.raise_if_any()
        photos = [
            {
                "filename": p.filename,
                "content_type": p.content_type,
                "sha256": digest(p.content),
                "size_bytes": len(p.content),
            }
            for p in request.photos
        ]
        actor = actor_var.get()
        acting = self._acting(request) if request.acting_unit_code.strip() else ""

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            assisting = [a.unit_code for a in store.get_assisting(conn, case_id=row.id)]
            return [
                domain.plan_resolve(
                    row,
                    actor=actor,
                    result=result,
                    photos=photos,
                    acting=acting,
                    assisting=assisting,
                )
            ]

        if request.photos and await self._would_step(
            request.case_id, request.request_id, S.TRANSITION_RESOLVED, plan
        ):
            # Files only once the step is known to go ahead; the transaction checks again,
            # and a file whose request then fails is the sweep's.
            await self.blobs.put_all([p.content for p in request.photos])
        case = await self._act(request.case_id, request.request_id, S.TRANSITION_RESOLVED, plan)
        return svc.ResolveCaseResponse(case=case)

    async def ReturnCase(
        self, request: svc.ReturnCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.ReturnCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        reason = _text(v, "reason", request.reason)
        v.raise_if_any()
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_RETURNED,
            lambda conn, row, now: [domain.plan_return(row, actor=actor, reason=reason)],
        )
        return svc.ReturnCaseResponse(case=case)

    async def EscalateCase(
        self, request: svc.EscalateCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.EscalateCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        reason = _text(v, "reason", request.reason)
        v.raise_if_any()
        row = await self._current(request.case_id, request.request_id)
        if row is None:  # a retry of a step already done, or the step will fail anyway
            target = None
        else:
            domain.check_allowed(row, S.TRANSITION_ESCALATED)
            up = domain.escalation_level(row, self.sla)
            default = self.sla.default_target(row, up)
            assisting = tuple((c, "") for c in request.assisting_unit_codes)
            if request.unit_code:
                domain.check_target(row, request.unit_code, up, field="unit_code")
            if request.unit_code and request.unit_code != default.unit_code:
                target = domain.Target(up, request.unit_code, "", assisting)
            else:  # the policy's unit for that level; the request may name its helpers
                target = dataclasses.replace(default, assisting=assisting or default.assisting)
            target = await self._named(target, "unit_code")
        actor = actor_var.get()

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            domain.check_allowed(row, S.TRANSITION_ESCALATED)
            up = domain.escalation_level(row, self.sla)
            if target is None or target.level != up:
                raise _changed(row.id)
            return [
                domain.plan_dispatch_to(
                    row,
                    sla=self.sla,
                    transition=S.TRANSITION_ESCALATED,
                    actor=actor,
                    note=f"上报 {target.unit_name}：{reason}",
                    target=target,
                    now=now,
                )
            ]

        case = await self._act(request.case_id, request.request_id, S.TRANSITION_ESCALATED, plan)
        return svc.EscalateCaseResponse(case=case)

    async def RequestExtension(
        self, request: svc.RequestExtensionRequest, context: grpc.aio.ServicerContext
    ) -> svc.RequestExtensionResponse:
        v = _step_violations(request.case_id, request.request_id)
        reason = _text(v, "reason", request.reason)
        if not (0 < request.hours <= MAX_EXTENSION_HOURS):
            v.add("hours", f"must be more than 0 and at most {MAX_EXTENSION_HOURS:g} working hours")
        v.raise_if_any()
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_EXTENSION_REQUESTED,
            lambda conn, row, now: [
                domain.plan_request_extension(row, actor=actor, hours=request.hours, reason=reason)
            ],
        )
        return svc.RequestExtensionResponse(case=case)

    async def ExplainCase(
        self, request: svc.ExplainCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.ExplainCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        explanation = _text(
            v, "explanation", request.explanation, limit=self.settings.result_max_chars
        )
        v.raise_if_any()
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_EXPLAINED,
            lambda conn, row, now: [domain.plan_explain(row, actor=actor, explanation=explanation)],
        )
        return svc.ExplainCaseResponse(case=case)

    # --- the checker's steps -----------------------------------------------------------

    async def CloseCase(
        self, request: svc.CloseCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.CloseCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        _text(v, "note", request.note, required=False)
        v.raise_if_any()
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_CLOSED,
            lambda conn, row, now: [
                domain.plan_close(row, actor=actor, note=request.note.strip(), now=now)
            ],
        )
        return svc.CloseCaseResponse(case=case)

    async def ReworkCase(
        self, request: svc.ReworkCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.ReworkCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        reason = _text(v, "reason", request.reason)
        v.raise_if_any()
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_REWORKED,
            lambda conn, row, now: [domain.plan_rework(row, actor=actor, reason=reason)],
        )
        return svc.ReworkCaseResponse(case=case)

    async def RateCase(
        self, request: svc.RateCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.RateCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        if request.satisfaction not in domain.RATING_NAMES:
            v.add("satisfaction", "must be SATISFIED, BASICALLY_SATISFIED or UNSATISFIED")
        _text(v, "note", request.note, required=False)
        v.raise_if_any()
        target = None
        row = await self._current(request.case_id, request.request_id)
        if row is not None and row.status == S.CASE_STATUS_CLOSED:
            target = await self._named(domain.reopen_target(row, self.sla), "case_id")
        actor = actor_var.get()

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            domain.check_allowed(row, S.TRANSITION_RATED)
            rated, reopen = domain.plan_rate(
                row,
                policy=self.policy,
                actor=actor,
                satisfaction=request.satisfaction,
                note=request.note.strip(),
                now=now,
            )
            if not reopen:
                return [rated]
            if target is None:
                raise _changed(row.id)
            return [
                rated,
                domain.plan_reopen(
                    row,
                    sla=self.sla,
                    target=target,
                    note=f"回访不满意，重新交办 {target.unit_name}",
                    now=now,
                ),
            ]

        case = await self._act(request.case_id, request.request_id, S.TRANSITION_RATED, plan)
        return svc.RateCaseResponse(case=case, reopened=case.status != S.CASE_STATUS_CLOSED)

    # --- the level above's steps -------------------------------------------------------

    async def VoidCase(
        self, request: svc.VoidCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.VoidCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        final.validate_void(request, v)
        _text(v, "reason", request.reason, limit=self.settings.result_max_chars)
        v.raise_if_any()
        case = await self._end(
            context,
            request,
            S.TRANSITION_VOIDED,
            lambda row, actor: final.plan_void(row, actor=actor, request=request),
        )
        return svc.VoidCaseResponse(case=case)

    async def TransferCase(
        self, request: svc.TransferCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.TransferCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        final.validate_transfer(request, v)
        _text(v, "reason", request.reason, limit=self.settings.result_max_chars)
        v.raise_if_any()
        case = await self._end(
            context,
            request,
            S.TRANSITION_TRANSFERRED,
            lambda row, actor: final.plan_transfer(row, actor=actor, request=request),
        )
        return svc.TransferCaseResponse(case=case)

    async def _end(
        self,
        context: grpc.aio.ServicerContext,
        request: svc.VoidCaseRequest | svc.TransferCaseRequest,
        transition: int,
        make: Callable[[Any, str], domain.Step],
    ) -> res.Case:
        """Void or transfer: the district platform's final steps."""
        acting, principal = self._acting(request), principal_of(context)
        actor = actor_var.get()

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            final.check_platform(
                row, acting=acting, district=self.policy.district, principal=principal
            )
            return [make(row, actor)]

        return await self._act(request.case_id, request.request_id, transition, plan)

    async def FileCase(
        self, request: svc.FileCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.FileCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        locating.validate(request, v)
        note = _text(v, "note", request.note, required=False)
        v.raise_if_any()
        field = "grid_code" if request.grid_code.strip() else "unit_code"
        chosen = (request.grid_code or request.unit_code).strip()
        acting, principal = self._acting(request), principal_of(context)
        row = await self._current(request.case_id, request.request_id)
        place = target = None
        if row is not None:
            domain.check_allowed(row, S.TRANSITION_FILED)
            locating.check_may_file(
                row, acting=acting, chosen=chosen, field=field, principal=principal
            )
            try:
                place = await locating.place_of(self.directory, chosen, field)
                if field == "grid_code":
                    target = await first_target(self.sla, self.directory, row.category, place)
                else:
                    category = self.sla.category(row.category)
                    named = await self._named(
                        domain.Target(domain.unit_level(chosen), chosen, ""), field
                    )
                    staff = await self.directory.staff_with_skill(chosen, category.skill)
                    target = dataclasses.replace(named, staff_id=staff)
            except RegistryDown as exc:
                raise Unavailable(
                    f"registry is not answering: {exc}", reason="REGISTRY_DOWN"
                ) from exc
        actor = actor_var.get()

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            domain.check_allowed(row, S.TRANSITION_FILED)
            locating.check_may_file(
                row, acting=acting, chosen=chosen, field=field, principal=principal
            )
            if place is None or target is None:
                raise _changed(row.id)
            return locating.plan_file(
                row, sla=self.sla, actor=actor, place=place, target=target, note=note, now=now
            )

        case = await self._act(request.case_id, request.request_id, S.TRANSITION_FILED, plan)
        return svc.FileCaseResponse(case=case)

    async def RedispatchCase(
        self, request: svc.RedispatchCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.RedispatchCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        v.check(bool(request.unit_code), "unit_code", "is required")
        _text(v, "note", request.note, required=False)
        level = domain.unit_level(request.unit_code)
        if request.unit_code and level == 0:
            v.add("unit_code", "must be a district, street, community or department code")
        for i, code in enumerate(request.assisting_unit_codes):
            if domain.unit_level(code) == 0:
                v.add(f"assisting_unit_codes[{i}]", "must be a unit or department code")
        v.raise_if_any()
        acting = self._acting(request)
        row = await self._current(request.case_id, request.request_id)
        target = None
        if row is not None:
            domain.check_allowed(row, S.TRANSITION_REDISPATCHED)
            domain.check_above(row, acting, what="re-dispatching")
            domain.check_target(row, request.unit_code, level, field="unit_code")
            if not request.unit_code.startswith(acting):
                raise InvalidArgument([("unit_code", f"must be {acting} or a unit below it")])
            target = await self._named(
                domain.Target(
                    level,
                    request.unit_code,
                    "",
                    tuple((c, "") for c in request.assisting_unit_codes),
                ),
                "unit_code",
            )
        actor = actor_var.get()

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            domain.check_allowed(row, S.TRANSITION_REDISPATCHED)
            domain.check_above(row, acting, what="re-dispatching")
            if target is None:
                raise _changed(row.id)
            return [
                domain.plan_dispatch_to(
                    row,
                    sla=self.sla,
                    transition=S.TRANSITION_REDISPATCHED,
                    actor=actor,
                    note=request.note.strip() or f"重新派单 {target.unit_name}",
                    target=target,
                    now=now,
                )
            ]

        case = await self._act(request.case_id, request.request_id, S.TRANSITION_REDISPATCHED, plan)
        return svc.RedispatchCaseResponse(case=case)

    async def ApproveExtension(
        self, request: svc.ApproveExtensionRequest, context: grpc.aio.ServicerContext
    ) -> svc.ApproveExtensionResponse:
        v = _step_violations(request.case_id, request.request_id)
        _text(v, "note", request.note, required=False)
        v.raise_if_any()
        acting = self._acting(request)
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_EXTENSION_APPROVED,
            lambda conn, row, now: [
                domain.plan_approve_extension(
                    row,
                    sla=self.sla,
                    actor=actor,
                    acting=acting,
                    note=request.note.strip(),
                    now=now,
                )
            ],
        )
        return svc.ApproveExtensionResponse(case=case)

    async def RefuseExtension(
        self, request: svc.RefuseExtensionRequest, context: grpc.aio.ServicerContext
    ) -> svc.RefuseExtensionResponse:
        v = _step_violations(request.case_id, request.request_id)
        reason = _text(v, "reason", request.reason)
        v.raise_if_any()
        acting = self._acting(request)
        actor = actor_var.get()
        case = await self._act(
            request.case_id,
            request.request_id,
            S.TRANSITION_EXTENSION_REFUSED,
            lambda conn, row, now: [
                domain.plan_refuse_extension(row, actor=actor, acting=acting, reason=reason)
            ],
        )
        return svc.RefuseExtensionResponse(case=case)

    async def SuperviseCase(
        self, request: svc.SuperviseCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.SuperviseCaseResponse:
        v = _step_violations(request.case_id, request.request_id)
        note = _text(v, "note", request.note)
        deadline = from_ts(request.deadline_time)
        if deadline is None:
            v.add("deadline_time", "is required: the new deadline")
        v.raise_if_any()
        acting = self._acting(request)
        assert deadline is not None
        actor = actor_var.get()

        def plan(conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
            if deadline <= now:
                raise InvalidArgument([("deadline_time", "must be in the future")])
            return [
                domain.plan_supervise(
                    row,
                    sla=self.sla,
                    actor=actor,
                    acting=acting,
                    note=note,
                    deadline=deadline,
                    now=now,
                )
            ]

        case = await self._act(request.case_id, request.request_id, S.TRANSITION_SUPERVISED, plan)
        return svc.SuperviseCaseResponse(case=case)

    # --- machinery ---------------------------------------------------------------------

    def _acting(self, request: Any) -> str:
        """The unit a decision is made for: the caller's own (see `authz.acting_unit`)."""
        return authz.acting_unit(auth.current(), request.acting_unit_code)

    async def _current(self, case_id: str, request_id: str) -> Any:
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

    async def _named(self, target: domain.Target, field: str) -> domain.Target:
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
            raise Unavailable(f"registry is not answering: {exc}", reason="REGISTRY_DOWN") from exc

    async def _would_step(self, case_id: str, request_id: str, transition: int, plan: Plan) -> bool:
        """The checks of `_act`, read-only: raises what `_act` would (not found, illegal
        transition, a plan's refusal); False for a retry of a request already applied."""
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
            plan(conn, row, now)
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
                    return domain.case_to_proto(row, assisting=assisting), []
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


def _changed(case_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"case {case_id} changed while this step was prepared; try again",
        reason="CONCURRENT_CHANGE",
    )


def _require_case_id(case_id: str, v: Violations | None = None) -> None:
    own = v is None
    v = v or Violations()
    v.check(bool(case_id), "case_id", "is required")
    v.check(len(case_id) <= 36, "case_id", "must be at most 36 characters")
    if own:
        v.raise_if_any()


def _step_violations(case_id: str, request_id: str) -> Violations:
    v = Violations()
    _require_case_id(case_id, v)
    v.check(len(request_id) <= 64, "request_id", "must be at most 64 characters")
    return v


def _text(
    v: Violations, field: str, value: str, *, required: bool = True, limit: int = 4000
) -> str:
    text = value.strip()
    if required and not text:
        v.add(field, "is required")
    if len(value) > limit:
        v.add(field, f"must be at most {limit} characters")
    return text
