"""Errors the spec's way: an HTTP status and a list of `{code, description}` in the
requested format, and the one table that maps every gRPC status code to an HTTP status.

A field violation from intake or routing names a field of their API
(`location.point.latitude`); `PARAMETERS` says which GeoReport parameter that is (`lat`),
so the description names what the client sent.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

# Every gRPC status code → the HTTP status the client gets. Bad input and unknown things
# are the client's (4xx); a dependency that is down or broken is the gateway's (5xx).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.UNKNOWN: 502,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 502,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 502,
    grpc.StatusCode.UNAUTHENTICATED: 403,
}

# A field of intake's or routing's requests → the GeoReport parameter it came from.
PARAMETERS: dict[str, str] = {
    "category": "service_code",
    "location": "lat/long or address_string",
    "location.point.latitude": "lat",
    "location.point.longitude": "long",
    "location.address": "address_string",
    "description": "description",
    "reporter.name": "first_name/last_name",
    "reporter.phone": "phone",
    "external_ref": "client_reference",
    "channel": "api_key",
    "attachments": "media_url",
    "case_id": "service_request_id",
    "start_time": "start_date",
    "end_time": "end_date",
    "page_size": "page_size",
    "page_token": "page",
}


class Open311Error(Exception):
    """An error response: HTTP status and the descriptions of what went wrong."""

    def __init__(self, status: int, descriptions: list[str], *, retry_after: int = 0) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions
        self.retry_after = retry_after

    def body(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": d} for d in self.descriptions]


def bad_request(*descriptions: str) -> Open311Error:
    return Open311Error(400, list(descriptions))


def not_found(description: str) -> Open311Error:
    return Open311Error(404, [description])


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, [description])


def from_rpc(err: grpc.aio.AioRpcError, *, service: str) -> Open311Error:
    """A failed call to intake or routing as the client should see it."""
    code = err.code()
    status = HTTP_STATUS.get(code, 502)
    descriptions: list[str] = []
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        detail = rpc_status.from_call(err)
        for packed in detail.details if detail is not None else ():
            bad = error_details_pb2.BadRequest()
            if packed.Is(bad.DESCRIPTOR):
                packed.Unpack(bad)
                for v in bad.field_violations:
                    descriptions.append(f"{PARAMETERS.get(v.field, v.field)}: {v.description}")
    if not descriptions:
        message = err.details() or code.name
        if status >= 500:
            message = f"{service} answered {code.name}: {message}"
        descriptions.append(message)
    retry = 1 if status in (503, 504) else 0
    return Open311Error(status, descriptions, retry_after=retry)
