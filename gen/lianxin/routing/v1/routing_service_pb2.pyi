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
    __slots__ = ("case_id", "request_id", "result", "photos")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    result: str
    photos: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Photo]
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., result: _Optional[str] = ..., photos: _Optional[_Iterable[_Union[_resources_pb2.Photo, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("unit_code", "status", "page_size", "page_token")
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    unit_code: str
    status: _resources_pb2.CaseStatus
    page_size: int
    page_token: str
    def __init__(self, unit_code: _Optional[str] = ..., status: _Optional[_Union[_resources_pb2.CaseStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorkQueueResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[_resources_pb2.Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
