"""registry's gRPC servicer.

Who may see what is decided from the caller's `Principal` (services.common.auth):
- persons and households (person and building views, persons in search results) need a
  jurisdiction: without one they are refused (PERMISSION_DENIED, before any lookup); a
  person or building outside it answers exactly as one that does not exist (NOT_FOUND);
- full ID numbers and phones of persons need `pii:read`, a stated purpose and jurisdiction
  over every person shown;
- staff phones are masked unless the caller is a service or holds `pii:read` with a
  purpose (domain.may_read_staff_phones);
- every response that carries persons or full staff phones writes one access-log row per
  record (masked or full, granted or denied) before it is sent; a refused out-of-scope
  read is logged too (the caller only sees NOT_FOUND).
When the caller states a jurisdiction, units and search results outside it are refused or
left out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import registry_service_pb2_grpc
from lianxin.registry.v1 import resources_pb2 as res
from services.common import auth, paging, telemetry
from services.common.auth import Principal
from services.common.bus import OutboxRelay
from services.common.db import Database
from services.common.errors import InvalidArgument, NotFound, PermissionDenied, Violations
from services.common.interceptors import request_id_var
from services.common.timeutil import to_ts, utcnow
from services.registry import audit, domain, geocode, importer, metrics
from services.registry.cases import CaseDirectory
from services.registry.importer import vocabulary
from services.registry.store import coverage, records, search

PAGE_DEFAULT = 100
PAGE_MAX = 1000
SEARCH_DEFAULT = 20
SEARCH_MAX = 100
SEARCH_MAX_OFFSET = 10_000
PERSON_CASES = 20
GEOCODE_DEFAULT = 5
GEOCODE_MAX = 20
MAX_VIOLATIONS = 50
VIEW_NAMES = {res.PERSONAL_DATA_VIEW_MASKED: "masked", res.PERSONAL_DATA_VIEW_FULL: "full"}
LOCATED = metrics.LOCATE.labels("found")


def _page(requested: int, token: str) -> tuple[int, str]:
    size = paging.page_size(requested, default=PAGE_DEFAULT, maximum=PAGE_MAX)
    return size, paging.read_token(token, {"after": str})["after"]


def _next_token(keys: list[str], more: bool) -> str:
    return paging.encode_token({"after": keys[-1]}) if more and keys else ""


def _require(v: Violations, value: str, field: str, *, max_len: int = 64) -> None:
    v.check(bool(value), field, "is required")
    v.check(len(value) <= max_len, field, f"must be at most {max_len} characters")


def _within(p: Principal, code: str, what: str) -> None:
    """Refuse `what` (belonging to `code`) when the caller's jurisdiction does not hold it."""
    if p.jurisdiction is not None and not p.covers(code):
        raise PermissionDenied(
            f"{what} is outside your jurisdiction {p.jurisdiction}",
            reason="OUTSIDE_JURISDICTION",
            metadata={"jurisdiction": p.jurisdiction},
        )


def _need_jurisdiction(p: Principal, what: str) -> None:
    """Persons and households are shown only to a caller acting for a unit."""
    refusal = domain.person_data_refusal(p, what)
    if refusal:
        raise PermissionDenied(refusal, reason="NO_JURISDICTION")


def _person_not_found(person_id: str) -> NotFound:
    return NotFound(f"person {person_id} not found", metadata={"person_id": person_id})


def _building_not_found(code: str) -> NotFound:
    return NotFound(f"building {code} not found", metadata={"code": code})


