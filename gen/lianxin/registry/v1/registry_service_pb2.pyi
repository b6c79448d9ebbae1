from lianxin.registry.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LocateGridRequest(_message.Message):
    __slots__ = ("location",)
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    location: _resources_pb2.LatLng
    def __init__(self, location: _Optional[_Union[_resources_pb2.LatLng, _Mapping]] = ...) -> None: ...

class LocateGridResponse(_message.Message):
    __slots__ = ("grid", "community", "street", "district")
    GRID_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    grid: _resources_pb2.Unit
    community: _resources_pb2.Unit
    street: _resources_pb2.Unit
    district: _resources_pb2.Unit
    def __init__(self, grid: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ..., community: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ..., street: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ..., district: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ...) -> None: ...

class GeocodeAddressRequest(_message.Message):
    __slots__ = ("address", "max_candidates")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAX_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    address: str
    max_candidates: int
    def __init__(self, address: _Optional[str] = ..., max_candidates: _Optional[int] = ...) -> None: ...

class AddressCandidate(_message.Message):
    __slots__ = ("building", "confidence", "exact")
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    building: _resources_pb2.Building
    confidence: float
    exact: bool
    def __init__(self, building: _Optional[_Union[_resources_pb2.Building, _Mapping]] = ..., confidence: _Optional[float] = ..., exact: _Optional[bool] = ...) -> None: ...

class GeocodeAddressResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[AddressCandidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[AddressCandidate, _Mapping]]] = ...) -> None: ...

class GetUnitRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetUnitResponse(_message.Message):
    __slots__ = ("unit",)
    UNIT_FIELD_NUMBER: _ClassVar[int]
    unit: _resources_pb2.Unit
    def __init__(self, unit: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ...) -> None: ...

