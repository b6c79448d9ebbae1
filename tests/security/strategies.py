"""Hypothesis strategies made from protobuf descriptors: any request message of any RPC,
filled with random, boundary and malformed values.

Nothing here knows a particular RPC: a new field or a new RPC is fuzzed as soon as its
descriptor exists. Values lean towards what broke services before: out-of-range
Timestamps, unknown enum numbers, huge and negative integers, NaN and infinities, empty,
huge, NUL, `%`/`_`/`\\` and unicode strings, page tokens and cursors that nest, carry
booleans, floats, huge integers or are not base64 at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor
MAX_DEPTH = 3
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)
TS_MIN, TS_MAX = -62135596800, 253402300799  # 0001-01-01 .. 9999-12-31T23:59:59


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _token(value: Any) -> str:
    return _b64(json.dumps(value, allow_nan=True).encode())


# Tokens and cursors a service did not issue, in every shape that broke one.
BAD_TOKENS = [
    "not base64!",
    "====",
    _b64(b"\xff\xfe\x00"),
    _b64(b"[" * 5000 + b"]" * 5000),
    _b64(b'{"after":' * 3000 + b'""' + b"}" * 3000),
    _token([]),
    _token("after"),
    _token(None),
    _token({"after": True, "seq": True, "o": True, "k": True, "before": True, "offset": True}),
    _token({"after": 10**40, "seq": 10**40, "o": 10**40, "before": 10**40, "offset": 10**40}),
    _token({"after": -1, "seq": -1, "o": -1, "before": -1, "k": -1, "offset": -1}),
    _token({"seq": 2**63, "before": 2**63, "o": 2**63, "offset": 2**63}),
    _token({"seq": float("inf"), "o": float("nan"), "before": -float("inf"), "offset": 1e308}),
    _token({"seq": 1.5, "before": 0.5, "o": 2.5, "k": 1.5, "s": 1, "offset": 0.5}),
    _token({"after": {"x": 1}, "seq": [1], "q": ["a"], "u": {"b": 2}}),
    _token({"after": "\x00", "s": "%", "q": "%_", "u": "%"}),
    _token({"after": "x" * 20000}),
    "x" * 20000,
]
# Well-formed, but with values no service wrote: for the handlers' own checks.
ODD_TOKENS = [_token({"k": 99, "s": "", "o": 0, "q": "", "u": ""}), _token({"offset": 10**9})]

BOUNDARY_STRINGS = [
    "",
    " ",
    "%",
    "_",
    "\\",
    "%_\\%",
    "3704%",
    "370402%",
    "\x00",
    "a\x00b",
    "\x00" * 100,
    '"',
    "'",
    "' OR 1=1 --",
    '" OR ""="',
    "*",
    "NEAR(",
    "AND OR NOT",
    '"unterminated',
    "连心网",
    "张胜起",
    "🙂" * 10,
    "\u202e\u200b\ufeff",
    "\ud7ff\ue000\U0010ffff",
    "-1",
    "0",
    "99999999999999999999999999",
    "NaN",
    "Infinity",
    "x" * 257,
    "%" * 2000,
    "9" * 20000,
    "a" * 50001,
    "http://127.0.0.1:1/",
    "https://example.org/" + "a" * 3000,
    "370402",
    "370402003",
    "370402003001",
    "370402003001001",
    "13806325566",
]

INT_BOUNDARIES = [0, 1, -1, 2, 100, 1000, 10_001, 2**31 - 1, -(2**31), 2**32 - 1]
INT64_BOUNDARIES = [2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]
FLOAT_BOUNDARIES = [
    0.0,
    -0.0,
    1e-300,
    1e308,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    34.8605,
    117.5585,
    90.0,
    -90.0,
    180.0,
    -180.0,
    90.0000001,
]


def message_class(desc: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(desc)


def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = [i for i in (*INT_BOUNDARIES, *INT64_BOUNDARIES, lo, hi) if lo <= i <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(-5, 1100))


def _int_strategy(field: FieldDescriptor) -> st.SearchStrategy[int]:
    lo, hi = {
        F.TYPE_INT32: INT32,
        F.TYPE_SINT32: INT32,
        F.TYPE_SFIXED32: INT32,
        F.TYPE_INT64: INT64,
        F.TYPE_SINT64: INT64,
        F.TYPE_SFIXED64: INT64,
        F.TYPE_UINT32: UINT32,
        F.TYPE_FIXED32: UINT32,
        F.TYPE_UINT64: UINT64,
        F.TYPE_FIXED64: UINT64,
    }[field.type]
    return _ints(lo, hi).filter(lambda i: lo <= i <= hi)


def _string_strategy(field: FieldDescriptor, known: Mapping[str, Sequence[str]]) -> Any:
    options: list[st.SearchStrategy[str]] = [
        st.sampled_from(BOUNDARY_STRINGS),
        st.text(max_size=40),
        st.text(alphabet="0123456789%_\\\x00-", max_size=20),
        st.text(alphabet="0123456789abcdef-", max_size=40),
    ]
    if field.name.endswith(("token", "cursor")):
        options.append(st.sampled_from(BAD_TOKENS + ODD_TOKENS))
    if field.name in known:
        options.insert(0, st.sampled_from(list(known[field.name])))
    return st.one_of(*options)


def _enum_strategy(field: FieldDescriptor) -> st.SearchStrategy[int]:
    numbers = [v.number for v in field.enum_type.values]
    known = st.sampled_from(numbers)
    unknown = st.one_of(
        st.sampled_from([-1, max(numbers) + 1, 99, 2**31 - 1, -(2**31)]), st.integers(*INT32)
    )
    return st.one_of(known, known, known, unknown)  # mostly known: the rest gets fuzzed too


def _timestamp() -> st.SearchStrategy[dict[str, int]]:
    seconds = st.one_of(
        st.sampled_from(
            [0, 1, -1, TS_MIN, TS_MAX, TS_MIN - 1, TS_MAX + 1, 2**63 - 1, -(2**63), 1416906000]
        ),
        st.integers(-(2**40), 2**40),
        st.integers(946684800, 4102444800),  # 2000 .. 2100
    )
    nanos = st.one_of(st.sampled_from([0, -1, 999_999_999, 10**9, 2**31 - 1]), st.integers(*INT32))
    return st.fixed_dictionaries({"seconds": seconds, "nanos": nanos})


_JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _scalar(field: FieldDescriptor, known: Mapping[str, Sequence[str]]) -> Any:
    t = field.type
    if t == F.TYPE_STRING:
        return _string_strategy(field, known)
    if t == F.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.sampled_from([b"", _JPEG, _PNG, b"\x00"]))
    if t == F.TYPE_BOOL:
        return st.booleans()
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        floats = st.floats(
            allow_nan=True, allow_infinity=True, width=64 if t == F.TYPE_DOUBLE else 32
        )
        return st.one_of(st.sampled_from(FLOAT_BOUNDARIES), floats)
    if t == F.TYPE_ENUM:
        return _enum_strategy(field)
    return _int_strategy(field)


def message_dicts(
    desc: Descriptor, known: Mapping[str, Sequence[str]], depth: int = 0
) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field name → value for `desc` (a random subset of its fields)."""
    if desc.full_name == "google.protobuf.Timestamp":
        return _timestamp()
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        if field.type == F.TYPE_MESSAGE:
            if depth >= MAX_DEPTH:
                continue
            if field.message_type.GetOptions().map_entry:
                key, value = field.message_type.fields
                one: Any = (
                    st.dictionaries(_scalar(key, known), _scalar(value, known), max_size=3)
                    if value.type != F.TYPE_MESSAGE
                    else st.just({})
                )
                fields[field.name] = one
                continue
            one = message_dicts(field.message_type, known, depth + 1)
        else:
            one = _scalar(field, known)
        if field.is_repeated:
            one = st.lists(one, max_size=3)
        fields[field.name] = one
    return st.fixed_dictionaries({}, optional=fields)


