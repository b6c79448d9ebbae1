import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianxin.routing.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnitLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNIT_LEVEL_UNSPECIFIED: _ClassVar[UnitLevel]
    UNIT_LEVEL_DISTRICT: _ClassVar[UnitLevel]
    UNIT_LEVEL_STREET: _ClassVar[UnitLevel]
    UNIT_LEVEL_COMMUNITY: _ClassVar[UnitLevel]
    UNIT_LEVEL_GRID: _ClassVar[UnitLevel]

class StaffRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAFF_ROLE_UNSPECIFIED: _ClassVar[StaffRole]
    STAFF_ROLE_GRID_MANAGER: _ClassVar[StaffRole]
    STAFF_ROLE_GRID_ASSISTANT: _ClassVar[StaffRole]
    STAFF_ROLE_UNIT_STAFF: _ClassVar[StaffRole]
    STAFF_ROLE_DEPARTMENT_STAFF: _ClassVar[StaffRole]
    STAFF_ROLE_COMMAND_CENTRE: _ClassVar[StaffRole]

class PersonTag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERSON_TAG_UNSPECIFIED: _ClassVar[PersonTag]
    PERSON_TAG_ELDERLY_LIVING_ALONE: _ClassVar[PersonTag]
    PERSON_TAG_DISABLED: _ClassVar[PersonTag]
    PERSON_TAG_UNEMPLOYED: _ClassVar[PersonTag]
    PERSON_TAG_RETIRED: _ClassVar[PersonTag]
    PERSON_TAG_LOW_INCOME: _ClassVar[PersonTag]
    PERSON_TAG_JOB_SEEKER: _ClassVar[PersonTag]
    PERSON_TAG_MIGRANT_WORKER: _ClassVar[PersonTag]

class PersonalDataView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERSONAL_DATA_VIEW_UNSPECIFIED: _ClassVar[PersonalDataView]
    PERSONAL_DATA_VIEW_MASKED: _ClassVar[PersonalDataView]
    PERSONAL_DATA_VIEW_FULL: _ClassVar[PersonalDataView]

class FindingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_KIND_UNSPECIFIED: _ClassVar[FindingKind]
    FINDING_KIND_UNCOVERED_LAND: _ClassVar[FindingKind]
    FINDING_KIND_OVERLAPPING_GRIDS: _ClassVar[FindingKind]
    FINDING_KIND_BUILDING_OUTSIDE_GRIDS: _ClassVar[FindingKind]
    FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD: _ClassVar[FindingKind]
    FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON: _ClassVar[FindingKind]
    FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD: _ClassVar[FindingKind]

class ImportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_KIND_UNSPECIFIED: _ClassVar[ImportKind]
    IMPORT_KIND_UNITS: _ClassVar[ImportKind]
    IMPORT_KIND_BUILDINGS: _ClassVar[ImportKind]
    IMPORT_KIND_HOUSEHOLDS: _ClassVar[ImportKind]
    IMPORT_KIND_PERSONS: _ClassVar[ImportKind]

class ImportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_FORMAT_UNSPECIFIED: _ClassVar[ImportFormat]
    IMPORT_FORMAT_GEOJSON: _ClassVar[ImportFormat]
    IMPORT_FORMAT_CSV: _ClassVar[ImportFormat]
    IMPORT_FORMAT_XLSX: _ClassVar[ImportFormat]

class AccessOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_OUTCOME_UNSPECIFIED: _ClassVar[AccessOutcome]
    ACCESS_OUTCOME_GRANTED: _ClassVar[AccessOutcome]
    ACCESS_OUTCOME_DENIED: _ClassVar[AccessOutcome]
