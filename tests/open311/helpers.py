"""Helpers for the gateway's tests: strict XML, spec-shaped records, POSTs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from lxml import etree

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from services.common import auth
from tests import callers
from tests.open311.conftest import Setup
from tests.routing.helpers import XINZHUANG, point_in

CST_OFFSET = timedelta(hours=8)
STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)


def pii_reader() -> tuple[tuple[str, str], ...]:
    """A caller intake shows reporters to in full (pii:read with a purpose)."""
    token = callers.staff("370402", role="admin", subject="staff-tester", extra=(auth.PII_READ,))
    return callers.md(token, purpose="data_check")


def strict_xml(response: httpx.Response) -> etree._Element:
    """The body parsed by a parser that refuses anything not well-formed."""
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return etree.fromstring(response.content, STRICT)


def json_body(response: httpx.Response) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert b"\\u" not in response.content  # Chinese as UTF-8, not escaped
    return json.loads(response.content.decode("utf-8"))


def children(el: etree._Element) -> list[str]:
    return [c.tag for c in el]


def record(el: etree._Element) -> dict[str, str]:
    """An XML item's leaf elements as a dict (empty element → "")."""
    return {c.tag: (c.text or "") for c in el}


def district_time(text: str) -> datetime:
    """An ISO 8601 time in the district's UTC offset."""
    dt = datetime.fromisoformat(text)
    assert dt.utcoffset() == CST_OFFSET, text
    return dt


def errors_of(response: httpx.Response, fmt: str) -> list[tuple[int, str]]:
    """The spec's error body, in either format."""
    if fmt == "json":
        body = json_body(response)
        assert isinstance(body, list) and body
        assert all(set(e) == {"code", "description"} for e in body)
        return [(e["code"], e["description"]) for e in body]
    root = strict_xml(response)
    assert root.tag == "errors" and children(root) and set(children(root)) == {"error"}
    out = []
    for e in root:
        assert children(e) == ["code", "description"]
        out.append((int(e.findtext("code")), e.findtext("description") or ""))
    return out


def report(o311: Setup, *, community: str = XINZHUANG, **extra: str) -> dict[str, str]:
    """A POST /requests form at a fresh point of `community`."""
    lat, lon = point_in(community)
    form = {
        "api_key": o311.key,
        "service_code": "household_electrical",
        "lat": str(lat),
        "long": str(lon),
        "first_name": "胜起",
        "last_name": "张",
        "phone": "13806325566",
        "description": "家中电灯一直闪个不停",
    }
    form.update(extra)
    return form


async def post(o311: Setup, form: dict[str, str], fmt: str = "json") -> httpx.Response:
    return await o311.http.post(f"/requests.{fmt}", data=form)


async def submitted(o311: Setup, form: dict[str, str]) -> str:
    r = await post(o311, form)
    assert r.status_code == 200, r.text
    return str(json_body(r)[0]["service_request_id"])


async def open311_cases(o311: Setup) -> list[str]:
    """Ids of every case intake holds from the Open311 channel."""
    out: list[str] = []
    token = ""
    while True:
        reply = await o311.system.intake.ListCases(
            intake_svc.ListCasesRequest(
                channel=intake_res.CHANNEL_OPEN311, page_size=500, page_token=token
            )
        )
        out.extend(c.id for c in reply.cases)
        token = reply.next_page_token
        if not token:
            return out
