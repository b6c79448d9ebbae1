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
