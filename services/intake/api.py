"""intake's gRPC servicer."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.intake.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import auth, bus, paging, telemetry
from services.common.blobs import BlobStore, StoredBlob, digest
from services.common.db import Database
from services.common.errors import InvalidArgument, NotFound, PermissionDenied, Violations
from services.common.ids import uuid7
from services.common.policy import Policy
from services.common.timeutil import from_ts, utcnow
from services.intake import domain, metrics, privacy, scope, store, watch
from services.intake.config import IntakeSettings


class IntakeServicer(intake_service_pb2_grpc.IntakeServiceServicer):
    def __init__(
        self,
        *,
        settings: IntakeSettings,
        db: Database,
        relay: bus.OutboxRelay,
        policy: Policy,
        blobs: BlobStore,
    ) -> None:
        self.settings = settings
        self.db = db
        self.relay = relay
        self.policy = policy
        self.blobs = blobs

    async def _store_attachments(self, request: svc.SubmitCaseRequest) -> list[StoredBlob]:
        """The validated request's files, written only when it will create a case (a
        resubmission writes nothing; one that loses a race leaves files the sweep takes)."""
        if not request.attachments:
            return []
        ref = request.external_ref.strip()
        existing = await self.db.read(
            lambda c: store.find_by_ref(c, channel=request.channel, external_ref=ref)
        )
        if existing is not None:
            return [
                StoredBlob(digest(a.content), len(a.content), self.blobs.root)
                for a in request.attachments
            ]
        return await self.blobs.put_all([a.content for a in request.attachments])

    async def SubmitCase(
        self, request: svc.SubmitCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.SubmitCaseResponse:
        domain.validate_submission(request, policy=self.policy, settings=self.settings)
        scope.check_submit(auth.current(), request.channel)
        case_id = uuid7()
        now = utcnow()
        files = await self._store_attachments(request)
        has_point = request.location.HasField("point")
        row: dict[str, Any] = {
            "id": case_id,
            "channel": request.channel,
            "external_ref": request.external_ref.strip(),
            "reporter_name": request.reporter.name.strip(),
            "reporter_phone": request.reporter.phone.strip(),
            "reporter_staff_id": request.reporter.staff_id.strip(),
            "latitude": request.location.point.latitude if has_point else None,
            "longitude": request.location.point.longitude if has_point else None,
            "address": request.location.address.strip(),
            "category": request.category,
            "description": request.description.strip(),
            "status": routing_res.CASE_STATUS_RECEIVED,
            "grid_code": "",
            "assigned_unit_code": "",
            "assigned_unit_name": "",
            "level": 0,
            "deadline_time": None,
            "result": "",
            "filing_error": "",
            "version": 0,
            "created_at": now,
            "updated_at": now,
        }
        att_rows = [
            {
                "case_id": case_id,
                "id": f"a{i + 1}",
                "filename": a.filename,
                "content_type": a.content_type,
                "size_bytes": f.size,
                "sha256": f.sha256,
            }
            for i, (a, f) in enumerate(zip(request.attachments, files, strict=True))
        ]
        # The event carries the full case (unmasked): routing and notify need the phone.
        full = domain.case_to_proto(
            store.RowView(row), [store.RowView(a) for a in att_rows], unmasked=True
        )
        event = bus.staged(
            bus.new_event(
                "case.received",
                source=domain.SOURCE,
                case_id=case_id,
                case_received=event_pb2.CaseReceived(case=full),
            )
        )

        new_case = store.NewCase(row, att_rows, event)
        try:
            outcome = await self.db.write_batched(_submit_batch, new_case)
        except IntegrityError:
            # Another replica stored the same (channel, external_ref) at the same moment:
            # the unique index made this insert wait for its commit, then refused it. Once
            # more, the submission finds that case (the same content: it; other content:
            # ALREADY_EXISTS). A writer group of several jobs reruns each by itself; a group
            # of one does not, hence here.
            outcome = await self.db.write_batched(_submit_batch, new_case)
        if isinstance(outcome, Exception):
            raise outcome
        case_row, atts, created = outcome
        telemetry.label_case(case_row.id)
        if created:
            self.relay.kick()
            metrics.CASES_SUBMITTED.labels(
                domain.channel_label(request.channel), request.category
            ).inc()
        unmasked = _unmasked(context, "SubmitCase", [case_row.id])
        return svc.SubmitCaseResponse(
            case=domain.case_to_proto(case_row, atts, unmasked=unmasked), created=created
        )

    async def GetCase(
        self, request: svc.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetCaseResponse:
        if not request.case_id:
            raise InvalidArgument([("case_id", "is required")])
        p = auth.current()

        def load(conn: Connection) -> Any:
            row = store.get_case(conn, case_id=request.case_id)
            if row is None or not scope.visible(p, row):
                return None
            atts = store.get_attachments(conn, case_ids=[row.id])[row.id]
            return row, atts, store.get_timeline(conn, case_id=row.id)

        found = await self.db.read(load)
        if found is None:
            raise NotFound(
                f"case {request.case_id} not found", metadata={"case_id": request.case_id}
            )
        row, atts, timeline = found
        unmasked = _unmasked(context, "GetCase", [row.id])
        return svc.GetCaseResponse(
            case=domain.case_to_proto(row, atts, timeline, unmasked=unmasked)
        )

    async def ListCases(
        self, request: svc.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListCasesResponse:
        size = paging.page_size(request.page_size)
        after = paging.read_token(request.page_token, {"after": str})["after"]
        start, end = _period(request)
        channel, unit_code = scope.narrow(auth.current(), request.channel, request.unit_code)
        unmasked = privacy.may_read_reporters(auth.principal_of(context))

        def load(conn: Connection) -> tuple[list[Any], bool]:
            rows = store.list_cases(
                conn,
                channel=channel,
                status=request.status,
                unit_code=unit_code,
                after_id=after,
                limit=size + 1,
                category=request.category.strip(),
                start=start,
                end=end,
            )
            page = rows[:size]
            atts = store.get_attachments(conn, case_ids=[r.id for r in page])
            protos = [domain.case_to_proto(r, atts[r.id], unmasked=unmasked) for r in page]
            return protos, len(rows) > size

        cases, more = await self.db.read(load)
        if unmasked and cases:
            _unmasked(context, "ListCases", [c.id for c in cases])
        token = paging.encode_token({"after": cases[-1].id}) if more else ""
        return svc.ListCasesResponse(cases=cases, next_page_token=token)

    async def ListStatusChanges(
        self, request: svc.ListStatusChangesRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListStatusChangesResponse:
        v = Violations()
        v.check(
            request.channel in res.Channel.values(),
            "channel",
            f"must be one of {', '.join(res.Channel.keys()[1:])}, or unset for all",
        )
        try:
            start, end = _period(request)
        except InvalidArgument as exc:
            v.items.extend(exc.violations)
            start = end = None
        v.raise_if_any()
        p = auth.current()
        if p.kind == "staff" and not p.is_admin:
            raise PermissionDenied(
                "the status-change feed is for hotlines and the platform; staff list cases",
                reason="OUT_OF_JURISDICTION",
            )
        channel, _ = scope.narrow(p, request.channel, "")
        size = paging.page_size(request.page_size)
        after = paging.read_token(request.page_token, {"seq": int})["seq"]
        rows = await self.db.read(
            lambda conn: store.list_status_changes(
                conn, start=start, end=end, channel=channel, after_seq=after, limit=size + 1
            )
        )
        page = rows[:size]
        token = paging.encode_token({"seq": page[-1].seq}) if len(rows) > size else ""
        return svc.ListStatusChangesResponse(
            status_changes=[domain.change_to_proto(r) for r in page], next_page_token=token
        )

    @functools.cached_property
    def watcher(self) -> watch.CaseWatcher:
        """WatchCases' streams (services/intake/watch.py); app.py wakes them."""
        return watch.CaseWatcher(db=self.db)

    async def WatchCases(
        self, request: svc.WatchCasesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[svc.WatchCasesResponse]:
        channel, unit_code = scope.narrow(auth.current(), request.channel, request.unit_code)
        if (channel, unit_code) != (request.channel, request.unit_code):
            request = svc.WatchCasesRequest(
                channel=channel,
                unit_code=unit_code,
                cursor=request.cursor,
                from_now=request.from_now,
            )
        if request.from_now:
            watch.parse(request)  # every bad field before any effect
            cursor = watch.encode_cursor(await self.db.read(watch.head))
            await context.send_initial_metadata(((watch.CURSOR_KEY, cursor),))
            request = svc.WatchCasesRequest(
                channel=request.channel, unit_code=request.unit_code, cursor=cursor
            )
        p = auth.principal_of(context)
        unmasked = privacy.may_read_reporters(p)
        async for message in self.watcher.stream(request, unmasked=unmasked):
            if unmasked:
                privacy.log_full_read(p, "WatchCases", [message.case.id])
            yield message


def _unmasked(context: grpc.aio.ServicerContext, method: str, case_ids: list[str]) -> bool:
    """Whether the caller sees these cases' reporters in full; logs it when so."""
    p = auth.principal_of(context)
    if not privacy.may_read_reporters(p):
        return False
    privacy.log_full_read(p, method, case_ids)
    return True


def _period(
    request: svc.ListCasesRequest | svc.ListStatusChangesRequest,
) -> tuple[datetime | None, datetime | None]:
    """A request's start_time and end_time (either may be unset), checked."""
    start = from_ts(request.start_time) if request.HasField("start_time") else None
    end = from_ts(request.end_time) if request.HasField("end_time") else None
    if start is not None and end is not None and start >= end:
        raise InvalidArgument([("end_time", "must be after start_time")])
    return start, end


def _submit_batch(conn: Connection, items: list[store.NewCase]) -> list[Any]:
    """The writer hands every SubmitCase waiting in one group to this one call."""
    return store.submit_cases(conn, items=items)
