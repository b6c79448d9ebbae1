"""The request guard: what every request passes before its handler, for every service.

1. **Size.** Each RPC has a maximum request size, declared once in `MESSAGE_LIMITS`
   (uploads) with `DEFAULT_MESSAGE_BYTES` for every other RPC. A larger request is
   refused with RESOURCE_EXHAUSTED before it is parsed. The server's own receive limit
   (`max_receive_bytes`) is the largest of its service's RPCs, so a service without
   uploads never even buffers a big message.
2. **Decoding.** The request bytes are parsed by a wrapped deserializer: bytes no
   request message parses from (truncated, wrong wire types, invalid UTF-8) become
   INVALID_ARGUMENT with a BadRequest, not gRPC's UNKNOWN. (A deserializer cannot abort
   the call, so it returns a `Refused` that the wrapped handler raises.)
3. **Shape.** Unknown enum numbers, Timestamps out of range, NUL in strings, NaN and
   infinities are refused with every violation listed (services.common.validate).

Interceptors outside the guard see a `Refused` instead of a request message for a call
refused at steps 1–2; they must not assume more of a request than `getattr` with a
default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc

from services.common.errors import InvalidArgument, LianxinError, ResourceExhausted
from services.common.interceptors import _WrappingInterceptor
from services.common.validate import shape_violations

KIB = 1024
MIB = 1024 * KIB
# Every RPC without an entry: no list, get or workflow request comes near this.
DEFAULT_MESSAGE_BYTES = 64 * KIB
# The uploads, each sized for what its validation lets through plus room for the rest of
# the message (rules as data: the one table of request sizes).
MESSAGE_LIMITS: dict[str, int] = {
    # 9 attachments (IntakeSettings.max_attachments) of 5 MiB (attachment_max_bytes).
    "/lianxin.intake.v1.IntakeService/SubmitCase": 46 * MIB,
    # 9 result photos (routing's steps/checks.py MAX_PHOTOS) of 5 MiB (photo_max_bytes).
    "/lianxin.routing.v1.RoutingService/ResolveCase": 46 * MIB,
    # A district's units, buildings, households or persons file.
    "/lianxin.registry.v1.RegistryService/ImportData": 64 * MIB,
}


def message_limit(method: str, limits: Mapping[str, int] | None = None) -> int:
    return (MESSAGE_LIMITS if limits is None else limits).get(method, DEFAULT_MESSAGE_BYTES)


def max_receive_bytes(package: str, limits: Mapping[str, int] | None = None) -> int:
    """The server receive limit for the service(s) in proto package `package`
    (e.g. "lianxin.intake.v1"): its largest RPC limit."""
    table = MESSAGE_LIMITS if limits is None else limits
    sizes = [n for m, n in table.items() if m.startswith(f"/{package}.")]
    return max([DEFAULT_MESSAGE_BYTES, *sizes])


class Refused:
    """What the deserializer returns for a request refused before it was parsed."""

    __slots__ = ("error",)

    def __init__(self, error: LianxinError) -> None:
        self.error = error


def _deserializer(
    method: str, parse: Callable[[bytes], Any] | None, limit: int
) -> Callable[[bytes], Any]:
    type_name = method.rsplit("/", 1)[-1] + "Request"

    def deserialize(raw: bytes) -> Any:
        if len(raw) > limit:
            return Refused(
                ResourceExhausted(
                    f"the request is {len(raw)} bytes; {method} takes at most {limit}",
                    reason="MESSAGE_TOO_LARGE",
                    metadata={"limit_bytes": str(limit), "size_bytes": str(len(raw))},
                )
            )
        if parse is None:
            return raw
        try:
            return parse(raw)
        except Exception:
            return Refused(
                InvalidArgument(
                    [("request", f"is not a valid {type_name} message (undecodable bytes)")],
                    reason="UNDECODABLE_REQUEST",
                )
            )

    return deserialize


def _check(request: Any) -> None:
    if isinstance(request, Refused):
        raise request.error
    if hasattr(request, "ListFields"):
        found = shape_violations(request)
        if found:
            raise InvalidArgument(found)


class RequestGuardInterceptor(_WrappingInterceptor):
    """Size, decoding and shape checks of every request (see the module doc). Install it
    innermost (after the error interceptor), so its refusals are mapped and counted."""

    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        super().__init__()
        self.limits = MESSAGE_LIMITS if limits is None else limits

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if method.startswith("/grpc."):  # health and reflection: their own business
            return handler
        deserialize = _deserializer(
            method, handler.request_deserializer, message_limit(method, self.limits)
        )
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                _check(request)
                return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_s = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                _check(request)
                async for item in inner_s(request, context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        return handler
