"""Cross-cutting work for every RPC, written once: request ids, tracing, RED metrics, the
access log, error mapping. Each is a `grpc.aio.ServerInterceptor`; the server installs
them outermost first in `server_chain()` order. Server and client spans are
`opentelemetry-instrumentation-grpc`'s (semantic-convention attributes, span kind, status
from the gRPC code: on the server only UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
INTERNAL, UNAVAILABLE and DATA_LOSS are errors, so a caller's INVALID_ARGUMENT is not).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor

from services.common import logs, telemetry
from services.common.errors import (
    DOMAIN,
    MAX_DESCRIPTION_CHARS,
    MAX_FIELD_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_METADATA_CHARS,
    MAX_VIOLATIONS,
    InvalidArgument,
    LianxinError,
    ResourceExhausted,
    clip,
)
from services.common.ids import uuid7

log = logging.getLogger(__name__)
access_log = logging.getLogger("lianxin.access")
_QUIET = ("grpc.health.", "grpc.reflection.")

REQUEST_ID_KEY = "x-request-id"

request_id_var = logs.request_id_var
actor_var: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="anonymous")

Unary = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Streaming = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class _WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Base: wraps unary and server-streaming handlers with `around` / `around_stream`.

    The handler a continuation returns is the same object for every call of a method, so
    the wrapped handler is made once per method and reused (this is on every RPC's path).
    """

    def __init__(self) -> None:
        self._wrapped: dict[int, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def around(
        self, call: Unary, request: Any, context: grpc.aio.ServicerContext, method: str
    ) -> Any:
        return await call(request, context)

    async def around_stream(
        self, call: Streaming, request: Any, context: grpc.aio.ServicerContext, method: str
    ) -> AsyncIterator[Any]:
        async for item in call(request, context):
            yield item

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        cached = self._wrapped.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, details.method)
        self._wrapped[id(handler)] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                return await self.around(inner, request, context, method)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_s = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async for item in self.around_stream(inner_s, request, context, method):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


class RequestIdInterceptor(_WrappingInterceptor):
    """Takes `x-request-id` (or makes one) and the caller identity into contextvars, and
    echoes the request id back in the trailers so a caller can quote it."""

    def _enter(self, context: grpc.aio.ServicerContext) -> list[contextvars.Token[str]]:
        md = _metadata(context)
        rid = md.get(REQUEST_ID_KEY) or uuid7()
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        # The caller is set by the authorization interceptor once its token is verified.
        return [request_id_var.set(rid), actor_var.set("anonymous")]

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        tokens = self._enter(context)
        try:
            return await call(request, context)
        finally:
            actor_var.reset(tokens[1])
            request_id_var.reset(tokens[0])

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if handler.unary_stream is None:
            return super()._wrap(handler, method)
        inner = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> None:
            """The outermost stream handler writes instead of yielding, so when the call
            ends early (the client cancels, the deadline passes) the streams inside it are
            closed here, in this RPC's task and context. A generator left suspended at a
            `yield` is closed later by the garbage collector in another context, where
            every context variable reset inside it fails ("was created in a different
            Context", logged as errors; grpc/grpc#42295)."""
            tokens = self._enter(context)
            responses = inner(request, context)
            try:
                async for item in responses:
                    await context.write(item)
            finally:
                await responses.aclose()
                actor_var.reset(tokens[1])
                request_id_var.reset(tokens[0])

        return grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class CaseInterceptor(_WrappingInterceptor):
    """Names the case a request is about (its `case_id` field) on the span and in logs."""

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        telemetry.label_case(getattr(request, "case_id", "") or "")
        return await call(request, context)


