from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebhookPayload(_message.Message):
    __slots__ = ("id", "event_id", "event_type", "case_id", "hotline", "subscription_id", "text", "template_version", "case")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    HOTLINE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_id: str
    event_type: str
    case_id: str
    hotline: str
    subscription_id: str
    text: str
    template_version: str
    case: WebhookCase
    def __init__(self, id: _Optional[str] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., case_id: _Optional[str] = ..., hotline: _Optional[str] = ..., subscription_id: _Optional[str] = ..., text: _Optional[str] = ..., template_version: _Optional[str] = ..., case: _Optional[_Union[WebhookCase, _Mapping]] = ...) -> None: ...

class WebhookCase(_message.Message):
    __slots__ = ("case_id", "external_ref", "case_channel", "event_type", "status", "category", "unit_code", "unit_name", "level", "note", "result", "deadline_time", "time", "overdue", "supervised", "version")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REF_FIELD_NUMBER: _ClassVar[int]
    CASE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    UNIT_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    SUPERVISED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    external_ref: str
    case_channel: str
    event_type: str
    status: str
    category: str
    unit_code: str
    unit_name: str
    level: str
    note: str
    result: str
    deadline_time: str
    time: str
    overdue: bool
    supervised: bool
    version: int
    def __init__(self, case_id: _Optional[str] = ..., external_ref: _Optional[str] = ..., case_channel: _Optional[str] = ..., event_type: _Optional[str] = ..., status: _Optional[str] = ..., category: _Optional[str] = ..., unit_code: _Optional[str] = ..., unit_name: _Optional[str] = ..., level: _Optional[str] = ..., note: _Optional[str] = ..., result: _Optional[str] = ..., deadline_time: _Optional[str] = ..., time: _Optional[str] = ..., overdue: _Optional[bool] = ..., supervised: _Optional[bool] = ..., version: _Optional[int] = ...) -> None: ...
