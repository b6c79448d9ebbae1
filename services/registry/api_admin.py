"""ImportData and ListAccessLog: the RPCs that need a permission beyond reading
(registry:import, audit:read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from services.common import auth, paging, telemetry
from services.common.errors import InvalidArgument, PermissionDenied, Violations
from services.common.timeutil import to_ts, utcnow
from services.registry import domain, importer, metrics
from services.registry.api_base import MAX_VIOLATIONS, PAGE_DEFAULT, PAGE_MAX, Handlers
from services.registry.importer import vocabulary
from services.registry.store import records


class AdminHandlers(Handlers):
    # --- import ------------------------------------------------------------------------

    async def ImportData(
        self, request: svc.ImportDataRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[svc.ImportDataResponse]:
        p = auth.principal_of(context)
        if not p.has(auth.REGISTRY_IMPORT):
            raise PermissionDenied(
                f"the {auth.REGISTRY_IMPORT} permission is required to import",
                reason="MISSING_PERMISSION",
                metadata={"permission": auth.REGISTRY_IMPORT},
            )
        v = Violations()
        domain.check_enum(v, "kind", request.kind, res.ImportKind)
        domain.check_enum(v, "format", request.format, res.ImportFormat)
        v.check(len(request.file_name) <= 300, "file_name", "must be at most 300 characters")
        v.raise_if_any()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, int, int]] = asyncio.Queue()

        def progress(stage: str, done: int, total: int) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (stage, done, total))

        traceparent = telemetry.inject_headers().get("traceparent")

        async def work() -> importer.Outcome:
            batch = await asyncio.to_thread(
                importer.read,
                kind=request.kind,
                fmt=request.format,
                file_name=request.file_name,
                content=request.content,
                progress=progress,
            )
            async with self._import_lock:  # one import at a time keeps reports exact
                return await self.db.write(
                    lambda conn: importer.apply(
                        conn,
                        batch,
                        actor=p.actor,
                        allow_partial=request.allow_partial,
                        validate_only=request.validate_only,
                        progress=progress,
                        now=utcnow(),
                        traceparent=traceparent,
                    )
                )

        task = asyncio.ensure_future(work())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    stage, done, total = getter.result()
                    yield svc.ImportDataResponse(
                        progress=res.ImportProgress(stage=stage, done=done, total=total)
                    )
                    continue
                getter.cancel()
                break
            while not queue.empty():
                stage, done, total = queue.get_nowait()
                yield svc.ImportDataResponse(
                    progress=res.ImportProgress(stage=stage, done=done, total=total)
                )
        finally:
            if not task.done():
                task.cancel()
        outcome = task.result()
        report = outcome.report
        if outcome.grid_map is not None:
            self.grid_map = outcome.grid_map
            for word, level in domain.LEVELS.items():
                metrics.UNITS.labels(word).set(self.grid_map.count(level))
        if outcome.staged and self.relay is not None:
            self.relay.kick()
        kind = vocabulary.KIND_WORDS[report.kind]
        for name in ("inserted", "updated", "unchanged"):
            metrics.IMPORTED_ROWS.labels(kind, name).inc(getattr(report, name))
        metrics.IMPORTED_ROWS.labels(kind, "rejected").inc(report.rejected_count)
        yield svc.ImportDataResponse(report=report)
        if report.rejected_count and not report.written and not request.validate_only:
            where = (
                "features"
                if report.kind in (res.IMPORT_KIND_UNITS, res.IMPORT_KIND_BUILDINGS)
                else "rows"
            )
            raise InvalidArgument(
                [
                    (f"{where}[{r.row}].{pr.field}", pr.description)
                    for r in report.rejected
                    for pr in r.problems
                ][:MAX_VIOLATIONS],
                reason="ROWS_REJECTED",
            )

    # --- the access log ----------------------------------------------------------------

    async def ListAccessLog(
        self, request: svc.ListAccessLogRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListAccessLogResponse:
        p = auth.principal_of(context)
        if not p.has(auth.AUDIT_READ):
            raise PermissionDenied(
                f"the {auth.AUDIT_READ} permission is required to read the access log",
                reason="MISSING_PERMISSION",
                metadata={"permission": auth.AUDIT_READ},
            )
        size = paging.page_size(request.page_size, default=PAGE_DEFAULT, maximum=PAGE_MAX)
        before = paging.read_token(request.page_token, {"before": int})["before"] or None
        rows = await self.db.read(
            lambda conn: records.list_access(
                conn,
                subject_id=request.subject_id,
                actor=request.actor,
                before_id=before,
                limit=size + 1,
            )
        )
        entries = [
            res.AccessLogEntry(
                id=r.id,
                time=to_ts(r.time),
                actor=r.actor,
                purpose=r.purpose,
                method=r.method,
                subject_kind=r.subject_kind,
                subject_id=r.subject_id,
                view=r.view,
                outcome=r.outcome,
                reason=r.reason,
                request_id=r.request_id,
            )
            for r in rows[:size]
        ]
        return svc.ListAccessLogResponse(
            entries=entries,
            next_page_token=(
                paging.encode_token({"before": entries[-1].id})
                if len(rows) > size and entries
                else ""
            ),
        )
