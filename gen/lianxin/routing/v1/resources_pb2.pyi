import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATUS_UNSPECIFIED: _ClassVar[CaseStatus]
    CASE_STATUS_RECEIVED: _ClassVar[CaseStatus]
    CASE_STATUS_FILED: _ClassVar[CaseStatus]
    CASE_STATUS_DISPATCHED: _ClassVar[CaseStatus]
    CASE_STATUS_IN_PROGRESS: _ClassVar[CaseStatus]
    CASE_STATUS_RESOLVED: _ClassVar[CaseStatus]
    CASE_STATUS_CLOSED: _ClassVar[CaseStatus]
    CASE_STATUS_RETURNED: _ClassVar[CaseStatus]
    CASE_STATUS_EXPLAINED: _ClassVar[CaseStatus]
    CASE_STATUS_MERGED: _ClassVar[CaseStatus]
    CASE_STATUS_VOIDED: _ClassVar[CaseStatus]
    CASE_STATUS_TRANSFERRED: _ClassVar[CaseStatus]

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    LEVEL_COMMUNITY: _ClassVar[Level]
    LEVEL_STREET: _ClassVar[Level]
    LEVEL_DISTRICT: _ClassVar[Level]

class Disposition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPOSITION_UNSPECIFIED: _ClassVar[Disposition]
    DISPOSITION_COMMUNITY: _ClassVar[Disposition]
    DISPOSITION_STREET: _ClassVar[Disposition]
    DISPOSITION_DISTRICT: _ClassVar[Disposition]
    DISPOSITION_EXPLAINED: _ClassVar[Disposition]

class Satisfaction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SATISFACTION_UNSPECIFIED: _ClassVar[Satisfaction]
    SATISFACTION_SATISFIED: _ClassVar[Satisfaction]
    SATISFACTION_BASICALLY_SATISFIED: _ClassVar[Satisfaction]
    SATISFACTION_UNSATISFIED: _ClassVar[Satisfaction]

class Transition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSITION_UNSPECIFIED: _ClassVar[Transition]
    TRANSITION_FILED: _ClassVar[Transition]
    TRANSITION_FILING_FAILED: _ClassVar[Transition]
    TRANSITION_DISPATCHED: _ClassVar[Transition]
    TRANSITION_ACCEPTED: _ClassVar[Transition]
    TRANSITION_RESOLVED: _ClassVar[Transition]
    TRANSITION_CLOSED: _ClassVar[Transition]
    TRANSITION_RETURNED: _ClassVar[Transition]
    TRANSITION_ESCALATED: _ClassVar[Transition]
    TRANSITION_EXTENSION_REQUESTED: _ClassVar[Transition]
    TRANSITION_EXTENSION_APPROVED: _ClassVar[Transition]
    TRANSITION_EXTENSION_REFUSED: _ClassVar[Transition]
    TRANSITION_EXPLAINED: _ClassVar[Transition]
    TRANSITION_REWORKED: _ClassVar[Transition]
    TRANSITION_RATED: _ClassVar[Transition]
    TRANSITION_REOPENED: _ClassVar[Transition]
    TRANSITION_MERGED: _ClassVar[Transition]
    TRANSITION_REMINDED: _ClassVar[Transition]
    TRANSITION_OVERDUE: _ClassVar[Transition]
    TRANSITION_SUPERVISED: _ClassVar[Transition]
    TRANSITION_REDISPATCHED: _ClassVar[Transition]
    TRANSITION_VOIDED: _ClassVar[Transition]
    TRANSITION_TRANSFERRED: _ClassVar[Transition]

class VoidReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOID_REASON_UNSPECIFIED: _ClassVar[VoidReason]
    VOID_REASON_PRANK: _ClassVar[VoidReason]
    VOID_REASON_NO_CONTENT: _ClassVar[VoidReason]
    VOID_REASON_DUPLICATE_EXTERNAL: _ClassVar[VoidReason]
    VOID_REASON_NOT_GOVERNMENT: _ClassVar[VoidReason]

