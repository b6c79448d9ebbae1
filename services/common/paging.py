"""Page tokens and cursors (AIP-158): opaque, url-safe, and strictly parsed, so a forged
one is INVALID_ARGUMENT and never more.

A token is a flat JSON object, url-safe base64 without padding, of at most
`MAX_TOKEN_CHARS` characters. Decoding accepts nothing else: no nesting (an object or
array inside is refused, and a deeply nested one cannot recurse: the size bound comes
first and the parser's depth stays far below Python's limit), no booleans, no floats, no
NaN or Infinity, integers only between 0 and 2**63 - 1, strings of at most
`MAX_VALUE_CHARS` characters without NUL, keys a service did not write (`read_token`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from services.common.errors import InvalidArgument

MAX_TOKEN_CHARS = 1024
MAX_VALUE_CHARS = 300
MAX_INT = 2**63 - 1
NOT_OURS = "is not a token this service issued"


def page_size(requested: int, *, default: int = 50, maximum: int = 500) -> int:
    if requested < 0:
        raise InvalidArgument([("page_size", "must not be negative")])
    return min(requested or default, maximum)


def encode_token(cursor: dict[str, Any]) -> str:
    raw = json.dumps(cursor, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class _NotOurs(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotOurs(name)  # NaN, Infinity, -Infinity


def _no_float(text: str) -> Any:
    raise _NotOurs(text)


def _flat(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _NotOurs(key)
        if isinstance(value, int) and not 0 <= value <= MAX_INT:
            raise _NotOurs(key)
        if isinstance(value, str) and (len(value) > MAX_VALUE_CHARS or "\x00" in value):
            raise _NotOurs(key)
        if key in out or len(key) > 16:
            raise _NotOurs(key)
        out[key] = value
    return out


def decode_token(token: str, *, field: str = "page_token") -> dict[str, int | str]:
    """The flat object in `token` ({} when empty); INVALID_ARGUMENT on `field` otherwise."""
    if not token:
        return {}
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidArgument([(field, NOT_OURS)])
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        if not raw.startswith(b"{"):
            raise _NotOurs("not an object")
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_flat,
            parse_constant=_no_constant,
            parse_float=_no_float,
        )
    except (ValueError, UnicodeError, binascii.Error, RecursionError, TypeError) as exc:
        raise InvalidArgument([(field, NOT_OURS)]) from exc
    if not isinstance(value, dict):
        raise InvalidArgument([(field, NOT_OURS)])
    return value


def read_token(
    token: str, schema: Mapping[str, type], *, field: str = "page_token"
) -> dict[str, Any]:
    """The fields of `token`, each of the type `schema` gives it (int or str; an absent
    one is 0 or ""). A key outside `schema` or a value of another type: INVALID_ARGUMENT."""
    value = decode_token(token, field=field)
    out: dict[str, Any] = {}
    for key, kind in schema.items():
        got = value.get(key, kind())
        if type(got) is not kind:
            raise InvalidArgument([(field, NOT_OURS)])
        out[key] = got
    if set(value) - set(schema):
        raise InvalidArgument([(field, NOT_OURS)])
    return out