UNIT_LEVEL_UNSPECIFIED: UnitLevel
UNIT_LEVEL_DISTRICT: UnitLevel
UNIT_LEVEL_STREET: UnitLevel
UNIT_LEVEL_COMMUNITY: UnitLevel
UNIT_LEVEL_GRID: UnitLevel
STAFF_ROLE_UNSPECIFIED: StaffRole
STAFF_ROLE_GRID_MANAGER: StaffRole
STAFF_ROLE_GRID_ASSISTANT: StaffRole
STAFF_ROLE_UNIT_STAFF: StaffRole
STAFF_ROLE_DEPARTMENT_STAFF: StaffRole
STAFF_ROLE_COMMAND_CENTRE: StaffRole
PERSON_TAG_UNSPECIFIED: PersonTag
PERSON_TAG_ELDERLY_LIVING_ALONE: PersonTag
PERSON_TAG_DISABLED: PersonTag
PERSON_TAG_UNEMPLOYED: PersonTag
PERSON_TAG_RETIRED: PersonTag
PERSON_TAG_LOW_INCOME: PersonTag
PERSON_TAG_JOB_SEEKER: PersonTag
PERSON_TAG_MIGRANT_WORKER: PersonTag
PERSONAL_DATA_VIEW_UNSPECIFIED: PersonalDataView
PERSONAL_DATA_VIEW_MASKED: PersonalDataView
PERSONAL_DATA_VIEW_FULL: PersonalDataView
FINDING_KIND_UNSPECIFIED: FindingKind
FINDING_KIND_UNCOVERED_LAND: FindingKind
FINDING_KIND_OVERLAPPING_GRIDS: FindingKind
FINDING_KIND_BUILDING_OUTSIDE_GRIDS: FindingKind
FINDING_KIND_BUILDING_WITHOUT_HOUSEHOLD: FindingKind
FINDING_KIND_HOUSEHOLD_WITHOUT_PERSON: FindingKind
FINDING_KIND_PERSON_WITHOUT_HOUSEHOLD: FindingKind
IMPORT_KIND_UNSPECIFIED: ImportKind
IMPORT_KIND_UNITS: ImportKind
IMPORT_KIND_BUILDINGS: ImportKind
IMPORT_KIND_HOUSEHOLDS: ImportKind
IMPORT_KIND_PERSONS: ImportKind
IMPORT_FORMAT_UNSPECIFIED: ImportFormat
IMPORT_FORMAT_GEOJSON: ImportFormat
IMPORT_FORMAT_CSV: ImportFormat
IMPORT_FORMAT_XLSX: ImportFormat
ACCESS_OUTCOME_UNSPECIFIED: AccessOutcome
ACCESS_OUTCOME_GRANTED: AccessOutcome
ACCESS_OUTCOME_DENIED: AccessOutcome

class LatLng(_message.Message):
    __slots__ = ("latitude", "longitude")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ...) -> None: ...

class Unit(_message.Message):
    __slots__ = ("code", "name", "level", "type_name", "parent_code", "boundary_geojson", "centroid")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_CODE_FIELD_NUMBER: _ClassVar[int]
    BOUNDARY_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    CENTROID_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    level: UnitLevel
    type_name: str
    parent_code: str
    boundary_geojson: str
    centroid: LatLng
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., level: _Optional[_Union[UnitLevel, str]] = ..., type_name: _Optional[str] = ..., parent_code: _Optional[str] = ..., boundary_geojson: _Optional[str] = ..., centroid: _Optional[_Union[LatLng, _Mapping]] = ...) -> None: ...

class Staff(_message.Message):
    __slots__ = ("id", "name", "role", "phone", "unit_code", "grid_codes", "skills")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    GRID_CODES_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: StaffRole
    phone: str
    unit_code: str
    grid_codes: _containers.RepeatedScalarFieldContainer[str]
    skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[StaffRole, str]] = ..., phone: _Optional[str] = ..., unit_code: _Optional[str] = ..., grid_codes: _Optional[_Iterable[str]] = ..., skills: _Optional[_Iterable[str]] = ...) -> None: ...

class Department(_message.Message):
    __slots__ = ("code", "name", "district_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    district_code: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., district_code: _Optional[str] = ...) -> None: ...

class Building(_message.Message):
    __slots__ = ("code", "name", "address", "location", "footprint_geojson", "grid_code", "household_count")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    FOOTPRINT_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_COUNT_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    address: str
    location: LatLng
    footprint_geojson: str
    grid_code: str
    household_count: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., address: _Optional[str] = ..., location: _Optional[_Union[LatLng, _Mapping]] = ..., footprint_geojson: _Optional[str] = ..., grid_code: _Optional[str] = ..., household_count: _Optional[int] = ...) -> None: ...

