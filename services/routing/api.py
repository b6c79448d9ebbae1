"""routing's gRPC servicer: the steps a unit or a checker takes on a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from lianxin.routing.v1 import routing_service_pb2_grpc
from services.common import bus, paging, telemetry
from services.common.blobs import BlobStore, check_upload
from services.common.db import Database
from services.common.errors import FailedPrecondition, NotFound, Violations
from services.common.interceptors import actor_var
from services.common.timeutil import utcnow
from services.routing import domain, metrics, store
from services.routing.config import RoutingSettings

OPEN_STATUSES = [res.CASE_STATUS_DISPATCHED, res.CASE_STATUS_IN_PROGRESS, res.CASE_STATUS_RESOLVED]


class RoutingServicer(routing_service_pb2_grpc.RoutingServiceServicer):
    def __init__(
        self, *, settings: RoutingSettings, db: Database, relay: bus.OutboxRelay, blobs: BlobStore
    ) -> None:
        self.settings = settings
        self.db = db
        self.relay = relay
        self.blobs = blobs

    async def GetCase(
        self, request: svc.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetCaseResponse:
        _require_case_id(request.case_id)

        def load(conn: Connection) -> res.Case | None:
            row = store.get_case(conn, case_id=request.case_id)
            if row is None:
                return None
            return domain.case_to_proto(row, store.get_history(conn, case_id=row.id))

        case = await self.db.read(load)
        if case is None:
            raise NotFound(
                f"case {request.case_id} not found", metadata={"case_id": request.case_id}
            )
        return svc.GetCaseResponse(case=case)

    async def AcceptCase(
        self, request: svc.AcceptCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.AcceptCaseResponse:
        _validate_step(request.case_id, request.request_id)
        case = await self._step(
            request.case_id,
            request.request_id,
            domain.Step(res.TRANSITION_ACCEPTED, actor_var.get(), request.note.strip()),
        )
        return svc.AcceptCaseResponse(case=case)

    async def ResolveCase(
        self, request: svc.ResolveCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.ResolveCaseResponse:
        v = Violations()
        _validate_step(request.case_id, request.request_id, v)
        result = request.result.strip()
        v.check(bool(result), "result", "is required: say what was done")
        v.check(
            len(request.result) <= self.settings.result_max_chars,
            "result",
            f"must be at most {self.settings.result_max_chars} characters",
        )
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
        photos = []
        for p in request.photos:
            blob = self.blobs.put(p.content)
            photos.append(
                {
                    "filename": p.filename,
                    "content_type": p.content_type,
                    "sha256": blob.sha256,
                    "size_bytes": blob.size,
                }
            )
        case = await self._step(
            request.case_id,
            request.request_id,
            domain.Step(
                res.TRANSITION_RESOLVED, actor_var.get(), result, {"result": result}, photos
            ),
        )
        return svc.ResolveCaseResponse(case=case)

    async def CloseCase(
        self, request: svc.CloseCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.CloseCaseResponse:
        _validate_step(request.case_id, request.request_id)
        case = await self._step(
            request.case_id,
            request.request_id,
            domain.Step(res.TRANSITION_CLOSED, actor_var.get(), request.note.strip()),
        )
        return svc.CloseCaseResponse(case=case)

    async def ListWorkQueue(
        self, request: svc.ListWorkQueueRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListWorkQueueResponse:
        v = Violations()
        v.check(bool(request.unit_code), "unit_code", "is required")
        if request.status and request.status not in OPEN_STATUSES:
            v.add("status", "must be an open status: DISPATCHED, IN_PROGRESS or RESOLVED")
        v.raise_if_any()
        size = paging.page_size(request.page_size)
        token = paging.decode_token(request.page_token)
        after = (datetime.fromisoformat(token["d"]), str(token["id"])) if token else None
        statuses = [request.status] if request.status else OPEN_STATUSES

        def load(conn: Connection) -> list[Any]:
            return store.work_queue(
                conn, unit_code=request.unit_code, statuses=statuses, after=after, limit=size + 1
            )

        rows = await self.db.read(load)
        page = rows[:size]
        next_token = ""
        if len(rows) > size:
            last = page[-1]
            next_token = paging.encode_token({"d": last.deadline_time.isoformat(), "id": last.id})
        return svc.ListWorkQueueResponse(
            cases=[domain.case_to_proto(r) for r in page], next_page_token=next_token
        )

    async def _step(self, case_id: str, request_id: str, s: domain.Step) -> res.Case:
        """Apply a step once per request id; a retry returns the case as it is now."""
        traceparent = telemetry.inject_headers().get("traceparent")
        now = utcnow()

        def job(conn: Connection) -> tuple[res.Case, bool]:
            if request_id:
                seen = store.seen_request(conn, request_id=request_id)
                if seen is not None:
                    if seen.case_id != case_id or seen.transition != s.transition:
                        raise FailedPrecondition(
                            f"request_id {request_id} was used for another request",
                            reason="REQUEST_ID_REUSED",
                        )
                    return domain.case_to_proto(store.get_case(conn, case_id=case_id)), False
            case = domain.step(conn, case_id=case_id, s=s, now=now, traceparent=traceparent)
            if request_id:
                store.record_request(
                    conn, request_id=request_id, case_id=case_id, transition=s.transition
                )
            return case, True

        case, changed = await self.db.write(job)
        if changed:
            self.relay.kick()
            metrics.TRANSITIONS.labels(
                domain.transition_name(s.transition), domain.level_name(case.level)
            ).inc()
        return case


def _require_case_id(case_id: str, v: Violations | None = None) -> None:
    own = v is None
    v = v or Violations()
    v.check(bool(case_id), "case_id", "is required")
    v.check(len(case_id) <= 36, "case_id", "must be at most 36 characters")
    if own:
        v.raise_if_any()


def _validate_step(case_id: str, request_id: str, v: Violations | None = None) -> None:
    own = v is None
    v = v or Violations()
    _require_case_id(case_id, v)
    v.check(len(request_id) <= 64, "request_id", "must be at most 64 characters")
    if own:
        v.raise_if_any()
