"""Domain errors, raised by any layer and turned into `google.rpc.Status` in one place.

The error interceptor (`services.common.interceptors.ErrorInterceptor`) maps each class
to its gRPC code with an `ErrorInfo` (reason, domain, metadata) and, for bad input, a
`BadRequest` listing every field violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grpc

DOMAIN = "lianxin.gov.cn"

# What an error may echo of its input: the client's own values come back clipped, so an
# error never grows with the request (a 20,000-character id, a 50,000-character query).
MAX_MESSAGE_CHARS = 1000
MAX_DESCRIPTION_CHARS = 300
MAX_FIELD_CHARS = 200
MAX_METADATA_CHARS = 200
MAX_VIOLATIONS = 50


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"…(+{len(text) - limit} chars)"
    return text[: max(0, limit - len(note))] + note


class LianxinError(Exception):
    """Base of all errors a client should see as something other than INTERNAL."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason = "ERROR"

    def __init__(
        self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})


class InvalidArgument(LianxinError):
    """Bad input: one or more fields are wrong. Carries every violation found."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Iterable[tuple[str, str]], *, reason: str | None = None):
        self.violations = list(violations)
        summary = "; ".join(f"{f}: {d}" for f, d in self.violations)
        super().__init__(f"invalid request: {summary}", reason=reason)


class NotFound(LianxinError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(LianxinError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(LianxinError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class PermissionDenied(LianxinError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(LianxinError):
    """No credentials, or credentials that cannot be trusted."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(LianxinError):
    """Too much: a message over its RPC's size limit, a caller over its rate limit.
    `retry_after` (seconds), when given, goes to the client as `google.rpc.RetryInfo`."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after


class Unavailable(LianxinError):
    """A dependency is down; the client may retry."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class Violations:
    """Collects field violations during validation, then raises them all at once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        self.items.append((field, description))

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self.add(field, description)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
