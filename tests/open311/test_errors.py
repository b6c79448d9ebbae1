"""Bad input gets the spec's error bodies — 400, 403 or 404 with `[{code, description}]`
in the format asked for, each description naming the parameter — and creates nothing.
Every gRPC status code has its HTTP status, and a dependency that is down is a 503."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import pytest

from services.open311.app import create_server
from services.open311.config import Open311Settings
from services.open311.errors import HTTP_STATUS
from tests.open311.conftest import Setup
from tests.open311.helpers import errors_of, open311_cases, post, report, submitted

FORMATS = ["xml", "json"]

# (what is wrong, how the form changes, status, words the description must contain)
BAD_POSTS = [
    ("missing service_code", {"service_code": ""}, 400, ["service_code", "is required"]),
    ("unknown code", {"service_code": "ufo_sighting"}, 400, ["service_code", "ufo_sighting"]),
    ("no location", {"lat": "", "long": "", "address_string": ""}, 400, ["address_string"]),
    ("lat 91", {"lat": "91"}, 400, ["lat:", "between -90 and 90"]),
    ("long 181", {"long": "181"}, 400, ["long:", "between -180 and 180"]),
    ("lat not a number", {"lat": "north"}, 400, ["lat:", "not a number"]),
    ("lat without long", {"long": ""}, 400, ["lat/long", "both"]),
    ("4,001 characters", {"description": "灯" * 4001}, 400, ["description:", "4001", "4000"]),
    ("garbage attribute", {"attribute[WHISHETN]": "x"}, 400, ["attribute[WHISHETN]"]),
    ("malformed attribute", {"attribute[": "x"}, 400, ["attribute[", "attribute[CODE]"]),
    ("bad email", {"email": "not-an-address"}, 400, ["email"]),
    ("bad phone", {"phone": "call me"}, 400, ["phone:", "digits"]),
    ("bad media_url", {"media_url": "ftp://x/y.jpg"}, 400, ["media_url", "http"]),
    ("control characters", {"description": "灯\x00坏"}, 400, ["description", "control"]),
    ("bad key", {"api_key": "o311_0123456789_" + "x" * 43}, 403, ["api_key"]),
    ("no key", {"api_key": ""}, 403, ["api_key"]),
    ("other jurisdiction", {"jurisdiction_id": "110105"}, 404, ["jurisdiction_id", "110105"]),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("what", "change", "status", "words"), BAD_POSTS, ids=[b[0] for b in BAD_POSTS]
)
async def test_a_bad_post_gets_the_specs_error_and_creates_nothing(
    o311: Setup, fmt: str, what: str, change: dict[str, str], status: int, words: list[str]
) -> None:
    before = await open311_cases(o311)
    r = await post(o311, {**report(o311), **change}, fmt)
    assert r.status_code == status, r.text
    errors = errors_of(r, fmt)
    assert {code for code, _ in errors} == {status}
    text = " | ".join(d for _, d in errors)
    assert all(w in text for w in words), text
    assert await open311_cases(o311) == before


async def test_every_problem_of_a_post_is_named_at_once(o311: Setup) -> None:
    form = {**report(o311), "service_code": "", "lat": "north", "email": "x", "attribute[": "1"}
    r = await post(o311, form)
    described = [d.split(":")[0] for _, d in errors_of(r, "json")]
    assert r.status_code == 400
    assert set(described) == {"service_code", "lat", "email", "attribute["}


async def test_a_revoked_key_is_refused(o311: Setup) -> None:
    from services.open311 import keys

    key, row = o311.gateway.db.write_sync(lambda conn: keys.create_key(conn, name="short-lived"))
    assert (await post(o311, report(o311, api_key=key))).status_code == 200
    o311.gateway.db.write_sync(lambda conn: keys.revoke_key(conn, key_id=row["id"]))
    r = await post(o311, report(o311, api_key=key), "xml")
    assert r.status_code == 403 and errors_of(r, "xml")[0][0] == 403


BAD_GETS = [
    ("/services/ufo_sighting.{fmt}", {}, 404, ["service_code", "ufo_sighting"]),
    ("/services.{fmt}", {"jurisdiction_id": "110105"}, 404, ["jurisdiction_id"]),
    ("/requests/no-such-case.{fmt}", {}, 404, ["service_request_id", "no-such-case"]),
    ("/tokens/no-such-token.{fmt}", {}, 404, ["no-such-token"]),
    ("/requests.{fmt}", {"start_date": "yesterday"}, 400, ["start_date", "W3C"]),
    (
        "/requests.{fmt}",
        {"start_date": "2014-01-01T00:00:00+08:00", "end_date": "2014-06-01T00:00:00+08:00"},
        400,
        ["start_date/end_date", "90 days"],
    ),
    (
        "/requests.{fmt}",
        {"start_date": "2014-06-01T00:00:00+08:00", "end_date": "2014-05-01T00:00:00+08:00"},
        400,
        ["end_date", "after start_date"],
    ),
    ("/requests.{fmt}", {"status": "pending"}, 400, ["status"]),
    ("/requests.{fmt}", {"service_code": "ufo_sighting"}, 400, ["service_code"]),
    ("/requests.{fmt}", {"page": "0", "page_size": "5000"}, 400, ["page:", "page_size:"]),
    ("/servicerequestupdates.{fmt}", {"end_date": "soon"}, 400, ["end_date"]),
    ("/no-such-resource.{fmt}", {}, 404, ["no such resource"]),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("path", "query", "status", "words"), BAD_GETS)
async def test_a_bad_get_gets_the_specs_error(
    o311: Setup, fmt: str, path: str, query: dict[str, str], status: int, words: list[str]
) -> None:
    r = await o311.http.get(path.format(fmt=fmt), params=query)
    assert r.status_code == status, r.text
    errors = errors_of(r, fmt)
    text = " | ".join(d for _, d in errors)
    assert {c for c, _ in errors} == {status} and all(w in text for w in words), text


async def test_an_unknown_format_is_a_404_in_xml(o311: Setup) -> None:
    r = await o311.http.get("/services.csv")
    assert r.status_code == 404
    assert "csv" in errors_of(r, "xml")[0][1]


def test_every_grpc_status_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(grpc.StatusCode)
    client_errors = {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    for code, status in HTTP_STATUS.items():
        if code == grpc.StatusCode.OK:
            continue
        assert (400 <= status < 500) == (code in client_errors), code
        assert status != 500, code  # never a bare 500


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_service_that_is_down_is_a_503_the_specs_way(tmp_path: Path, fmt: str) -> None:
    settings = Open311Settings(
        http_port=0,
        data_dir=tmp_path,
        intake_target="127.0.0.1:1",
        routing_target="127.0.0.1:1",
        rpc_timeout_seconds=2,
    )
    gateway = await create_server(settings)
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://{gateway.address}") as http:
            r = await http.get(f"/services.{fmt}")
            assert r.status_code in (503, 504) and r.headers["retry-after"] == "1"
            errors = errors_of(r, fmt)
            assert "routing answered" in errors[0][1]
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "intake cannot be reached" in ready.text
    finally:
        await gateway.stop()


async def test_a_retry_with_the_same_key_and_reference_is_one_case(o311: Setup) -> None:
    from services.open311 import keys

    form = report(o311, client_reference="app-report-0001")
    first = await submitted(o311, form)
    before = await open311_cases(o311)
    assert await submitted(o311, form) == first
    # The same reference as a header (Idempotency-Key) is the same request too.
    r = await o311.http.post(
        "/requests.json",
        data={k: v for k, v in form.items() if k != "client_reference"},
        headers={"Idempotency-Key": "app-report-0001"},
    )
    assert r.json()[0]["service_request_id"] == first
    assert await open311_cases(o311) == before
    # Another application's key with the same reference is another request.
    other, _ = o311.gateway.db.write_sync(lambda conn: keys.create_key(conn, name="other-app"))
    second = await submitted(o311, {**form, "api_key": other})
    assert second != first
    assert len(await open311_cases(o311)) == len(before) + 1