class MetricsInterceptor(_WrappingInterceptor):
    """RED metrics (`lianxin_grpc_server_handled_total`, `…_handling_seconds`, open
    streams) and the access log: one INFO line per RPC with method, code, duration and
    caller."""

    def __init__(self) -> None:
        super().__init__()
        self._handled: dict[tuple[str, str], Any] = {}
        self._seconds: dict[str, Any] = {}

    @staticmethod
    def _names(method: str) -> tuple[str, str]:
        service, _, name = method.lstrip("/").rpartition("/")
        return service, name

    def _count(self, method: str, code: str) -> None:
        child = self._handled.get((method, code))
        if child is None:
            child = self._handled[(method, code)] = telemetry.GRPC_HANDLED.labels(
                *self._names(method), code
            )
        child.inc()

    def _observe(self, method: str, seconds: float) -> None:
        child = self._seconds.get(method)
        if child is None:
            child = self._seconds[method] = telemetry.GRPC_SECONDS.labels(*self._names(method))
        child.observe(seconds)

    def _done(self, method: str, code: str, start: float, peer: str, *, stream: bool) -> None:
        seconds = time.perf_counter() - start
        self._count(method, code)
        if not stream:  # a stream lasts as long as its follower: not a latency
            self._observe(method, seconds)
        service, name = self._names(method)
        # Probes (health) and tools (reflection) every few seconds would drown the log.
        level = logging.DEBUG if service.startswith(_QUIET) else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "%s %s %.1fms",
                method,
                code,
                seconds * 1000,
                extra={
                    "grpc_service": service,
                    "grpc_method": name,
                    "grpc_code": code,
                    "duration_ms": round(seconds * 1000, 3),
                    "caller": actor_var.get(),
                    "peer": peer,
                },
            )

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        start = time.perf_counter()
        peer = context.peer()
        code = "OK"
        try:
            return await call(request, context)
        except LianxinError as exc:
            code = exc.code.name
            raise
        except BaseException:
            c = context.code()
            code = c.name if isinstance(c, grpc.StatusCode) else "UNKNOWN"
            raise
        finally:
            self._done(method, code, start, peer, stream=False)

    async def around_stream(
        self, call: Streaming, request: Any, context: Any, method: str
    ) -> AsyncIterator[Any]:
        start = time.perf_counter()
        peer = context.peer()
        code = "OK"
        active = telemetry.GRPC_STREAMS.labels(*self._names(method))
        active.inc()
        try:
            async for item in call(request, context):
                yield item
        except LianxinError as exc:
            code = exc.code.name
            raise
        except BaseException:
            c = context.code()
            code = c.name if isinstance(c, grpc.StatusCode) else "CANCELLED"
            raise
        finally:
            active.dec()
            self._done(method, code, start, peer, stream=True)


def register_methods(
    full_service_name: str, method_names: list[str], *, client: bool = False
) -> None:
    """Every (method, code) of a service's RPCs exists at 0 from start, so a panel shows 0
    rather than "no data": on the server that serves them (with its streams gauge), or
    with `client=True` in a process that calls them (`lianxin_grpc_client_*`)."""
    if client:
        handled, seconds = telemetry.GRPC_CLIENT_HANDLED, telemetry.GRPC_CLIENT_SECONDS
    else:
        handled, seconds = telemetry.GRPC_HANDLED, telemetry.GRPC_SECONDS
    for name in method_names:
        for code in telemetry.GRPC_CODES:
            handled.labels(full_service_name, name, code)
        seconds.labels(full_service_name, name)
        if not client:
            telemetry.GRPC_STREAMS.labels(full_service_name, name)


def register_client_methods(service: ServiceDescriptor) -> None:
    """The client-side series of the unary RPCs of `service` (a generated descriptor:
    `<pkg>_pb2.DESCRIPTOR.services_by_name[...]`) at 0, for a process that opens a channel
    to it; streams are not counted by `ClientContextInterceptor`, so not primed."""
    unary = [m.name for m in service.methods if not (m.client_streaming or m.server_streaming)]
    register_methods(service.full_name, unary, client=True)


def to_status(exc: LianxinError) -> grpc.Status:
    """A domain error as `google.rpc.Status` with ErrorInfo and, for bad input, BadRequest;
    RetryInfo when the error says when to retry. Every text that may echo the request is
    clipped here (the one place), so an error stays small whatever was sent."""
    details: list[any_pb2.Any] = []
    info = error_details_pb2.ErrorInfo(
        reason=clip(exc.reason, MAX_FIELD_CHARS),
        domain=DOMAIN,
        metadata={
            clip(k, MAX_FIELD_CHARS): clip(str(v), MAX_METADATA_CHARS)
            for k, v in list(exc.metadata.items())[:MAX_VIOLATIONS]
        },
    )
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if isinstance(exc, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=clip(f, MAX_FIELD_CHARS), description=clip(d, MAX_DESCRIPTION_CHARS)
                )
                for f, d in exc.violations[:MAX_VIOLATIONS]
            ]
        )
        packed_bad = any_pb2.Any()
        packed_bad.Pack(bad)
        details.append(packed_bad)
    if isinstance(exc, ResourceExhausted) and exc.retry_after is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(max(1, int(exc.retry_after * 1e9)))
        packed_retry = any_pb2.Any()
        packed_retry.Pack(retry)
        details.append(packed_retry)
    message = exc.message
    if isinstance(exc, InvalidArgument) and len(exc.violations) > MAX_VIOLATIONS:
        message = f"{message} (first {MAX_VIOLATIONS} of {len(exc.violations)} shown)"
    status = status_pb2.Status(
        code=exc.code.value[0], message=clip(message, MAX_MESSAGE_CHARS), details=details
    )
    return rpc_status.to_status(status)


async def _abort_with(context: Any, status: grpc.Status) -> None:
    # What `abort_with_status` does, through `abort` so that the tracing wrapper of the
    # context records the code on the span.
    await context.abort(status.code, status.details, status.trailing_metadata)


