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

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_MAYOR_HOTLINE: _ClassVar[Channel]
    CHANNEL_DISTRICT_HOTLINE: _ClassVar[Channel]
    CHANNEL_CONVENIENCE_HOTLINE: _ClassVar[Channel]
    CHANNEL_GRID_APP: _ClassVar[Channel]
    CHANNEL_INSPECTION: _ClassVar[Channel]
    CHANNEL_WEB: _ClassVar[Channel]
    CHANNEL_OPEN311: _ClassVar[Channel]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_MAYOR_HOTLINE: Channel
CHANNEL_DISTRICT_HOTLINE: Channel
CHANNEL_CONVENIENCE_HOTLINE: Channel
CHANNEL_GRID_APP: Channel
CHANNEL_INSPECTION: Channel
CHANNEL_WEB: Channel
CHANNEL_OPEN311: Channel

class Reporter(_message.Message):
    __slots__ = ("name", "phone", "staff_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    staff_id: str
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., staff_id: _Optional[str] = ...) -> None: ...

class LatLng(_message.Message):
    __slots__ = ("latitude", "longitude")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ...) -> None: ...

class Location(_message.Message):
    __slots__ = ("point", "address")
    POINT_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    point: LatLng
    address: str
    def __init__(self, point: _Optional[_Union[LatLng, _Mapping]] = ..., address: _Optional[str] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("id", "filename", "content_type", "size_bytes", "sha256")
    ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    def __init__(self, id: _Optional[str] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class AttachmentUpload(_message.Message):
    __slots__ = ("filename", "content_type", "content")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    content: bytes
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class StatusChange(_message.Message):
    __slots__ = ("status", "transition", "unit_code", "unit_name", "note", "time", "case_id", "sequence")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_NAME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    status: _resources_pb2.CaseStatus
    transition: _resources_pb2.Transition
    unit_code: str
    unit_name: str
    note: str
    time: _timestamp_pb2.Timestamp
    case_id: str
    sequence: int
    def __init__(self, status: _Optional[_Union[_resources_pb2.CaseStatus, str]] = ..., transition: _Optional[_Union[_resources_pb2.Transition, str]] = ..., unit_code: _Optional[str] = ..., unit_name: _Optional[str] = ..., note: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_id: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("id", "channel", "external_ref", "reporter", "location", "category", "description", "attachments", "status", "grid_code", "assigned_unit_code", "assigned_unit_name", "level", "deadline_time", "result", "filing_error", "create_time", "update_time", "timeline")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REF_FIELD_NUMBER: _ClassVar[int]
    REPORTER_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GRID_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_UNIT_NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FILING_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    id: str
    channel: Channel
    external_ref: str
    reporter: Reporter
    location: Location
    category: str
    description: str
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    status: _resources_pb2.CaseStatus
    grid_code: str
    assigned_unit_code: str
    assigned_unit_name: str
    level: _resources_pb2.Level
    deadline_time: _timestamp_pb2.Timestamp
    result: str
    filing_error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    timeline: _containers.RepeatedCompositeFieldContainer[StatusChange]
    def __init__(self, id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., external_ref: _Optional[str] = ..., reporter: _Optional[_Union[Reporter, _Mapping]] = ..., location: _Optional[_Union[Location, _Mapping]] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., status: _Optional[_Union[_resources_pb2.CaseStatus, str]] = ..., grid_code: _Optional[str] = ..., assigned_unit_code: _Optional[str] = ..., assigned_unit_name: _Optional[str] = ..., level: _Optional[_Union[_resources_pb2.Level, str]] = ..., deadline_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[str] = ..., filing_error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[StatusChange, _Mapping]]] = ...) -> None: ...
