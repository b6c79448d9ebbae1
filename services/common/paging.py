"""Page tokens (AIP-158): opaque, url-safe, and checked, so a forged one is INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import json
from typing import Any

from services.common.errors import InvalidArgument


def page_size(requested: int, *, default: int = 50, maximum: int = 500) -> int:
    if requested < 0:
        raise InvalidArgument([("page_size", "must not be negative")])
    return min(requested or default, maximum)


def encode_token(cursor: dict[str, Any]) -> str:
    raw = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise InvalidArgument([("page_token", "is not a token this service issued")]) from exc
    if not isinstance(value, dict):
        raise InvalidArgument([("page_token", "is not a token this service issued")])
    return value
