"""registry's coverage audit, area summary, building and person views, and search
(the RPCs that show persons)."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from services.common import auth, paging
from services.common.errors import InvalidArgument, NotFound, Violations
from services.common.timeutil import to_ts
from services.registry import audit, domain, metrics
from services.registry.api_base import (
    PAGE_DEFAULT,
    PAGE_MAX,
    PERSON_CASES,
    SEARCH_DEFAULT,
    SEARCH_MAX,
    SEARCH_MAX_OFFSET,
    Handlers,
    _building_not_found,
    _need_jurisdiction,
    _person_not_found,
    _require,
    _within,
)
from services.registry.importer import vocabulary
from services.registry.store import coverage, records, search


class ViewHandlers(Handlers):
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


RELATION_ORDER = {"户主": 0, "配偶": 1, "子女": 2, "父母": 3}


def _household_order(row: Any) -> tuple[int, str, str]:
    return (RELATION_ORDER.get(row.relation, 9), row.name, row.id)
