"""The gateway's HTTP API: GeoReport v2's six resources, the discovery document and
FixMyStreet's `servicerequestupdates`, each in XML and JSON (`.{fmt}` in the path).

Parameters are read by the gateway itself (not by FastAPI's validation), so that every
problem comes back the spec's way: `400`/`403`/`404` with `[{code, description}]` in the
format asked for, each description naming the parameter. The OpenAPI description is at
`/openapi.json` (and `/docs`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from services.common.timeutil import to_ts
from services.open311 import keys, metrics, params, resources, store
from services.open311.errors import Open311Error, bad_request, forbidden, not_found
from services.open311.formats import FORMATS, format_of, render
from services.open311.upstream import Catalog

log = logging.getLogger(__name__)
CHANGESET = "2026-12-01T00:00:00+08:00"  # when this API last changed
SPEC = "http://wiki.open311.org/GeoReport_v2"
FMT = Annotated[str, Path(description="Response format: xml or json.")]
JURISDICTION = Annotated[
    str | None, Query(description="The district code (optional: one jurisdiction).")
]
Text = Annotated[str | None, Query()]
GETCASE_CONCURRENCY = 16

POST_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {
                        name: {"type": "string", "description": text}
                        for name, text in {
                            "api_key": "The client application's key (403 without one).",
                            "jurisdiction_id": "The district code (optional).",
                            "service_code": "A service_code from GET /services.",
                            "lat": "Latitude, WGS84; with long.",
                            "long": "Longitude, WGS84; with lat.",
                            "address_string": "The address, when there is no lat/long.",
                            "address_id": "Accepted, not stored.",
                            "email": "Accepted, checked, not stored.",
                            "device_id": "Accepted, not stored.",
                            "account_id": "Accepted, not stored.",
                            "first_name": "The citizen's given name (名).",
                            "last_name": "The citizen's family name (姓).",
                            "phone": "Phone to call back.",
                            "description": "What is wrong, at most 4,000 characters.",
                            "media_url": "A photo's URL (http or https).",
                            "client_reference": "The client's own id of the request: a "
                            "retry with the same key and reference returns the same "
                            "service_request_id and creates nothing (extension).",
                            "attribute[CODE]": "A service attribute (no service has any).",
                        }.items()
                    },
                }
            }
        }
    }
}


def build_app(gw: Any) -> FastAPI:
    """The ASGI app of one gateway (`gw`: services.open311.app.Gateway)."""
    app = FastAPI(
        title="Lianxin Open311 GeoReport v2 gateway",
        version="2",
        description="Open311 GeoReport v2 in front of a Lianxin district: report to it and "
        "follow its cases with any Open311 client. XML and JSON; errors as `[{code, "
        "description}]`; FixMyStreet's `servicerequestupdates`.",
    )

    def fmt_of(fmt: str) -> str:
        if fmt.lower() not in FORMATS:
            raise not_found(f"format {fmt!r} is not served; use xml or json")
        return fmt.lower()

    async def catalog(jurisdiction_id: str | None) -> Catalog:
        cat = await gw.upstream.catalog()
        ours = gw.settings.jurisdiction_id or cat.policy.district_code
        if jurisdiction_id is not None and jurisdiction_id.strip() not in ("", ours):
            raise not_found(f"jurisdiction_id {jurisdiction_id!r} was not found; this is {ours}")
        return cat

    # --- errors and metrics -------------------------------------------------------------

    def error_response(request: Request, err: Open311Error) -> Response:
        if err.status >= 500:
            log.warning("%s %s: %d %s", request.method, request.url.path, err.status, err)
        resp = render(format_of(request.url.path), "errors", "error", err.body(), status=err.status)
        if err.retry_after:
            resp.headers["Retry-After"] = str(err.retry_after)
        return resp

    @app.exception_handler(Open311Error)
    async def _open311(request: Request, err: Open311Error) -> Response:
        return error_response(request, err)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Response:
        descriptions = [
            f"{'.'.join(str(x) for x in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in err.errors()
        ]
        return error_response(request, bad_request(*descriptions))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> Response:
        text = "no such resource" if err.status_code == 404 else str(err.detail)
        return error_response(request, Open311Error(err.status_code, [text]))

    @app.middleware("http")
    async def _red(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        route = "other"
        for r in app.router.routes:
            match, _ = r.matches(request.scope)
            if match == Match.FULL:
                route = getattr(r, "path", "other")
                break
        started = time.perf_counter()
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > gw.settings.max_body_bytes:
            limit = gw.settings.max_body_bytes
            response = error_response(
                request, Open311Error(413, [f"the request body is over {limit} bytes"])
            )
        else:
            response = await call_next(request)
        metrics.HTTP_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)
        metrics.HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        return response

    # --- discovery and services ---------------------------------------------------------

    @app.get("/discovery.{fmt}", summary="The service discovery document")
    async def discovery(fmt: FMT) -> Response:
        f = fmt_of(fmt)
        doc = {
            "changeset": CHANGESET,
            "contact": gw.settings.contact,
            "key_service": gw.settings.key_service,
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": gw.base_url,
                    "changeset": CHANGESET,
                    "type": gw.settings.endpoint_type,
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return render(f, "discovery", None, doc)

    @app.get("/services.{fmt}", summary="The district's categories as services")
    async def list_services(fmt: FMT, jurisdiction_id: JURISDICTION = None) -> Response:
        f = fmt_of(fmt)
        cat = await catalog(jurisdiction_id)
        return render(f, "services", "service", [resources.service(cat, c) for c in cat.categories])

    @app.get("/services/{service_code}.{fmt}", summary="A service's definition (attributes)")
    async def service_definition(
        service_code: str, fmt: FMT, jurisdiction_id: JURISDICTION = None
    ) -> Response:
        f = fmt_of(fmt)
        cat = await catalog(jurisdiction_id)
        c = cat.by_code.get(service_code)
        if c is None:
            raise not_found(f"service_code {service_code!r} was not found")
        return render(f, "service_definition", None, resources.service_definition(c))

    # --- requests -----------------------------------------------------------------------

    @app.post(
        "/requests.{fmt}", summary="Report a problem (→ intake SubmitCase)", openapi_extra=POST_FORM
    )
    async def create_request(fmt: FMT, request: Request) -> Response:
        f = fmt_of(fmt)
        form: dict[str, str] = {k: v for k, v in request.query_params.items()}
        for k, v in (await request.form()).multi_items():
            if isinstance(v, str):
                form[k] = v
        if ref := request.headers.get("idempotency-key"):
            form.setdefault("client_reference", ref)
        cat = await catalog(form.get("jurisdiction_id"))
        identity = await gw.identify(form.get("api_key", ""))
        if identity is None:
            raise forbidden("api_key is missing or not valid -- can't proceed with create_request")
        sub = params.submission(form, cat, identity)
        reply = await gw.upstream.submit(sub.request, identity)
        case_id = reply.case.id
        if sub.media_url:
            await gw.db.write(
                lambda conn: store.add_media(
                    conn,
                    case_id=case_id,
                    key_id=identity.key_id,
                    url=sub.media_url,
                    now=datetime.now(UTC),
                )
            )
        if reply.created:
            metrics.REQUESTS_SUBMITTED.labels(
                keys.channel_name(identity.channel), sub.request.category
            ).inc()
        body = [
            {
                "service_request_id": case_id,
                "token": case_id,
                "service_notice": resources.notice(cat, reply.case.category),
                "account_id": None,
            }
        ]
        return render(f, "service_requests", "request", body)

    @app.get("/tokens/{token}.{fmt}", summary="The service_request_id of a token")
    async def token(token: str, fmt: FMT, jurisdiction_id: JURISDICTION = None) -> Response:
        f = fmt_of(fmt)
        await catalog(jurisdiction_id)
        case = await gw.get_case(token)  # a token is the case id itself
        body = [{"service_request_id": case.id, "token": token}]
        return render(f, "service_requests", "request", body)

    @app.get("/requests/{service_request_id}.{fmt}", summary="One service request")
    async def get_request(
        service_request_id: str, fmt: FMT, jurisdiction_id: JURISDICTION = None
    ) -> Response:
        f = fmt_of(fmt)
        cat = await catalog(jurisdiction_id)
        case = await gw.get_case(service_request_id)
        return render(f, "service_requests", "request", await gw.records(cat, [case]))

    @app.get("/requests.{fmt}", summary="Service requests (filters; page/page_size)")
    async def list_requests(
        fmt: FMT,
        jurisdiction_id: JURISDICTION = None,
        service_request_id: Annotated[
            str | None, Query(description="Comma list of ids; overrides every other filter.")
        ] = None,
        service_code: Annotated[str | None, Query(description="Comma list of codes.")] = None,
        start_date: Annotated[
            str | None, Query(description="W3C datetime, e.g. 2014-11-25T00:00:00+08:00.")
        ] = None,
        end_date: Annotated[
            str | None, Query(description="At most 90 days after start_date.")
        ] = None,
        status: Annotated[str | None, Query(description="open, closed or both.")] = None,
        page: Annotated[str | None, Query(description="Page number from 1 (extension).")] = None,
        page_size: Annotated[str | None, Query(description="Requests a page (extension).")] = None,
    ) -> Response:
        f = fmt_of(fmt)
        cat = await catalog(jurisdiction_id)
        p = params.Problems()
        if service_request_id:
            wanted = params.ids(p, service_request_id)
            p.raise_if_any()
            cases = [c for c in await gw.fetch_cases(wanted) if c is not None]
            return render(f, "service_requests", "request", await gw.records(cat, cases))
        codes = params.service_codes(p, service_code, cat)
        wanted_status = params.statuses(p, status)
        start, end = params.window(
            p,
            start_date,
            end_date,
            tz=cat.tz,
            now=datetime.now(UTC),
            max_days=gw.settings.max_window_days,
            default=timedelta(days=90),
        )
        number, size = params.page(
            p,
            page,
            page_size,
            default=gw.settings.default_page_size,
            maximum=gw.settings.max_page_size,
        )
        p.raise_if_any()
        found = await gw.search(codes, wanted_status, start, end, limit=number * size)
        ids = [c.id for c in found[(number - 1) * size : number * size]]
        cases = [c for c in await gw.fetch_cases(ids) if c is not None]
        return render(f, "service_requests", "request", await gw.records(cat, cases))

    # --- FixMyStreet's extension --------------------------------------------------------

    @app.get("/servicerequestupdates.{fmt}", summary="Status updates since a date (FixMyStreet)")
    async def request_updates(
        fmt: FMT,
        jurisdiction_id: JURISDICTION = None,
        start_date: Annotated[str | None, Query(description="W3C datetime.")] = None,
        end_date: Annotated[str | None, Query(description="W3C datetime.")] = None,
        api_key: Annotated[str | None, Query(description="Accepted; not needed to read.")] = None,
        page: Text = None,
        page_size: Text = None,
    ) -> Response:
        f = fmt_of(fmt)
        cat = await catalog(jurisdiction_id)
        p = params.Problems()
        start, end = params.window(
            p,
            start_date,
            end_date,
            tz=cat.tz,
            now=datetime.now(UTC),
            max_days=gw.settings.max_window_days,
            default=timedelta(days=1),
        )
        number, size = params.page(
            p, page, page_size, default=gw.settings.max_page_size, maximum=gw.settings.max_page_size
        )
        p.raise_if_any()
        changes = await gw.changes(start, end, limit=number * size)
        page_of = changes[(number - 1) * size : number * size]
        return render(
            f,
            "service_request_updates",
            "request_update",
            [resources.request_update(c, cat) for c in page_of],
        )

    # --- operations ---------------------------------------------------------------------

    @app.get("/livez", include_in_schema=False)
    async def livez() -> Response:
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        problems = await gw.readiness()
        return PlainTextResponse("\n".join(problems) or "ok", status_code=503 if problems else 200)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def bounded(jobs: list[Awaitable[Any]], limit: int = GETCASE_CONCURRENCY) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with sem:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))


def list_request(code: str, start: datetime, end: datetime, token: str) -> Any:
    req = intake_svc.ListCasesRequest(category=code, page_size=500, page_token=token)
    to_ts(start, req.start_time)
    to_ts(end, req.end_time)
    return req