class Household(_message.Message):
    __slots__ = ("id", "building_code", "unit_number", "room", "head_name", "grid_code", "address", "resident_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    BUILDING_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    HEAD_NAME_FIELD_NUMBER: _ClassVar[int]
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    building_code: str
    unit_number: str
    room: str
    head_name: str
    grid_code: str
    address: str
    resident_count: int
    def __init__(self, id: _Optional[str] = ..., building_code: _Optional[str] = ..., unit_number: _Optional[str] = ..., room: _Optional[str] = ..., head_name: _Optional[str] = ..., grid_code: _Optional[str] = ..., address: _Optional[str] = ..., resident_count: _Optional[int] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("id", "name", "id_number", "phone", "gender", "age", "birth_date", "household_id", "relation", "unit_code", "tags")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    id_number: str
    phone: str
    gender: str
    age: int
    birth_date: str
    household_id: str
    relation: str
    unit_code: str
    tags: _containers.RepeatedScalarFieldContainer[PersonTag]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., id_number: _Optional[str] = ..., phone: _Optional[str] = ..., gender: _Optional[str] = ..., age: _Optional[int] = ..., birth_date: _Optional[str] = ..., household_id: _Optional[str] = ..., relation: _Optional[str] = ..., unit_code: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[PersonTag, str]]] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("kind", "subject", "description", "area_square_metres", "geojson")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AREA_SQUARE_METRES_FIELD_NUMBER: _ClassVar[int]
    GEOJSON_FIELD_NUMBER: _ClassVar[int]
    kind: FindingKind
    subject: str
    description: str
    area_square_metres: float
    geojson: str
    def __init__(self, kind: _Optional[_Union[FindingKind, str]] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ..., area_square_metres: _Optional[float] = ..., geojson: _Optional[str] = ...) -> None: ...

class FindingCount(_message.Message):
    __slots__ = ("kind", "count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: FindingKind
    count: int
    def __init__(self, kind: _Optional[_Union[FindingKind, str]] = ..., count: _Optional[int] = ...) -> None: ...

class TagCount(_message.Message):
    __slots__ = ("tag", "count")
    TAG_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    tag: PersonTag
    count: int
    def __init__(self, tag: _Optional[_Union[PersonTag, str]] = ..., count: _Optional[int] = ...) -> None: ...

class CaseCounts(_message.Message):
    __slots__ = ("available", "unavailable_reason", "open", "overdue")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_REASON_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    available: bool
    unavailable_reason: str
    open: int
    overdue: int
    def __init__(self, available: _Optional[bool] = ..., unavailable_reason: _Optional[str] = ..., open: _Optional[int] = ..., overdue: _Optional[int] = ...) -> None: ...

class PersonCase(_message.Message):
    __slots__ = ("case_id", "category", "receive_time", "status", "overdue")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    category: str
    receive_time: _timestamp_pb2.Timestamp
    status: _resources_pb2.CaseStatus
    overdue: bool
    def __init__(self, case_id: _Optional[str] = ..., category: _Optional[str] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[_resources_pb2.CaseStatus, str]] = ..., overdue: _Optional[bool] = ...) -> None: ...

class RowProblem(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class RejectedRow(_message.Message):
    __slots__ = ("row", "key", "problems")
    ROW_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    row: int
    key: str
    problems: _containers.RepeatedCompositeFieldContainer[RowProblem]
    def __init__(self, row: _Optional[int] = ..., key: _Optional[str] = ..., problems: _Optional[_Iterable[_Union[RowProblem, _Mapping]]] = ...) -> None: ...

class ImportProgress(_message.Message):
    __slots__ = ("stage", "done", "total")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    def __init__(self, stage: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class ImportReport(_message.Message):
    __slots__ = ("import_id", "kind", "total_rows", "inserted", "updated", "unchanged", "rejected_count", "rejected", "written")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    kind: ImportKind
    total_rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected_count: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedRow]
    written: bool
    def __init__(self, import_id: _Optional[str] = ..., kind: _Optional[_Union[ImportKind, str]] = ..., total_rows: _Optional[int] = ..., inserted: _Optional[int] = ..., updated: _Optional[int] = ..., unchanged: _Optional[int] = ..., rejected_count: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedRow, _Mapping]]] = ..., written: _Optional[bool] = ...) -> None: ...

class ImportSummary(_message.Message):
    __slots__ = ("import_id", "kind", "inserted", "updated", "rejected", "actor")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    kind: ImportKind
    inserted: int
    updated: int
    rejected: int
    actor: str
    def __init__(self, import_id: _Optional[str] = ..., kind: _Optional[_Union[ImportKind, str]] = ..., inserted: _Optional[int] = ..., updated: _Optional[int] = ..., rejected: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class AccessLogEntry(_message.Message):
    __slots__ = ("id", "time", "actor", "purpose", "method", "subject_kind", "subject_id", "view", "outcome", "reason", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    time: _timestamp_pb2.Timestamp
    actor: str
    purpose: str
    method: str
    subject_kind: str
    subject_id: str
    view: PersonalDataView
    outcome: AccessOutcome
    reason: str
    request_id: str
    def __init__(self, id: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., purpose: _Optional[str] = ..., method: _Optional[str] = ..., subject_kind: _Optional[str] = ..., subject_id: _Optional[str] = ..., view: _Optional[_Union[PersonalDataView, str]] = ..., outcome: _Optional[_Union[AccessOutcome, str]] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...
