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