def _fill(msg: Message, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        field = msg.DESCRIPTOR.fields_by_name[name]
        if field.type == F.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                getattr(msg, name).update(value)
            elif field.is_repeated:
                for item in value:
                    _fill(getattr(msg, name).add(), item)
            else:
                sub = getattr(msg, name)
                sub.SetInParent()
                _fill(sub, value)
        elif field.is_repeated:
            getattr(msg, name).extend(value)
        else:
            setattr(msg, name, value)


def requests(
    method: MethodDescriptor, known: Mapping[str, Sequence[str]]
) -> st.SearchStrategy[Message]:
    """Request messages of `method`, built from its input descriptor."""
    cls = message_class(method.input_type)

    def build(values: dict[str, Any]) -> Message:
        msg = cls()
        _fill(msg, values)
        return msg

    return message_dicts(method.input_type, known).map(build)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def undecodable(method: MethodDescriptor) -> list[bytes]:
    """Request bytes the input message cannot be parsed from: truncated varints and
    lengths, wrong wire types, invalid UTF-8 in each string field, bad group tags."""
    out = [
        b"\xff",
        b"\x08",  # field 1 varint, no value
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # a varint too long
        b"\x0a\x7f",  # length 127, 0 bytes follow
        b"\x0a\xff\xff\xff\xff\x0f",  # length 4 GiB
        b"\x00",  # field number 0
        b"\x0b",  # start group 1, never ended
        b"\x0c",  # end group without start
        b"\x0f",  # wire type 7
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
    ]
    for field in method.input_type.fields:
        tag = _varint(field.number << 3 | 2)
        if field.type == F.TYPE_STRING:
            out.append(tag + b"\x02\xc3\x28")  # invalid UTF-8
            out.append(tag + b"\x03\xed\xa0\x80")  # a UTF-16 surrogate
        elif field.type == F.TYPE_MESSAGE:
            out.append(tag + b"\x03\x0a\x05a")  # an inner length past its end
    return out


def all_methods(service_names: Sequence[str]) -> list[MethodDescriptor]:
    pool = descriptor_pool.Default()
    return [m for s in service_names for m in pool.FindServiceByName(s).methods]
