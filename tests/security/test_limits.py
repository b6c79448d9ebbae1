"""Per-caller rate limits (a real intake server), default deadlines on outgoing calls,
strict page tokens, escaped LIKE patterns and the request-size table."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1.intake_service_pb2_grpc import IntakeServiceStub
from services.common import paging
from services.common.errors import InvalidArgument
from services.common.guard import DEFAULT_MESSAGE_BYTES, MESSAGE_LIMITS, max_receive_bytes
from services.common.interceptors import client_chain, with_deadline
from services.common.ratelimit import TokenBuckets
from services.common.validate import LIKE_ESCAPE, escape_like, like_prefix
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import running, settings_for
from tests.security.caller import fuzz_metadata
from tests.security.strategies import BAD_TOKENS


def retry_delay(err: grpc.aio.AioRpcError) -> float | None:
    status = rpc_status.from_call(err)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


async def test_a_caller_over_its_rate_gets_resource_exhausted_with_retry_info(
    tmp_path: Path, nats_url: str
) -> None:
    settings = settings_for(
        IntakeSettings, tmp_path, nats_url, rate_limit_per_second=0.01, rate_limit_burst=3
    )
    async with (
        running(create_server, settings) as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        stub = IntakeServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        first = fuzz_metadata("cli:first")
        codes = []
        for _ in range(4):
            try:
                await stub.GetCase(svc.GetCaseRequest(case_id="c"), metadata=first)
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
                last = exc
        assert codes[:3] == [grpc.StatusCode.NOT_FOUND] * 3  # the burst is let in
        assert codes[3] == grpc.StatusCode.RESOURCE_EXHAUSTED
        delay = retry_delay(last)
        assert delay is not None and 0 < delay <= 100.0  # one request a 100 s
        # Another caller has a bucket of its own; health checks are never limited.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetCase(svc.GetCaseRequest(case_id="c"), metadata=fuzz_metadata())
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        for _ in range(10):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # Our own services calling each other are not limited (by default).
        service = callers.md(callers.service("registry"))
        for _ in range(10):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetCase(svc.GetCaseRequest(case_id="c"), metadata=service)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        # Streams count too.
        call = stub.WatchCases(svc.WatchCasesRequest(), metadata=first)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_bucket_refills_at_its_rate_and_holds_at_most_its_burst() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0], max_buckets=2)
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    now[0] = 100.0  # a long pause fills the bucket only to its burst
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") > 0
    buckets.take("b")
    buckets.take("c")  # three callers, room for two: the least recent goes
    assert "a" not in buckets._buckets and len(buckets._buckets) == 2
    assert TokenBuckets(rate=0, burst=1).take("x") == 0.0  # 0: no limit


async def test_an_outgoing_call_without_a_timeout_gets_the_default_deadline() -> None:
    never = asyncio.Event()

    async def silent(request: bytes, context: Any) -> bytes:  # never answers
        await never.wait()
        return b""

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "test.Silent", {"Wait": grpc.unary_unary_rpc_method_handler(silent)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=client_chain(default_timeout=0.2)
        ) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Silent/Wait")(b"")
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        def blocking() -> grpc.StatusCode:
            with with_deadline(grpc.insecure_channel(f"127.0.0.1:{port}"), unary=0.2) as ch:
                try:
                    ch.unary_unary("/test.Silent/Wait")(b"")
                except grpc.RpcError as exc:
                    return exc.code()
            return grpc.StatusCode.OK

        assert await asyncio.to_thread(blocking) == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        never.set()
        await server.stop(0)


@pytest.mark.parametrize("bad", BAD_TOKENS, ids=range(len(BAD_TOKENS)))
def test_a_token_the_service_did_not_issue_is_invalid_argument(bad: str) -> None:
    schema = {"after": str, "seq": int, "o": int, "q": str, "u": str, "k": int, "s": str}
    with pytest.raises(InvalidArgument) as caught:
        paging.read_token(bad, schema, field="cursor")
    assert caught.value.violations[0][0] == "cursor"


def test_a_token_round_trips_with_its_types() -> None:
    tok = paging.encode_token({"after": "01a2-x", "o": 40, "q": "张三"})
    assert paging.read_token(tok, {"after": str, "o": int, "q": str}) == {
        "after": "01a2-x",
        "o": 40,
        "q": "张三",
    }
    assert paging.read_token("", {"after": str, "seq": int}) == {"after": "", "seq": 0}
    with pytest.raises(InvalidArgument):
        paging.read_token(tok, {"after": str})  # keys it does not know


def test_like_patterns_from_user_text_match_only_that_text() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (code TEXT)")
    codes = ["370402", "370402003", "37%", "3_0402", "a\\b", "370_x"]
    conn.executemany("INSERT INTO t VALUES (?)", [(c,) for c in codes])

    def under(prefix: str) -> list[str]:
        q = f"SELECT code FROM t WHERE code LIKE ? ESCAPE '{LIKE_ESCAPE}' ORDER BY code"
        return [r[0] for r in conn.execute(q, (like_prefix(prefix),))]

    assert under("%") == []
    assert under("37%") == ["37%"]
    assert under("3_") == ["3_0402"]
    assert under("a\\") == ["a\\b"]
    assert under("370402") == ["370402", "370402003"]
    assert escape_like("50%_\\") == "50\\%\\_\\\\"


def test_only_uploads_may_send_big_requests() -> None:
    assert DEFAULT_MESSAGE_BYTES <= 64 * 1024
    assert set(MESSAGE_LIMITS) == {
        "/lianxin.intake.v1.IntakeService/SubmitCase",
        "/lianxin.routing.v1.RoutingService/ResolveCase",
        "/lianxin.registry.v1.RegistryService/ImportData",
    }
    # SubmitCase's limit holds what intake's validation lets through.
    s = IntakeSettings()
    assert MESSAGE_LIMITS["/lianxin.intake.v1.IntakeService/SubmitCase"] > (
        s.max_attachments * s.attachment_max_bytes
    )
    assert max_receive_bytes("lianxin.notify.v1") == DEFAULT_MESSAGE_BYTES
    assert max_receive_bytes("lianxin.intake.v1") == 46 * 1024 * 1024