class ErrorInterceptor(_WrappingInterceptor):
    """Domain errors → their code with details; anything unexpected → INTERNAL with the
    request id, and a log line with the traceback."""

    async def _abort(self, exc: BaseException, context: Any, method: str) -> None:
        if isinstance(exc, LianxinError):
            await _abort_with(context, to_status(exc))
        rid = request_id_var.get()
        log.exception("%s failed (request id %s): %s", method, rid, exc)
        status = status_pb2.Status(
            code=code_pb2.INTERNAL, message=f"internal error; request id {rid}"
        )
        await _abort_with(context, rpc_status.to_status(status))

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        try:
            return await call(request, context)
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            await self._abort(exc, context, method)

    async def around_stream(
        self, call: Streaming, request: Any, context: Any, method: str
    ) -> AsyncIterator[Any]:
        try:
            async for item in call(request, context):
                yield item
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            await self._abort(exc, context, method)


def server_chain(*inner: grpc.aio.ServerInterceptor) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every server installs, outermost first; `inner` (authorization)
    goes inside the metrics, so refused calls are counted and logged, and outside the
    error mapping."""
    return [
        RequestIdInterceptor(),
        aio_server_interceptor(),
        CaseInterceptor(),
        MetricsInterceptor(),
        *inner,
        ErrorInterceptor(),
    ]


DEFAULT_CLIENT_DEADLINE = 30.0


class ClientContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Outgoing calls carry the request id of the current work, have a deadline (the
    caller's, else `default_timeout` seconds: no call waits forever on a stuck peer) and
    are counted (`lianxin_grpc_client_handled_total`, `…_handling_seconds`); the trace
    context is added by the tracing interceptor inside this one."""

    def __init__(self, default_timeout: float = DEFAULT_CLIENT_DEADLINE) -> None:
        self.default_timeout = default_timeout

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        md = list(client_call_details.metadata or ())
        if rid := request_id_var.get():
            md.append((REQUEST_ID_KEY, rid))
        details = client_call_details._replace(metadata=md)
        if details.timeout is None:
            details = details._replace(timeout=self.default_timeout)
        method = client_call_details.method
        if isinstance(method, bytes):
            method = method.decode()
        service, _, name = method.lstrip("/").rpartition("/")
        start = time.perf_counter()
        code = "UNKNOWN"
        try:
            call = await continuation(details, request)
            code = (await call.code()).name
            return call
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
            raise
        finally:
            telemetry.GRPC_CLIENT_HANDLED.labels(service, name, code).inc()
            telemetry.GRPC_CLIENT_SECONDS.labels(service, name).observe(time.perf_counter() - start)


class _Bearer:
    """Adds `authorization: Bearer <token>` to calls that carry no token of their own;
    `token` is asked on every call (it renews itself)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def _details(self, details: Any) -> Any:
        md = list(details.metadata or ())
        if any(k == "authorization" for k, _ in md):
            return details
        token = self._token()
        if token:
            md.append(("authorization", f"Bearer {token}"))
        return details._replace(metadata=md)


class _BearerUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _BearerStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


def bearer_interceptors(token: Callable[[], str]) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors adding the caller's token to unary and server-streaming calls
    (an aio channel sorts each interceptor into one kind only, so there are two)."""
    return [_BearerUnary(token), _BearerStream(token)]


def client_chain(
    token: Callable[[], str] | None = None, *, default_timeout: float = DEFAULT_CLIENT_DEADLINE
) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors of every client channel, outermost first: metrics, request id and
    default deadline, the caller's token, then the client span (which injects
    `traceparent`)."""
    bearer = bearer_interceptors(token) if token is not None else []
    return [ClientContextInterceptor(default_timeout), *bearer, *aio_client_interceptors()]


class DefaultDeadline(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Blocking (non-aio) channels, e.g. the CLI's: a call without a timeout gets one, so
    no command hangs on a service that never answers."""

    def __init__(self, unary: float, stream: float) -> None:
        self.unary = unary
        self.stream = stream

    @staticmethod
    def _with(details: Any, timeout: float) -> Any:
        if details.timeout is not None:
            return details
        return CallDetails(
            details.method,
            timeout,
            details.metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with(details, self.unary), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with(details, self.stream), request)


class CallDetails(grpc.ClientCallDetails):
    """A blocking channel's call details, some of them changed by an interceptor."""

    def __init__(
        self,
        method: str,
        timeout: float | None,
        metadata: Any,
        credentials: Any,
        wait_for_ready: bool | None,
        compression: Any,
    ) -> None:
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


def with_deadline(
    channel: grpc.Channel, *, unary: float = DEFAULT_CLIENT_DEADLINE, stream: float = 3600.0
) -> grpc.Channel:
    """`channel` whose calls without a timeout get `unary` seconds (streams, e.g. an
    import: `stream`)."""
    return grpc.intercept_channel(channel, DefaultDeadline(unary, stream))