class ListUnitsRequest(_message.Message):
    __slots__ = ("parent_code", "level", "page_size", "page_token")
    PARENT_CODE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_code: str
    level: _resources_pb2.UnitLevel
    page_size: int
    page_token: str
    def __init__(self, parent_code: _Optional[str] = ..., level: _Optional[_Union[_resources_pb2.UnitLevel, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUnitsResponse(_message.Message):
    __slots__ = ("units", "next_page_token")
    UNITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    units: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Unit]
    next_page_token: str
    def __init__(self, units: _Optional[_Iterable[_Union[_resources_pb2.Unit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListStaffRequest(_message.Message):
    __slots__ = ("grid_code", "unit_code", "role", "skill", "page_size", "page_token")
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grid_code: str
    unit_code: str
    role: _resources_pb2.StaffRole
    skill: str
    page_size: int
    page_token: str
    def __init__(self, grid_code: _Optional[str] = ..., unit_code: _Optional[str] = ..., role: _Optional[_Union[_resources_pb2.StaffRole, str]] = ..., skill: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStaffResponse(_message.Message):
    __slots__ = ("staff", "next_page_token")
    STAFF_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    staff: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Staff]
    next_page_token: str
    def __init__(self, staff: _Optional[_Iterable[_Union[_resources_pb2.Staff, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDepartmentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDepartmentsResponse(_message.Message):
    __slots__ = ("departments", "next_page_token")
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    departments: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Department]
    next_page_token: str
    def __init__(self, departments: _Optional[_Iterable[_Union[_resources_pb2.Department, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AuditCoverageRequest(_message.Message):
    __slots__ = ("unit_code", "kind", "page_size", "page_token")
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    unit_code: str
    kind: _resources_pb2.FindingKind
    page_size: int
    page_token: str
    def __init__(self, unit_code: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.FindingKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AuditCoverageResponse(_message.Message):
    __slots__ = ("unit", "counts", "unit_area_square_metres", "uncovered_area_square_metres", "overlap_area_square_metres", "findings", "next_page_token")
    UNIT_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    UNIT_AREA_SQUARE_METRES_FIELD_NUMBER: _ClassVar[int]
    UNCOVERED_AREA_SQUARE_METRES_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_AREA_SQUARE_METRES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    unit: _resources_pb2.Unit
    counts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.FindingCount]
    unit_area_square_metres: float
    uncovered_area_square_metres: float
    overlap_area_square_metres: float
    findings: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Finding]
    next_page_token: str
    def __init__(self, unit: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ..., counts: _Optional[_Iterable[_Union[_resources_pb2.FindingCount, _Mapping]]] = ..., unit_area_square_metres: _Optional[float] = ..., uncovered_area_square_metres: _Optional[float] = ..., overlap_area_square_metres: _Optional[float] = ..., findings: _Optional[_Iterable[_Union[_resources_pb2.Finding, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAreaSummaryRequest(_message.Message):
    __slots__ = ("unit_code",)
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    unit_code: str
    def __init__(self, unit_code: _Optional[str] = ...) -> None: ...

class GetAreaSummaryResponse(_message.Message):
    __slots__ = ("unit", "grids", "buildings", "households", "population", "tag_counts", "cases")
    UNIT_FIELD_NUMBER: _ClassVar[int]
    GRIDS_FIELD_NUMBER: _ClassVar[int]
    BUILDINGS_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLDS_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    TAG_COUNTS_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    unit: _resources_pb2.Unit
    grids: int
    buildings: int
    households: int
    population: int
    tag_counts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.TagCount]
    cases: _resources_pb2.CaseCounts
    def __init__(self, unit: _Optional[_Union[_resources_pb2.Unit, _Mapping]] = ..., grids: _Optional[int] = ..., buildings: _Optional[int] = ..., households: _Optional[int] = ..., population: _Optional[int] = ..., tag_counts: _Optional[_Iterable[_Union[_resources_pb2.TagCount, _Mapping]]] = ..., cases: _Optional[_Union[_resources_pb2.CaseCounts, _Mapping]] = ...) -> None: ...

class GetBuildingViewRequest(_message.Message):
    __slots__ = ("code", "view")
    CODE_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    code: str
    view: _resources_pb2.PersonalDataView
    def __init__(self, code: _Optional[str] = ..., view: _Optional[_Union[_resources_pb2.PersonalDataView, str]] = ...) -> None: ...

class HouseholdView(_message.Message):
    __slots__ = ("household", "residents")
    HOUSEHOLD_FIELD_NUMBER: _ClassVar[int]
    RESIDENTS_FIELD_NUMBER: _ClassVar[int]
    household: _resources_pb2.Household
    residents: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Person]
    def __init__(self, household: _Optional[_Union[_resources_pb2.Household, _Mapping]] = ..., residents: _Optional[_Iterable[_Union[_resources_pb2.Person, _Mapping]]] = ...) -> None: ...

class GetBuildingViewResponse(_message.Message):
    __slots__ = ("building", "households")
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLDS_FIELD_NUMBER: _ClassVar[int]
    building: _resources_pb2.Building
    households: _containers.RepeatedCompositeFieldContainer[HouseholdView]
    def __init__(self, building: _Optional[_Union[_resources_pb2.Building, _Mapping]] = ..., households: _Optional[_Iterable[_Union[HouseholdView, _Mapping]]] = ...) -> None: ...

class GetPersonViewRequest(_message.Message):
    __slots__ = ("person_id", "view")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    view: _resources_pb2.PersonalDataView
    def __init__(self, person_id: _Optional[str] = ..., view: _Optional[_Union[_resources_pb2.PersonalDataView, str]] = ...) -> None: ...

class GetPersonViewResponse(_message.Message):
    __slots__ = ("person", "household", "building", "household_members", "cases", "case_status_available")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    CASE_STATUS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    person: _resources_pb2.Person
    household: _resources_pb2.Household
    building: _resources_pb2.Building
    household_members: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Person]
    cases: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PersonCase]
    case_status_available: bool
    def __init__(self, person: _Optional[_Union[_resources_pb2.Person, _Mapping]] = ..., household: _Optional[_Union[_resources_pb2.Household, _Mapping]] = ..., building: _Optional[_Union[_resources_pb2.Building, _Mapping]] = ..., household_members: _Optional[_Iterable[_Union[_resources_pb2.Person, _Mapping]]] = ..., cases: _Optional[_Iterable[_Union[_resources_pb2.PersonCase, _Mapping]]] = ..., case_status_available: _Optional[bool] = ...) -> None: ...

class SearchRegistryRequest(_message.Message):
    __slots__ = ("query", "unit_code", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: str
    unit_code: str
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[str] = ..., unit_code: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("rank", "person", "building", "address")
    RANK_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    rank: float
    person: _resources_pb2.Person
    building: _resources_pb2.Building
    address: str
    def __init__(self, rank: _Optional[float] = ..., person: _Optional[_Union[_resources_pb2.Person, _Mapping]] = ..., building: _Optional[_Union[_resources_pb2.Building, _Mapping]] = ..., address: _Optional[str] = ...) -> None: ...

class SearchRegistryResponse(_message.Message):
    __slots__ = ("hits", "next_page_token")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    next_page_token: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ImportDataRequest(_message.Message):
    __slots__ = ("kind", "format", "file_name", "content", "allow_partial", "validate_only")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    kind: _resources_pb2.ImportKind
    format: _resources_pb2.ImportFormat
    file_name: str
    content: bytes
    allow_partial: bool
    validate_only: bool
    def __init__(self, kind: _Optional[_Union[_resources_pb2.ImportKind, str]] = ..., format: _Optional[_Union[_resources_pb2.ImportFormat, str]] = ..., file_name: _Optional[str] = ..., content: _Optional[bytes] = ..., allow_partial: _Optional[bool] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ImportDataResponse(_message.Message):
    __slots__ = ("progress", "report")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    progress: _resources_pb2.ImportProgress
    report: _resources_pb2.ImportReport
    def __init__(self, progress: _Optional[_Union[_resources_pb2.ImportProgress, _Mapping]] = ..., report: _Optional[_Union[_resources_pb2.ImportReport, _Mapping]] = ...) -> None: ...

class ListAccessLogRequest(_message.Message):
    __slots__ = ("subject_id", "actor", "page_size", "page_token")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    actor: str
    page_size: int
    page_token: str
    def __init__(self, subject_id: _Optional[str] = ..., actor: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccessLogResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_resources_pb2.AccessLogEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_resources_pb2.AccessLogEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
