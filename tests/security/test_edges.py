"""Edges that never break, each cause the issue measured, against the real services:
out-of-range Timestamps, page tokens that nest, carry huge integers, booleans or
Infinity, NUL in a search, a LIKE pattern past SQLite's limit, `%` as a unit code, errors
echoing unbounded input, oversized requests, refused requests writing files."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.registry.v1 import registry_service_pb2 as reg_svc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common.guard import DEFAULT_MESSAGE_BYTES
from services.common.natsserver import NatsServer, free_port
from tests.conftest import error_details, violations
from tests.routing.helpers import XINZHUANG, point_in, routed, submission
from tests.security.caller import fuzz_metadata
from tests.system import System, running_system

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
MD = fuzz_metadata()


def token(value: Any) -> str:
    raw = json.dumps(value, allow_nan=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def nested(depth: int) -> str:
    return base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).decode().rstrip("=")


@pytest.fixture(scope="module")
def edge_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = NatsServer(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def edges(
    tmp_path_factory: pytest.TempPathFactory, edge_nats: str
) -> AsyncIterator[tuple[System, Path, str]]:
    data = tmp_path_factory.mktemp("edges")
    async with running_system(data, edge_nats) as system:
        made = await system.intake.SubmitCase(
            submission("edge-seed", point=point_in(XINZHUANG)), metadata=MD
        )
        await routed(system, made.case.id)
        yield system, data, made.case.id


def files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


# (service, method, request, the field the violation names): each one an INTERNAL before.
CAUSES = [
    ("intake", "ListCases", intake_svc.ListCasesRequest(start_time=ts(-62135596801)), "start_time"),
    ("intake", "ListCases", intake_svc.ListCasesRequest(end_time=ts(1, 10**9)), "end_time"),
    (
        "routing",
        "SuperviseCase",
        routing_svc.SuperviseCaseRequest(case_id="c", deadline_time=ts(253402300799)),
        "deadline_time",
    ),
    (
        "registry",
        "ListDepartments",
        reg_svc.ListDepartmentsRequest(page_token=nested(5000)),
        "page_token",
    ),
    (
        "registry",
        "ListAccessLog",
        reg_svc.ListAccessLogRequest(page_token=token({"before": 10**40})),
        "page_token",
    ),
    (
        "intake",
        "ListStatusChanges",
        intake_svc.ListStatusChangesRequest(page_token=token({"seq": True})),
        "page_token",
    ),
    (
        "intake",
        "ListStatusChanges",
        intake_svc.ListStatusChangesRequest(page_token=token({"seq": float("inf")})),
        "page_token",
    ),
    (
        "registry",
        "SearchRegistry",
        reg_svc.SearchRegistryRequest(
            page_token=token({"o": 10**30, "q": "张三", "u": ""}), query="张三"
        ),
        "page_token",
    ),
    ("registry", "SearchRegistry", reg_svc.SearchRegistryRequest(query="张\x00三"), "query"),
    ("registry", "ListStaff", reg_svc.ListStaffRequest(skill="a" * 50_001), "skill"),
    ("intake", "ListCases", intake_svc.ListCasesRequest(unit_code="%" * 20_000), "unit_code"),
    ("intake", "ListCases", intake_svc.ListCasesRequest(status=99), "status"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("service", "method", "request_", "field"),
    CAUSES,
    ids=[f"{c[1]}-{c[3]}-{i}" for i, c in enumerate(CAUSES)],
)
async def test_each_cause_of_an_internal_error_is_now_invalid_argument_on_its_field(
    edges: tuple[System, Path, str], service: str, method: str, request_: Any, field: str
) -> None:
    system = edges[0]
    stub = getattr(system, service)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(stub, method)(request_, metadata=MD)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert field in violations(caught.value)


async def test_a_watch_cursor_with_infinity_or_nesting_is_invalid_argument(
    edges: tuple[System, Path, str],
) -> None:
    system = edges[0]
    for cursor in (token({"seq": float("inf")}), nested(3000), token({"seq": 2**64})):
        call = system.intake.WatchCases(intake_svc.WatchCasesRequest(cursor=cursor), metadata=MD)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == {"cursor"}


async def test_percent_and_underscore_in_a_unit_code_match_only_themselves(
    edges: tuple[System, Path, str],
) -> None:
    system, _, case_id = edges
    district = await system.intake.ListCases(
        intake_svc.ListCasesRequest(unit_code="370402"), metadata=MD
    )
    assert case_id in [c.id for c in district.cases]
    for pattern in ("%", "3704%", "370402_0%", "\\"):
        got = await system.intake.ListCases(
            intake_svc.ListCasesRequest(unit_code=pattern), metadata=MD
        )
        assert list(got.cases) == [], pattern
        queue = await system.routing.ListWorkQueue(
            routing_svc.ListWorkQueueRequest(unit_code=pattern), metadata=MD
        )
        assert list(queue.cases) == [], pattern
    queue = await system.routing.ListWorkQueue(
        routing_svc.ListWorkQueueRequest(unit_code="370402"), metadata=MD
    )
    assert case_id in [c.id for c in queue.cases]


async def test_errors_echo_a_clipped_copy_of_what_was_sent(
    edges: tuple[System, Path, str],
) -> None:
    system = edges[0]
    long_id = "x" * 16_000  # under the string limit: a NOT_FOUND that names it
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=long_id), metadata=MD)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # not RESOURCE_EXHAUSTED
    assert len(caught.value.details()) <= 1000
    info, _ = error_details(caught.value)
    assert info.metadata["case_id"].startswith("xxxx") and len(info.metadata["case_id"]) <= 200
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.intake.GetCase(intake_svc.GetCaseRequest(case_id="y" * 20_000), metadata=MD)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(caught.value.details()) <= 1000
    many = routing_svc.ListWorkQueueRequest(unit_code="370402\x00" * 2000)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.routing.ListWorkQueue(many, metadata=MD)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert all(len(d) <= 300 for d in violations(caught.value).values())


async def test_a_request_over_its_rpc_limit_is_refused_before_it_is_parsed(
    edges: tuple[System, Path, str],
) -> None:
    system = edges[0]
    big = intake_svc.GetCaseRequest(case_id="z" * (DEFAULT_MESSAGE_BYTES + 10))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.intake.GetCase(big, metadata=MD)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info, _ = error_details(caught.value)
    assert info.reason == "MESSAGE_TOO_LARGE"
    assert info.metadata["limit_bytes"] == str(DEFAULT_MESSAGE_BYTES)
    # notify takes no upload: its server does not even receive a 1 MiB message.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.notify.GetDelivery(
            notify_svc.GetDeliveryRequest(delivery_id="d" * (1 << 20)), metadata=MD
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_undecodable_bytes_are_invalid_argument_with_a_bad_request(
    edges: tuple[System, Path, str],
) -> None:
    address = edges[0].hosts["intake"].address
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary("/lianxin.intake.v1.IntakeService/GetCase")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(b"\x0a\x02\xc3\x28", metadata=MD)  # case_id: invalid UTF-8
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request" in violations(caught.value)


async def test_refused_requests_write_no_attachment_or_photo(
    edges: tuple[System, Path, str],
) -> None:
    system, data, case_id = edges
    attachments, photos = data / "intake" / "attachments", data / "routing" / "photos"
    before = (files(attachments), files(photos))
    bad = submission("edge-bad", point=point_in(XINZHUANG), category="no_such_category")
    bad.attachments.add(filename="a.jpg", content_type="image/jpeg", content=JPEG)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.intake.SubmitCase(bad, metadata=MD)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A resubmission that differs from the first: refused, and nothing is stored.
    again = submission("edge-seed", point=point_in(XINZHUANG))
    again.description = "another text"
    again.attachments.add(filename="b.jpg", content_type="image/jpeg", content=JPEG + b"b")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.intake.SubmitCase(again, metadata=MD)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # Resolving a case nobody accepted yet: refused before its photo is written.
    resolve = routing_svc.ResolveCaseRequest(case_id=case_id, result="修好了")
    resolve.photos.add(filename="p.jpg", content_type="image/jpeg", content=JPEG + b"p")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.routing.ResolveCase(resolve, metadata=MD)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    too_many = routing_svc.ResolveCaseRequest(case_id=case_id, result="修好了")
    for i in range(10):
        too_many.photos.add(filename=f"{i}.jpg", content_type="image/jpeg", content=JPEG)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await system.routing.ResolveCase(too_many, metadata=MD)
    assert "photos" in violations(caught.value)
    assert (files(attachments), files(photos)) == before
    case = (await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=case_id))).case
    assert case.status == routing_res.CASE_STATUS_DISPATCHED


async def test_a_valid_submission_with_an_attachment_still_stores_it(
    edges: tuple[System, Path, str],
) -> None:
    system, data, _ = edges
    attachments = data / "intake" / "attachments"
    before = files(attachments)
    ok = submission("edge-ok", point=point_in(XINZHUANG))
    ok.attachments.add(filename="ok.jpg", content_type="image/jpeg", content=JPEG + b"ok")
    made = await system.intake.SubmitCase(ok, metadata=MD)
    assert made.created and made.case.attachments[0].size_bytes == len(JPEG) + 2
    assert files(attachments) == before + 1
    assert made.case.channel == intake_res.CHANNEL_GRID_APP
