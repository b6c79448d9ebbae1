"""What routing asks registry: where a point lies, unit and department names, staff.

Asked outside any transaction. NOT_FOUND and INVALID_ARGUMENT are answers (None); any
other failure raises `RegistryDown`, which the event consumer turns into a retry and the
API into UNAVAILABLE. Unit and department names and the staff picked by skill are cached
(they change rarely): a registry event clears them (`registry_changed`), a TTL backs it up.
"""

from __future__ import annotations

import grpc

from lianxin.registry.v1 import registry_service_pb2 as reg
from lianxin.registry.v1 import registry_service_pb2_grpc, resources_pb2
from services.common.cache import TtlCache
from services.routing import domain

SERVICE_ACTOR: tuple[tuple[str, str], ...] = ()  # the channel adds this service's token
ANSWERS = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
STAFF_CACHE_SECONDS = 60.0


class RegistryDown(Exception):
    """registry did not answer; try again later."""


class Directory:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self.stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
        self.timeout = timeout
        self._departments: dict[str, str] = {}
        self._units: dict[str, str] = {}
        self._skilled: TtlCache[tuple[str, str], str] = TtlCache(STAFF_CACHE_SECONDS)

    def registry_changed(self) -> None:
        self._departments = {}
        self._units = {}
        self._skilled.clear()

    async def locate(
        self, latitude: float, longitude: float
    ) -> tuple[reg.LocateGridResponse | None, str]:
        """The grid holding a point with its community, street, district; or why not."""
        try:
            found = await self.stub.LocateGrid(
                reg.LocateGridRequest(
                    location=resources_pb2.LatLng(latitude=latitude, longitude=longitude)
                ),
                timeout=self.timeout,
                metadata=SERVICE_ACTOR,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in ANSWERS:
                return None, f"{exc.code().name}: {exc.details()}"
            raise RegistryDown(f"registry LocateGrid: {exc.code().name}") from exc
        return found, ""

    async def geocode(self, address: str) -> list[reg.AddressCandidate]:
        """The buildings an address may mean, best first (registry's GeocodeAddress)."""
        try:
            found = await self.stub.GeocodeAddress(
                reg.GeocodeAddressRequest(address=address),
                timeout=self.timeout,
                metadata=SERVICE_ACTOR,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in ANSWERS:
                return []
            raise RegistryDown(f"registry GeocodeAddress: {exc.code().name}") from exc
        return list(found.candidates)

    async def unit_name(self, code: str) -> str | None:
        """The name of a district, street, community or department; None if unknown."""
        if domain.is_department(code):
            if code not in self._departments:
                await self._load_departments()
            return self._departments.get(code)
        if code in self._units:
            return self._units[code]
        try:
            got = await self.stub.GetUnit(
                reg.GetUnitRequest(code=code), timeout=self.timeout, metadata=SERVICE_ACTOR
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in ANSWERS:
                return None
            raise RegistryDown(f"registry GetUnit: {exc.code().name}") from exc
        self._units[code] = got.unit.name
        return got.unit.name

    async def _load_departments(self) -> None:
        token = ""
        found: dict[str, str] = {}
        try:
            while True:
                page = await self.stub.ListDepartments(
                    reg.ListDepartmentsRequest(page_size=1000, page_token=token),
                    timeout=self.timeout,
                    metadata=SERVICE_ACTOR,
                )
                found.update({d.code: d.name for d in page.departments})
                token = page.next_page_token
                if not token:
                    break
        except grpc.aio.AioRpcError as exc:
            raise RegistryDown(f"registry ListDepartments: {exc.code().name}") from exc
        self._departments = found

    async def staff_with_skill(self, unit_code: str, skill: str) -> str:
        """The first staff member of a unit with a skill; "" when none (or no skill)."""
        if not skill:
            return ""
        return await self._skilled.get(
            (unit_code, skill), lambda: self._fetch_with_skill(unit_code, skill)
        )

    async def _fetch_with_skill(self, unit_code: str, skill: str) -> str:
        try:
            found = await self.stub.ListStaff(
                reg.ListStaffRequest(unit_code=unit_code, skill=skill, page_size=1),
                timeout=self.timeout,
                metadata=SERVICE_ACTOR,
            )
        except grpc.aio.AioRpcError as exc:
            raise RegistryDown(f"registry ListStaff: {exc.code().name}") from exc
        return found.staff[0].id if found.staff else ""

    async def named(self, target: domain.Target) -> domain.Target:
        """`target` with the names of its units filled in (the code when unknown)."""
        lead = target.unit_name or await self.unit_name(target.unit_code) or target.unit_code
        assisting = []
        for code, name in target.assisting:
            assisting.append((code, name or await self.unit_name(code) or code))
        return domain.Target(
            target.level, target.unit_code, lead, tuple(assisting), target.staff_id
        )