class RegistryServicer(registry_service_pb2_grpc.RegistryServiceServicer):
    def __init__(
        self,
        *,
        db: Database,
        grid_map: domain.GridMap,
        relay: OutboxRelay | None = None,
        cases: CaseDirectory | None = None,
    ) -> None:
        self.db = db
        self.grid_map = grid_map
        self.relay = relay
        self.cases = cases or CaseDirectory(None, timeout=1.0)
        self._import_lock = asyncio.Lock()

    # --- the map ---------------------------------------------------------------------

    async def LocateGrid(
        self, request: svc.LocateGridRequest, context: grpc.aio.ServicerContext
    ) -> svc.LocateGridResponse:
        # The hot path (routing files every case through it): plain checks first, the
        # full validation with every violation only when they fail.
        loc = request.location
        lat, lon = loc.latitude, loc.longitude
        if not (request.HasField("location") and -90 <= lat <= 90 and -180 <= lon <= 180):
            lat, lon = domain.validate_locate(request)
        found = self.grid_map.locate(lat, lon)
        if found is not None:
            LOCATED.inc()
            return found
        metrics.LOCATE.labels("outside").inc()
        raise NotFound(
            f"point (latitude {lat}, longitude {lon}) is outside every grid",
            reason="OUTSIDE_ALL_GRIDS",
            metadata={"latitude": str(lat), "longitude": str(lon)},
        )

    async def GeocodeAddress(
        self, request: svc.GeocodeAddressRequest, context: grpc.aio.ServicerContext
    ) -> svc.GeocodeAddressResponse:
        v = Violations()
        said = geocode.normalize(request.address)
        v.check(bool(said), "address", "is required")
        v.check(len(request.address) <= 500, "address", "must be at most 500 characters")
        v.check(
            0 <= request.max_candidates <= GEOCODE_MAX,
            "max_candidates",
            f"must be between 0 and {GEOCODE_MAX}",
        )
        v.raise_if_any()
        limit = request.max_candidates or GEOCODE_DEFAULT
        found = await self.db.read(lambda conn: geocode.geocode(conn, address=said, limit=limit))
        return svc.GeocodeAddressResponse(
            candidates=[
                svc.AddressCandidate(
                    building=domain.building_to_proto(c.building),
                    confidence=round(c.confidence, 4),
                    exact=c.exact,
                )
                for c in found
            ]
        )

    async def GetUnit(
        self, request: svc.GetUnitRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetUnitResponse:
        if not request.code:
            raise InvalidArgument([("code", "is required")])
        row = await self.db.read(lambda conn: records.get_unit(conn, code=request.code))
        if row is None:
            raise NotFound(f"unit {request.code} not found", metadata={"code": request.code})
        return svc.GetUnitResponse(unit=domain.unit_to_proto(row))

    async def ListUnits(
        self, request: svc.ListUnitsRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListUnitsResponse:
        v = Violations()
        domain.check_enum(v, "level", request.level, res.UnitLevel)
        v.raise_if_any()
        size, after = _page(request.page_size, request.page_token)

        def load(conn: Connection) -> list[Any]:
            return records.list_units(
                conn,
                parent_code=request.parent_code,
                level=request.level,
                after_code=after,
                limit=size + 1,
            )

        rows = await self.db.read(load)
        units = [domain.unit_to_proto(r) for r in rows[:size]]
        return svc.ListUnitsResponse(
            units=units, next_page_token=_next_token([u.code for u in units], len(rows) > size)
        )

    async def ListStaff(
        self, request: svc.ListStaffRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListStaffResponse:
        v = Violations()
        domain.check_enum(v, "role", request.role, res.StaffRole)
        v.raise_if_any()
        size, after = _page(request.page_size, request.page_token)

        def load(conn: Connection) -> tuple[list[Any], dict[str, list[str]], bool]:
            rows = records.list_staff(
                conn,
                grid_code=request.grid_code,
                unit_code=request.unit_code,
                role=request.role,
                skill=request.skill,
                after_id=after,
                limit=size + 1,
            )
            page = rows[:size]
            grids = records.grids_of_staff(conn, staff_ids=[r.id for r in page])
            return page, grids, len(rows) > size

        rows, grids, more = await self.db.read(load)
        p = auth.principal_of(context)
        unmasked = domain.may_read_staff_phones(p)
        if unmasked and rows:
            await self._log(
                p,
                "ListStaff",
                "staff",
                [r.id for r in rows],
                res.PERSONAL_DATA_VIEW_FULL,
                res.ACCESS_OUTCOME_GRANTED,
            )
        staff = [domain.staff_to_proto(r, grids[r.id], unmasked=unmasked) for r in rows]
        return svc.ListStaffResponse(
            staff=staff, next_page_token=_next_token([s.id for s in staff], more)
        )

    async def ListDepartments(
        self, request: svc.ListDepartmentsRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListDepartmentsResponse:
        size, after = _page(request.page_size, request.page_token)
        rows = await self.db.read(
            lambda conn: records.list_departments(conn, after_code=after, limit=size + 1)
        )
        depts = [domain.department_to_proto(r) for r in rows[:size]]
        return svc.ListDepartmentsResponse(
            departments=depts,
            next_page_token=_next_token([d.code for d in depts], len(rows) > size),
        )

    # --- coverage and views ------------------------------------------------------------

    async def AuditCoverage(
        self, request: svc.AuditCoverageRequest, context: grpc.aio.ServicerContext
    ) -> svc.AuditCoverageResponse:
        v = Violations()
        _require(v, request.unit_code, "unit_code", max_len=32)
        domain.check_enum(v, "kind", request.kind, res.FindingKind)
        v.raise_if_any()
        size = paging.page_size(request.page_size, default=PAGE_DEFAULT, maximum=PAGE_MAX)
        token = paging.read_token(request.page_token, {"k": int, "s": str})
        after = (token["k"], token["s"])
        _within(auth.principal_of(context), request.unit_code, f"unit {request.unit_code}")
        start = time.perf_counter()

        def run(conn: Connection) -> audit.Audit | None:
            return audit.run(
                conn, unit_code=request.unit_code, kind=request.kind, after=after, limit=size + 1
            )

        found = await self.db.read(run)
        metrics.AUDIT_SECONDS.observe(time.perf_counter() - start)
        if found is None:
            raise NotFound(
                f"unit {request.unit_code} not found", metadata={"code": request.unit_code}
            )
        page = found.findings[:size]
        more = len(found.findings) > size
        return svc.AuditCoverageResponse(
            unit=domain.unit_to_proto(found.unit),
            counts=[res.FindingCount(kind=k, count=found.counts[k]) for k in audit.KINDS],
            unit_area_square_metres=round(found.unit_area_m2, 1),
            uncovered_area_square_metres=round(found.uncovered_area_m2, 1),
            overlap_area_square_metres=round(found.overlap_area_m2, 1),
            findings=page,
            next_page_token=(
                paging.encode_token({"k": page[-1].kind, "s": page[-1].subject})
                if more and page
                else ""
            ),
        )

    async def GetAreaSummary(
        self, request: svc.GetAreaSummaryRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetAreaSummaryResponse:
        v = Violations()
        _require(v, request.unit_code, "unit_code", max_len=32)
        v.raise_if_any()
        _within(auth.principal_of(context), request.unit_code, f"unit {request.unit_code}")
        tags = list(vocabulary.TAG_NAMES)

        def load(conn: Connection) -> tuple[Any, dict[str, Any]] | None:
            unit = records.get_unit(conn, code=request.unit_code)
            if unit is None:
                return None
            return unit, coverage.area_counts(conn, prefix=unit.code, tags=tags)

        found, cases = await asyncio.gather(
            self.db.read(load), self.cases.counts(request.unit_code)
        )
        if found is None:
            raise NotFound(
                f"unit {request.unit_code} not found", metadata={"code": request.unit_code}
            )
        unit, counts = found
        return svc.GetAreaSummaryResponse(
            unit=domain.unit_to_proto(unit),
            grids=counts["grids"],
            buildings=counts["buildings"],
            households=counts["households"],
            population=counts["population"],
            tag_counts=[res.TagCount(tag=t, count=counts["tags"][t]) for t in tags],
            cases=cases,
        )

    async def GetBuildingView(
        self, request: svc.GetBuildingViewRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetBuildingViewResponse:
        v = Violations()
        _require(v, request.code, "code")
        full = domain.wants_full(v, request.view)
        v.raise_if_any()
        p = auth.principal_of(context)
        _need_jurisdiction(p, "buildings' households and residents")

        def load(conn: Connection) -> tuple[Any, list[Any], dict[str, list[Any]]] | None:
            building = records.get_building(conn, code=request.code)
            if building is None:
                return None
            homes = records.households_of_building(conn, building_code=building.code)
            people = records.persons_of_households(conn, household_ids=[h.id for h in homes])
            return building, homes, people

        found = await self.db.read(load)
        if found is None:
            raise _building_not_found(request.code)
        building, homes, people = found
        residents = [r for h in homes for r in people[h.id]]
        if not p.covers(building.grid_code):
            await self._out_of_scope(p, "GetBuildingView", residents)
            raise _building_not_found(request.code)
        await self._check_full(p, "GetBuildingView", residents, full)
        today = date.today()
        out = svc.GetBuildingViewResponse(
            building=domain.building_to_proto(building, household_count=len(homes))
        )
        for h in homes:
            members = sorted(people[h.id], key=_household_order)
            out.households.add(
                household=domain.household_to_proto(
                    h, building_address=building.address, resident_count=len(members)
                ),
                residents=[domain.person_to_proto(m, full=full, today=today) for m in members],
            )
        return out

    async def GetPersonView(
        self, request: svc.GetPersonViewRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetPersonViewResponse:
        v = Violations()
        _require(v, request.person_id, "person_id", max_len=40)
        full = domain.wants_full(v, request.view)
        v.raise_if_any()
        p = auth.principal_of(context)
        _need_jurisdiction(p, "persons")

        def load(conn: Connection) -> tuple[Any, ...] | None:
            person = records.get_person(conn, person_id=request.person_id)
            if person is None:
                return None
            home = building = None
            members: list[Any] = []
            if person.household_id:
                home = records.get_household(conn, household_id=person.household_id)
                building = records.get_building(conn, code=home.building_code)
                members = records.persons_of_households(conn, household_ids=[home.id])[home.id]
            linked = records.cases_of_person(conn, person_id=person.id, limit=PERSON_CASES)
            return person, home, building, members, linked

        found = await self.db.read(load)
        if found is None:
            raise _person_not_found(request.person_id)
        person, home, building, members, linked = found
        if not p.covers(person.unit_code):
            await self._out_of_scope(p, "GetPersonView", [person])
            raise _person_not_found(request.person_id)
        others = sorted((m for m in members if m.id != person.id), key=_household_order)
        await self._check_full(p, "GetPersonView", [person, *others], full)
        today = date.today()
        out = svc.GetPersonViewResponse(
            person=domain.person_to_proto(person, full=full, today=today),
            household_members=[domain.person_to_proto(m, full=full, today=today) for m in others],
        )
        if home is not None and building is not None:
            out.household.CopyFrom(
                domain.household_to_proto(
                    home, building_address=building.address, resident_count=len(members)
                )
            )
            out.building.CopyFrom(domain.building_to_proto(building))
        statuses = await self.cases.statuses([c.case_id for c in linked]) if linked else {}
        out.case_status_available = statuses is not None
        for c in linked:
            status, overdue = (statuses or {}).get(c.case_id, (0, False))
            out.cases.add(
                case_id=c.case_id,
                category=c.category,
                receive_time=to_ts(c.received_at),
                status=status,
                overdue=overdue,
            )
        return out

    async def SearchRegistry(
        self, request: svc.SearchRegistryRequest, context: grpc.aio.ServicerContext
    ) -> svc.SearchRegistryResponse:
        query = " ".join(request.query.split())
        v = Violations()
        v.check(2 <= len(query) <= 100, "query", "must be 2 to 100 characters")
        tail = query.upper().replace(" ", "")
        is_tail = bool(query) and tail[:-1].isdigit() and (tail[-1].isdigit() or tail[-1] == "X")
        if is_tail:
            v.check(
                4 <= len(tail) <= 18,
                "query",
                "give 4 to 18 trailing digits of a phone or ID number",
            )
        size = paging.page_size(request.page_size, default=SEARCH_DEFAULT, maximum=SEARCH_MAX)
        try:
            token = paging.read_token(request.page_token, {"o": int, "q": str, "u": str})
        except InvalidArgument:
            token = {"o": -1, "q": query, "u": request.unit_code}
        if request.page_token and (token["q"] != query or token["u"] != request.unit_code):
            v.add("page_token", "belongs to another query")
        offset = token["o"]
        v.check(
            0 <= offset <= SEARCH_MAX_OFFSET, "page_token", "is not a token this service issued"
        )
        v.raise_if_any()
        p = auth.principal_of(context)
        # Without a jurisdiction: buildings only; a phone or ID tail finds nothing but persons.
        with_persons = not domain.person_data_refusal(p, "persons")
        if is_tail:
            _need_jurisdiction(p, "persons (a phone or ID-number search)")
        prefix = request.unit_code
        if p.jurisdiction is not None and not (p.is_admin or p.is_service):
            if prefix:
                _within(p, prefix, f"unit {prefix}")
            else:
                prefix = p.jurisdiction

        def load(
            conn: Connection,
        ) -> tuple[list[Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
            if is_tail:
                rows = search.search_tail(
                    conn, digits=tail, prefix=prefix, offset=offset, limit=size + 1
                )
                people = {r.id: r for r in rows}
                hits = [(search.SEARCH_PERSON, r.id, float(r.score)) for r in rows]
            else:
                rows = search.search_text(
                    conn,
                    query=query,
                    prefix=prefix,
                    offset=offset,
                    limit=size + 1,
                    with_persons=with_persons,
                )
                hits = [(r.kind, r.ref, float(r.score)) for r in rows]
                people = search.persons_by_id(
                    conn, ids=[ref for kind, ref, _ in hits if kind == search.SEARCH_PERSON]
                )
            places = records.buildings_by_code(
                conn, codes=[ref for kind, ref, _ in hits if kind == search.SEARCH_BUILDING]
            )
            homes = search.person_homes(conn, person_ids=list(people))
            return hits, people, places, homes

        hits, people, places, homes = await self.db.read(load)
        more = len(hits) > size
        hits = hits[:size]
        shown = [
            people[ref] for kind, ref, _ in hits if kind == search.SEARCH_PERSON and ref in people
        ]
        if shown:
            await self._log(
                p,
                "SearchRegistry",
                "person",
                [r.id for r in shown],
                res.PERSONAL_DATA_VIEW_MASKED,
                res.ACCESS_OUTCOME_GRANTED,
            )
        today = date.today()
        out = svc.SearchRegistryResponse()
        for i, (kind, ref, score) in enumerate(hits):
            rank = float(offset + i) + score / 10
            if kind == search.SEARCH_PERSON and ref in people:
                out.hits.add(
                    rank=rank,
                    person=domain.person_to_proto(people[ref], full=False, today=today),
                    address=domain.household_address(*homes[ref]) if ref in homes else "",
                )
            elif kind == search.SEARCH_BUILDING and ref in places:
                out.hits.add(rank=rank, building=domain.building_to_proto(places[ref]))
        if more:
            out.next_page_token = paging.encode_token(
                {"o": offset + size, "q": query, "u": request.unit_code}
            )
        return out

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

    # --- personal data -----------------------------------------------------------------

    async def _check_full(self, p: Principal, method: str, persons: list[Any], full: bool) -> None:
        """Log the read of `persons`; when the full view is asked and refused, log the
        refusal and raise PERMISSION_DENIED."""
        ids = [r.id for r in persons]
        view = res.PERSONAL_DATA_VIEW_FULL if full else res.PERSONAL_DATA_VIEW_MASKED
        refusal = domain.full_view_refusal(p, (r.unit_code for r in persons)) if full else ""
        outcome = res.ACCESS_OUTCOME_DENIED if refusal else res.ACCESS_OUTCOME_GRANTED
        if ids:
            await self._log(p, method, "person", ids, view, outcome, refusal)
        if refusal:
            raise PermissionDenied(refusal, reason="PERSONAL_DATA_REFUSED")

    async def _out_of_scope(self, p: Principal, method: str, persons: list[Any]) -> None:
        """Log a read refused because the records lie outside the caller's jurisdiction
        (the caller is told NOT_FOUND)."""
        if persons:
            await self._log(
                p,
                method,
                "person",
                [r.id for r in persons],
                res.PERSONAL_DATA_VIEW_MASKED,
                res.ACCESS_OUTCOME_DENIED,
                f"outside the caller's jurisdiction {p.jurisdiction}",
            )

    async def _log(
        self,
        p: Principal,
        method: str,
        kind: str,
        ids: Iterable[str],
        view: int,
        outcome: int,
        reason: str = "",
    ) -> None:
        """Append to the access log; returns once it is committed."""
        now = utcnow()
        rid = request_id_var.get()
        rows = [
            {
                "time": now,
                "actor": p.actor[:128],
                "purpose": p.purpose,
                "method": method,
                "subject_kind": kind,
                "subject_id": sid,
                "view": view,
                "outcome": outcome,
                "reason": reason[:300],
                "request_id": rid[:64],
            }
            for sid in ids
        ]
        await self.db.write(lambda conn: records.log_access(conn, rows))
        outcome_word = "granted" if outcome == res.ACCESS_OUTCOME_GRANTED else "denied"
        metrics.PII_READS.labels(p.actor_kind, VIEW_NAMES.get(view, "masked"), outcome_word).inc(
            len(rows)
        )


RELATION_ORDER = {"户主": 0, "配偶": 1, "子女": 2, "父母": 3}


def _household_order(row: Any) -> tuple[int, str, str]:
    return (RELATION_ORDER.get(row.relation, 9), row.name, row.id)
