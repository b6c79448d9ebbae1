import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianxin.intake.v1 import resources_pb2 as _resources_pb2
from lianxin.routing.v1 import resources_pb2 as _resources_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitCaseRequest(_message.Message):
    __slots__ = ("channel", "external_ref", "reporter", "location", "category", "description", "attachments")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REF_FIELD_NUMBER: _ClassVar[int]
    REPORTER_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    channel: _resources_pb2.Channel
    external_ref: str
    reporter: _resources_pb2.Reporter
    location: _resources_pb2.Location
    category: str
    description: str
    attachments: _containers.RepeatedCompositeFieldContainer[_resources_pb2.AttachmentUpload]
    def __init__(self, channel: _Optional[_Union[_resources_pb2.Channel, str]] = ..., external_ref: _Optional[str] = ..., reporter: _Optional[_Union[_resources_pb2.Reporter, _Mapping]] = ..., location: _Optional[_Union[_resources_pb2.Location, _Mapping]] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[_resources_pb2.AttachmentUpload, _Mapping]]] = ...) -> None: ...

class SubmitCaseResponse(_message.Message):
    __slots__ = ("case", "created")
    CASE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    created: bool
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

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

class ListCasesRequest(_message.Message):
    __slots__ = ("channel", "status", "unit_code", "page_size", "page_token", "category", "start_time", "end_time")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    channel: _resources_pb2.Channel
    status: _resources_pb2_1.CaseStatus
    unit_code: str
    page_size: int
    page_token: str
    category: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[_Union[_resources_pb2.Channel, str]] = ..., status: _Optional[_Union[_resources_pb2_1.CaseStatus, str]] = ..., unit_code: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., category: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[_resources_pb2.Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchCasesRequest(_message.Message):
    __slots__ = ("channel", "unit_code", "cursor", "from_now")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    channel: _resources_pb2.Channel
    unit_code: str
    cursor: str
    from_now: bool
    def __init__(self, channel: _Optional[_Union[_resources_pb2.Channel, str]] = ..., unit_code: _Optional[str] = ..., cursor: _Optional[str] = ..., from_now: _Optional[bool] = ...) -> None: ...

class WatchCasesResponse(_message.Message):
    __slots__ = ("change", "case", "cursor")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    change: _resources_pb2.StatusChange
    case: _resources_pb2.Case
    cursor: str
    def __init__(self, change: _Optional[_Union[_resources_pb2.StatusChange, _Mapping]] = ..., case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListStatusChangesRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "channel", "page_size", "page_token")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    channel: _resources_pb2.Channel
    page_size: int
    page_token: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[_Union[_resources_pb2.Channel, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStatusChangesResponse(_message.Message):
    __slots__ = ("status_changes", "next_page_token")
    STATUS_CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status_changes: _containers.RepeatedCompositeFieldContainer[_resources_pb2.StatusChange]
    next_page_token: str
    def __init__(self, status_changes: _Optional[_Iterable[_Union[_resources_pb2.StatusChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