class TransferDestination(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_DESTINATION_UNSPECIFIED: _ClassVar[TransferDestination]
    TRANSFER_DESTINATION_OTHER_DISTRICT: _ClassVar[TransferDestination]
    TRANSFER_DESTINATION_HOTLINE: _ClassVar[TransferDestination]

class Weekday(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEEKDAY_UNSPECIFIED: _ClassVar[Weekday]
    WEEKDAY_MONDAY: _ClassVar[Weekday]
    WEEKDAY_TUESDAY: _ClassVar[Weekday]
    WEEKDAY_WEDNESDAY: _ClassVar[Weekday]
    WEEKDAY_THURSDAY: _ClassVar[Weekday]
    WEEKDAY_FRIDAY: _ClassVar[Weekday]
    WEEKDAY_SATURDAY: _ClassVar[Weekday]
    WEEKDAY_SUNDAY: _ClassVar[Weekday]

class StandardKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STANDARD_KIND_UNSPECIFIED: _ClassVar[StandardKind]
    STANDARD_KIND_COMPONENT: _ClassVar[StandardKind]
    STANDARD_KIND_EVENT: _ClassVar[StandardKind]
CASE_STATUS_UNSPECIFIED: CaseStatus
CASE_STATUS_RECEIVED: CaseStatus
CASE_STATUS_FILED: CaseStatus
CASE_STATUS_DISPATCHED: CaseStatus
CASE_STATUS_IN_PROGRESS: CaseStatus
CASE_STATUS_RESOLVED: CaseStatus
CASE_STATUS_CLOSED: CaseStatus
CASE_STATUS_RETURNED: CaseStatus
CASE_STATUS_EXPLAINED: CaseStatus
CASE_STATUS_MERGED: CaseStatus
CASE_STATUS_VOIDED: CaseStatus
CASE_STATUS_TRANSFERRED: CaseStatus
LEVEL_UNSPECIFIED: Level
LEVEL_COMMUNITY: Level
LEVEL_STREET: Level
LEVEL_DISTRICT: Level
DISPOSITION_UNSPECIFIED: Disposition
DISPOSITION_COMMUNITY: Disposition
DISPOSITION_STREET: Disposition
DISPOSITION_DISTRICT: Disposition
DISPOSITION_EXPLAINED: Disposition
SATISFACTION_UNSPECIFIED: Satisfaction
SATISFACTION_SATISFIED: Satisfaction
SATISFACTION_BASICALLY_SATISFIED: Satisfaction
SATISFACTION_UNSATISFIED: Satisfaction
TRANSITION_UNSPECIFIED: Transition
TRANSITION_FILED: Transition
TRANSITION_FILING_FAILED: Transition
TRANSITION_DISPATCHED: Transition
TRANSITION_ACCEPTED: Transition
TRANSITION_RESOLVED: Transition
TRANSITION_CLOSED: Transition
TRANSITION_RETURNED: Transition
TRANSITION_ESCALATED: Transition
TRANSITION_EXTENSION_REQUESTED: Transition
TRANSITION_EXTENSION_APPROVED: Transition
TRANSITION_EXTENSION_REFUSED: Transition
TRANSITION_EXPLAINED: Transition
TRANSITION_REWORKED: Transition
TRANSITION_RATED: Transition
TRANSITION_REOPENED: Transition
TRANSITION_MERGED: Transition
TRANSITION_REMINDED: Transition
TRANSITION_OVERDUE: Transition
TRANSITION_SUPERVISED: Transition
TRANSITION_REDISPATCHED: Transition
TRANSITION_VOIDED: Transition
TRANSITION_TRANSFERRED: Transition
VOID_REASON_UNSPECIFIED: VoidReason
VOID_REASON_PRANK: VoidReason
VOID_REASON_NO_CONTENT: VoidReason
VOID_REASON_DUPLICATE_EXTERNAL: VoidReason
VOID_REASON_NOT_GOVERNMENT: VoidReason
TRANSFER_DESTINATION_UNSPECIFIED: TransferDestination
TRANSFER_DESTINATION_OTHER_DISTRICT: TransferDestination
TRANSFER_DESTINATION_HOTLINE: TransferDestination
WEEKDAY_UNSPECIFIED: Weekday
WEEKDAY_MONDAY: Weekday
WEEKDAY_TUESDAY: Weekday
WEEKDAY_WEDNESDAY: Weekday
WEEKDAY_THURSDAY: Weekday
WEEKDAY_FRIDAY: Weekday
WEEKDAY_SATURDAY: Weekday
WEEKDAY_SUNDAY: Weekday
STANDARD_KIND_UNSPECIFIED: StandardKind
STANDARD_KIND_COMPONENT: StandardKind
STANDARD_KIND_EVENT: StandardKind

class Photo(_message.Message):
    __slots__ = ("filename", "content_type", "content", "sha256", "size_bytes")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    content: bytes
    sha256: str
    size_bytes: int
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., content: _Optional[bytes] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("sequence", "transition", "from_status", "to_status", "actor", "note", "unit_code", "photos", "time", "level", "deadline_time", "disposition", "satisfaction", "assisting_unit_codes")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_TIME_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    ASSISTING_UNIT_CODES_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    transition: Transition
    from_status: CaseStatus
    to_status: CaseStatus
    actor: str
    note: str
    unit_code: str
    photos: _containers.RepeatedCompositeFieldContainer[Photo]
    time: _timestamp_pb2.Timestamp
    level: Level
    deadline_time: _timestamp_pb2.Timestamp
    disposition: Disposition
    satisfaction: Satisfaction
    assisting_unit_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sequence: _Optional[int] = ..., transition: _Optional[_Union[Transition, str]] = ..., from_status: _Optional[_Union[CaseStatus, str]] = ..., to_status: _Optional[_Union[CaseStatus, str]] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., unit_code: _Optional[str] = ..., photos: _Optional[_Iterable[_Union[Photo, _Mapping]]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., level: _Optional[_Union[Level, str]] = ..., deadline_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disposition: _Optional[_Union[Disposition, str]] = ..., satisfaction: _Optional[_Union[Satisfaction, str]] = ..., assisting_unit_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("id", "status", "level", "category", "grid_code", "community_code", "street_code", "district_code", "assigned_unit_code", "assigned_unit_name", "assignee_staff_id", "deadline_time", "result", "filing_error", "version", "create_time", "update_time", "history", "overdue", "supervised", "assisting_unit_codes", "disposition", "satisfaction", "rework_count", "reopen_count", "merged_into_case_id", "merged_case_ids", "reminder_time", "pending_extension_hours", "community_name", "street_name", "location_candidates", "void_reason", "transfer_destination", "transferred_to")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_CODE_FIELD_NUMBER: _ClassVar[int]
    STREET_CODE_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_UNIT_NAME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FILING_ERROR_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    SUPERVISED_FIELD_NUMBER: _ClassVar[int]
    ASSISTING_UNIT_CODES_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    REWORK_COUNT_FIELD_NUMBER: _ClassVar[int]
    REOPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_CASE_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_CASE_IDS_FIELD_NUMBER: _ClassVar[int]
    REMINDER_TIME_FIELD_NUMBER: _ClassVar[int]
    PENDING_EXTENSION_HOURS_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_NAME_FIELD_NUMBER: _ClassVar[int]
    STREET_NAME_FIELD_NUMBER: _ClassVar[int]
    LOCATION_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    VOID_REASON_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_TO_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: CaseStatus
    level: Level
    category: str
    grid_code: str
    community_code: str
    street_code: str
    district_code: str
    assigned_unit_code: str
    assigned_unit_name: str
    assignee_staff_id: str
    deadline_time: _timestamp_pb2.Timestamp
    result: str
    filing_error: str
    version: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    history: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    overdue: bool
    supervised: bool
    assisting_unit_codes: _containers.RepeatedScalarFieldContainer[str]
    disposition: Disposition
    satisfaction: Satisfaction
    rework_count: int
    reopen_count: int
    merged_into_case_id: str
    merged_case_ids: _containers.RepeatedScalarFieldContainer[str]
    reminder_time: _timestamp_pb2.Timestamp
    pending_extension_hours: float
    community_name: str
    street_name: str
    location_candidates: _containers.RepeatedCompositeFieldContainer[LocationCandidate]
    void_reason: VoidReason
    transfer_destination: TransferDestination
    transferred_to: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., level: _Optional[_Union[Level, str]] = ..., category: _Optional[str] = ..., grid_code: _Optional[str] = ..., community_code: _Optional[str] = ..., street_code: _Optional[str] = ..., district_code: _Optional[str] = ..., assigned_unit_code: _Optional[str] = ..., assigned_unit_name: _Optional[str] = ..., assignee_staff_id: _Optional[str] = ..., deadline_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[str] = ..., filing_error: _Optional[str] = ..., version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., overdue: _Optional[bool] = ..., supervised: _Optional[bool] = ..., assisting_unit_codes: _Optional[_Iterable[str]] = ..., disposition: _Optional[_Union[Disposition, str]] = ..., satisfaction: _Optional[_Union[Satisfaction, str]] = ..., rework_count: _Optional[int] = ..., reopen_count: _Optional[int] = ..., merged_into_case_id: _Optional[str] = ..., merged_case_ids: _Optional[_Iterable[str]] = ..., reminder_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_extension_hours: _Optional[float] = ..., community_name: _Optional[str] = ..., street_name: _Optional[str] = ..., location_candidates: _Optional[_Iterable[_Union[LocationCandidate, _Mapping]]] = ..., void_reason: _Optional[_Union[VoidReason, str]] = ..., transfer_destination: _Optional[_Union[TransferDestination, str]] = ..., transferred_to: _Optional[str] = ...) -> None: ...

class LocationCandidate(_message.Message):
    __slots__ = ("building_code", "address", "grid_code", "confidence")
    BUILDING_CODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    building_code: str
    address: str
    grid_code: str
    confidence: float
    def __init__(self, building_code: _Optional[str] = ..., address: _Optional[str] = ..., grid_code: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class Indicator(_message.Message):
    __slots__ = ("id", "label", "numerator", "denominator", "value", "formula_id", "formula", "rate", "formula_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    NUMERATOR_FIELD_NUMBER: _ClassVar[int]
    DENOMINATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FORMULA_ID_FIELD_NUMBER: _ClassVar[int]
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    FORMULA_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    label: str
    numerator: int
    denominator: int
    value: float
    formula_id: str
    formula: str
    rate: bool
    formula_version: str
    def __init__(self, id: _Optional[str] = ..., label: _Optional[str] = ..., numerator: _Optional[int] = ..., denominator: _Optional[int] = ..., value: _Optional[float] = ..., formula_id: _Optional[str] = ..., formula: _Optional[str] = ..., rate: _Optional[bool] = ..., formula_version: _Optional[str] = ...) -> None: ...

class LevelDeadline(_message.Message):
    __slots__ = ("level", "working_hours")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    WORKING_HOURS_FIELD_NUMBER: _ClassVar[int]
    level: Level
    working_hours: float
    def __init__(self, level: _Optional[_Union[Level, str]] = ..., working_hours: _Optional[float] = ...) -> None: ...

class Category(_message.Message):
    __slots__ = ("code", "name", "first_level", "deadlines", "department", "assisting_departments", "hotline_class", "standard", "reminder_fraction")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIRST_LEVEL_FIELD_NUMBER: _ClassVar[int]
    DEADLINES_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    ASSISTING_DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    HOTLINE_CLASS_FIELD_NUMBER: _ClassVar[int]
    STANDARD_FIELD_NUMBER: _ClassVar[int]
    REMINDER_FRACTION_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    first_level: Level
    deadlines: _containers.RepeatedCompositeFieldContainer[LevelDeadline]
    department: str
    assisting_departments: _containers.RepeatedScalarFieldContainer[str]
    hotline_class: str
    standard: StandardClass
    reminder_fraction: float
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., first_level: _Optional[_Union[Level, str]] = ..., deadlines: _Optional[_Iterable[_Union[LevelDeadline, _Mapping]]] = ..., department: _Optional[str] = ..., assisting_departments: _Optional[_Iterable[str]] = ..., hotline_class: _Optional[str] = ..., standard: _Optional[_Union[StandardClass, _Mapping]] = ..., reminder_fraction: _Optional[float] = ...) -> None: ...

class StandardClass(_message.Message):
    __slots__ = ("kind", "major_code", "major_name", "minor_code", "minor_name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MAJOR_CODE_FIELD_NUMBER: _ClassVar[int]
    MAJOR_NAME_FIELD_NUMBER: _ClassVar[int]
    MINOR_CODE_FIELD_NUMBER: _ClassVar[int]
    MINOR_NAME_FIELD_NUMBER: _ClassVar[int]
    kind: StandardKind
    major_code: str
    major_name: str
    minor_code: str
    minor_name: str
    def __init__(self, kind: _Optional[_Union[StandardKind, str]] = ..., major_code: _Optional[str] = ..., major_name: _Optional[str] = ..., minor_code: _Optional[str] = ..., minor_name: _Optional[str] = ...) -> None: ...

class WorkingHours(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class WorkingCalendar(_message.Message):
    __slots__ = ("utc_offset", "work_days", "work_hours", "holidays", "extra_work_days")
    UTC_OFFSET_FIELD_NUMBER: _ClassVar[int]
    WORK_DAYS_FIELD_NUMBER: _ClassVar[int]
    WORK_HOURS_FIELD_NUMBER: _ClassVar[int]
    HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_WORK_DAYS_FIELD_NUMBER: _ClassVar[int]
    utc_offset: str
    work_days: _containers.RepeatedScalarFieldContainer[Weekday]
    work_hours: _containers.RepeatedCompositeFieldContainer[WorkingHours]
    holidays: _containers.RepeatedScalarFieldContainer[str]
    extra_work_days: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, utc_offset: _Optional[str] = ..., work_days: _Optional[_Iterable[_Union[Weekday, str]]] = ..., work_hours: _Optional[_Iterable[_Union[WorkingHours, _Mapping]]] = ..., holidays: _Optional[_Iterable[str]] = ..., extra_work_days: _Optional[_Iterable[str]] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("version", "district_code", "calendar", "reminder_fraction", "default_deadlines", "escalation_ladder", "category_count")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_CODE_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    REMINDER_FRACTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DEADLINES_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LADDER_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_COUNT_FIELD_NUMBER: _ClassVar[int]
    version: str
    district_code: str
    calendar: WorkingCalendar
    reminder_fraction: float
    default_deadlines: _containers.RepeatedCompositeFieldContainer[LevelDeadline]
    escalation_ladder: _containers.RepeatedScalarFieldContainer[Level]
    category_count: int
    def __init__(self, version: _Optional[str] = ..., district_code: _Optional[str] = ..., calendar: _Optional[_Union[WorkingCalendar, _Mapping]] = ..., reminder_fraction: _Optional[float] = ..., default_deadlines: _Optional[_Iterable[_Union[LevelDeadline, _Mapping]]] = ..., escalation_ladder: _Optional[_Iterable[_Union[Level, str]]] = ..., category_count: _Optional[int] = ...) -> None: ...
