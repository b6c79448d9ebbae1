import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianxin.routing.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class GetCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class AcceptCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AcceptCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class ResolveCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "result", "photos", "acting_unit_code")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    result: str
    photos: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Photo]
    acting_unit_code: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., result: _Optional[str] = ..., photos: _Optional[_Iterable[_Union[_resources_pb2.Photo, _Mapping]]] = ..., acting_unit_code: _Optional[str] = ...) -> None: ...

class ResolveCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class CloseCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class CloseCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class ListWorkQueueRequest(_message.Message):
    __slots__ = ("unit_code", "status", "page_size", "page_token", "overdue_only", "supervised_only", "level", "to_locate_only")
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    SUPERVISED_ONLY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TO_LOCATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    unit_code: str
    status: _resources_pb2.CaseStatus
    page_size: int
    page_token: str
    overdue_only: bool
    supervised_only: bool
    level: _resources_pb2.Level
    to_locate_only: bool
    def __init__(self, unit_code: _Optional[str] = ..., status: _Optional[_Union[_resources_pb2.CaseStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., overdue_only: _Optional[bool] = ..., supervised_only: _Optional[bool] = ..., level: _Optional[_Union[_resources_pb2.Level, str]] = ..., to_locate_only: _Optional[bool] = ...) -> None: ...

class ListWorkQueueResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[_resources_pb2.Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReturnCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReturnCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class FileCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "grid_code", "unit_code", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    grid_code: str
    unit_code: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., grid_code: _Optional[str] = ..., unit_code: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class FileCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class VoidCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "reason_class", "reason", "duplicate_of")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_CLASS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    reason_class: _resources_pb2.VoidReason
    reason: str
    duplicate_of: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., reason_class: _Optional[_Union[_resources_pb2.VoidReason, str]] = ..., reason: _Optional[str] = ..., duplicate_of: _Optional[str] = ...) -> None: ...

class VoidCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class TransferCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "destination", "destination_name", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    destination: _resources_pb2.TransferDestination
    destination_name: str
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., destination: _Optional[_Union[_resources_pb2.TransferDestination, str]] = ..., destination_name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TransferCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class RedispatchCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "unit_code", "assisting_unit_codes", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSISTING_UNIT_CODES_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    unit_code: str
    assisting_unit_codes: _containers.RepeatedScalarFieldContainer[str]
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., unit_code: _Optional[str] = ..., assisting_unit_codes: _Optional[_Iterable[str]] = ..., note: _Optional[str] = ...) -> None: ...

class RedispatchCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class EscalateCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "reason", "unit_code", "assisting_unit_codes")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSISTING_UNIT_CODES_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    reason: str
    unit_code: str
    assisting_unit_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ..., unit_code: _Optional[str] = ..., assisting_unit_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class EscalateCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class RequestExtensionRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "hours", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    hours: float
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., hours: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class RequestExtensionResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class ApproveExtensionRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ApproveExtensionResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class RefuseExtensionRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RefuseExtensionResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class ExplainCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "explanation")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    explanation: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class ExplainCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class ReworkCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReworkCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class RateCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "satisfaction", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    satisfaction: _resources_pb2.Satisfaction
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., satisfaction: _Optional[_Union[_resources_pb2.Satisfaction, str]] = ..., note: _Optional[str] = ...) -> None: ...

class RateCaseResponse(_message.Message):
    __slots__ = ("case", "reopened")
    CASE_FIELD_NUMBER: _ClassVar[int]
    REOPENED_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    reopened: bool
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ..., reopened: _Optional[bool] = ...) -> None: ...

class SuperviseCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "acting_unit_code", "note", "deadline_time")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTING_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_TIME_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    acting_unit_code: str
    note: str
    deadline_time: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., acting_unit_code: _Optional[str] = ..., note: _Optional[str] = ..., deadline_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SuperviseCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("unit_code", "start_time", "end_time", "formula_version")
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FORMULA_VERSION_FIELD_NUMBER: _ClassVar[int]
    unit_code: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    formula_version: str
    def __init__(self, unit_code: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., formula_version: _Optional[str] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("unit_code", "start_time", "end_time", "indicators", "formula_version")
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    INDICATORS_FIELD_NUMBER: _ClassVar[int]
    FORMULA_VERSION_FIELD_NUMBER: _ClassVar[int]
    unit_code: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    indicators: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Indicator]
    formula_version: str
    def __init__(self, unit_code: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., indicators: _Optional[_Iterable[_Union[_resources_pb2.Indicator, _Mapping]]] = ..., formula_version: _Optional[str] = ...) -> None: ...

class GetRankingRequest(_message.Message):
    __slots__ = ("level", "indicator_id", "start_time", "end_time", "unit_code", "formula_version")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    INDICATOR_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FORMULA_VERSION_FIELD_NUMBER: _ClassVar[int]
    level: _resources_pb2.Level
    indicator_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    unit_code: str
    formula_version: str
    def __init__(self, level: _Optional[_Union[_resources_pb2.Level, str]] = ..., indicator_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unit_code: _Optional[str] = ..., formula_version: _Optional[str] = ...) -> None: ...

class RankingEntry(_message.Message):
    __slots__ = ("rank", "unit_code", "unit_name", "indicator")
    RANK_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_NAME_FIELD_NUMBER: _ClassVar[int]
    INDICATOR_FIELD_NUMBER: _ClassVar[int]
    rank: int
    unit_code: str
    unit_name: str
    indicator: _resources_pb2.Indicator
    def __init__(self, rank: _Optional[int] = ..., unit_code: _Optional[str] = ..., unit_name: _Optional[str] = ..., indicator: _Optional[_Union[_resources_pb2.Indicator, _Mapping]] = ...) -> None: ...

class GetRankingResponse(_message.Message):
    __slots__ = ("level", "indicator_id", "lower_is_better", "start_time", "end_time", "formula_version", "entries")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    INDICATOR_ID_FIELD_NUMBER: _ClassVar[int]
    LOWER_IS_BETTER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FORMULA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    level: _resources_pb2.Level
    indicator_id: str
    lower_is_better: bool
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    formula_version: str
    entries: _containers.RepeatedCompositeFieldContainer[RankingEntry]
    def __init__(self, level: _Optional[_Union[_resources_pb2.Level, str]] = ..., indicator_id: _Optional[str] = ..., lower_is_better: _Optional[bool] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., formula_version: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[RankingEntry, _Mapping]]] = ...) -> None: ...

class ListCategoriesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCategoriesResponse(_message.Message):
    __slots__ = ("categories", "next_page_token", "policy_version")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Category]
    next_page_token: str
    policy_version: str
    def __init__(self, categories: _Optional[_Iterable[_Union[_resources_pb2.Category, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., policy_version: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _resources_pb2.Policy
    def __init__(self, policy: _Optional[_Union[_resources_pb2.Policy, _Mapping]] = ...) -> None: ...
