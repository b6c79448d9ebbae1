"""Cross-cutting work for every RPC, written once: request ids, tracing, RED metrics,
error mapping. Each is a `grpc.aio.ServerInterceptor`; the server installs them outermost
first in `SERVER_CHAIN` order.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common import telemetry
from services.common.errors import DOMAIN, InvalidArgument, LianxinError
from services.common.ids import uuid7

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "x-request-id"
ACTOR_KEY = "x-lianxin-actor"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
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
        # The identity seam: JWT verification plugs in here and sets role and jurisdiction.
        return [request_id_var.set(rid), actor_var.set(md.get(ACTOR_KEY) or "anonymous")]

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        tokens = self._enter(context)
        try:
            return await call(request, context)
        finally:
            actor_var.reset(tokens[1])
            request_id_var.reset(tokens[0])

    async def around_stream(
        self, call: Streaming, request: Any, context: Any, method: str
    ) -> AsyncIterator[Any]:
        tokens = self._enter(context)
        try:
            async for item in call(request, context):
                yield item
        finally:
            actor_var.reset(tokens[1])
            request_id_var.reset(tokens[0])


class TracingInterceptor(_WrappingInterceptor):
    """A server span per RPC, child of the caller's `traceparent` when there is one."""

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        ctx = telemetry.extract_context(_metadata(context))
        with telemetry.tracer().start_as_current_span(
            method.lstrip("/"), context=ctx, attributes={"rpc.system": "grpc"}
        ):
            return await call(request, context)


class MetricsInterceptor(_WrappingInterceptor):
    """RED metrics: `lianxin_grpc_server_handled_total` and `…_handling_seconds`."""

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

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        start = time.perf_counter()
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
            self._count(method, code)
            self._observe(method, time.perf_counter() - start)

    async def around_stream(
        self, call: Streaming, request: Any, context: Any, method: str
    ) -> AsyncIterator[Any]:
        code = "OK"
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
            self._count(method, code)


def to_status(exc: LianxinError) -> grpc.Status:
    """A domain error as `google.rpc.Status` with ErrorInfo and, for bad input, BadRequest."""
    details: list[any_pb2.Any] = []
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN, metadata=exc.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if isinstance(exc, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in exc.violations
            ]
        )
        packed_bad = any_pb2.Any()
        packed_bad.Pack(bad)
        details.append(packed_bad)
    status = status_pb2.Status(code=exc.code.value[0], message=exc.message, details=details)
    return rpc_status.to_status(status)


class ErrorInterceptor(_WrappingInterceptor):
    """Domain errors → their code with details; anything unexpected → INTERNAL with the
    request id, and a log line with the traceback."""

    async def _abort(self, exc: BaseException, context: Any, method: str) -> None:
        if isinstance(exc, LianxinError):
            await context.abort_with_status(to_status(exc))
        rid = request_id_var.get()
        log.exception("%s failed (request id %s)", method, rid)
        status = status_pb2.Status(
            code=code_pb2.INTERNAL, message=f"internal error; request id {rid}"
        )
        await context.abort_with_status(rpc_status.to_status(status))

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


def server_chain() -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every server installs, outermost first."""
    return [RequestIdInterceptor(), TracingInterceptor(), MetricsInterceptor(), ErrorInterceptor()]


class ClientContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Outgoing calls carry the trace, the request id and the actor of the current work."""

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        md = list(client_call_details.metadata or ())
        md.extend(telemetry.inject_headers().items())
        if rid := request_id_var.get():
            md.append((REQUEST_ID_KEY, rid))
        details = client_call_details._replace(metadata=md)
        return await continuation(details, request)
