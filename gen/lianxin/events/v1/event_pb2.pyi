import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lianxin.intake.v1 import resources_pb2 as _resources_pb2
from lianxin.notify.v1 import resources_pb2 as _resources_pb2_1
from lianxin.registry.v1 import resources_pb2 as _resources_pb2_1_1
from lianxin.routing.v1 import resources_pb2 as _resources_pb2_1_1_1
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("id", "type", "source", "time", "case_id", "case_received", "case_transitioned", "delivery_result", "registry_imported")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    CASE_TRANSITIONED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_RESULT_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_IMPORTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    source: str
    time: _timestamp_pb2.Timestamp
    case_id: str
    case_received: CaseReceived
    case_transitioned: CaseTransitioned
    delivery_result: DeliveryResult
    registry_imported: RegistryImported
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., source: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_id: _Optional[str] = ..., case_received: _Optional[_Union[CaseReceived, _Mapping]] = ..., case_transitioned: _Optional[_Union[CaseTransitioned, _Mapping]] = ..., delivery_result: _Optional[_Union[DeliveryResult, _Mapping]] = ..., registry_imported: _Optional[_Union[RegistryImported, _Mapping]] = ...) -> None: ...

class CaseReceived(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: _resources_pb2.Case
    def __init__(self, case: _Optional[_Union[_resources_pb2.Case, _Mapping]] = ...) -> None: ...

class CaseTransitioned(_message.Message):
    __slots__ = ("entry", "case")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    entry: _resources_pb2_1_1_1.HistoryEntry
    case: _resources_pb2_1_1_1.Case
    def __init__(self, entry: _Optional[_Union[_resources_pb2_1_1_1.HistoryEntry, _Mapping]] = ..., case: _Optional[_Union[_resources_pb2_1_1_1.Case, _Mapping]] = ...) -> None: ...

class DeliveryResult(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: _resources_pb2_1.Delivery
    def __init__(self, delivery: _Optional[_Union[_resources_pb2_1.Delivery, _Mapping]] = ...) -> None: ...

class RegistryImported(_message.Message):
    __slots__ = ("summary",)
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    summary: _resources_pb2_1_1.ImportSummary
    def __init__(self, summary: _Optional[_Union[_resources_pb2_1_1.ImportSummary, _Mapping]] = ...) -> None: ...
