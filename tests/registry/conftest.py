"""registry under test: the real service on port 0 with a real NATS, on SQLite and on
PostgreSQL — every test of this package runs once per database (`dialect`).

`registry` is a server shared by a test module with the packaged demo district loaded;
`fresh_database_url` gives a test an empty database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from lianxin.registry.v1 import registry_service_pb2 as svc
from lianxin.registry.v1 import resources_pb2 as res
from lianxin.registry.v1.registry_service_pb2_grpc import RegistryServiceStub
from services.common import auth
from services.common.natsserver import NatsServer, free_port
from services.common.server import ServiceHost
from services.registry.app import create_server
from services.registry.config import RegistrySettings
from tests import callers
from tests.conftest import running, settings_for
from tests.postgres import PostgresServer, postgres_server  # noqa: F401 - a fixture

DIALECTS = ["sqlite", "postgresql"]
NO_ROUTING = "127.0.0.1:1"  # nothing listens there: case counts are "unavailable"


def caller(
    actor: str = "staff-hanliyuan",
    *,
    jurisdiction: str = "",
    permissions: tuple[str, ...] = (),
    purpose: str = "",
    role: str = "operator",
) -> tuple[tuple[str, str], ...]:
    """The metadata of every caller these tests speak as (the one place it is built): a
    token for staff `actor` of unit `jurisdiction` with their role's scopes and
    `permissions`; `service:<name>`: that service's own token."""
    if actor.startswith("service:"):
        return callers.md(callers.service(actor.removeprefix("service:")), purpose=purpose)
    return callers.metadata_for(
        actor, permissions=permissions, jurisdiction=jurisdiction, purpose=purpose, role=role
    )


IMPORTER = caller(
    "cli:registry-admin", permissions=(auth.REGISTRY_IMPORT,), role="admin", jurisdiction="370402"
)
# A district operator: may see the district's persons, masked.
DISTRICT = caller("staff-cc-370402", jurisdiction="370402")
# The same for the small test district the import tests load (370499).
TOWN = caller("staff-cc-370499", jurisdiction="370499")


@pytest.fixture(scope="module")
def registry_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = NatsServer(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def new_database(request: pytest.FixtureRequest, dialect: str, tmp: Path, hint: str) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp / 'registry.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(hint)


@pytest.fixture(scope="module")
def database_url(
    request: pytest.FixtureRequest, dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A database shared by the test module."""
    hint = request.module.__name__.rsplit(".", 1)[-1]
    return new_database(request, dialect, tmp_path_factory.mktemp("db"), hint)


@pytest.fixture
def fresh_database_url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> str:
    """An empty database for one test."""
    return new_database(request, dialect, tmp_path, request.node.name[:30])


def registry_settings(tmp: Path, nats_url: str, database_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {"database_url": database_url, "routing_target": NO_ROUTING}
    values.update(overrides)
    return settings_for(RegistrySettings, tmp, nats_url, **values)


@dataclass
class Registry:
    host: ServiceHost
    stub: RegistryServiceStub


@asynccontextmanager
async def serving(settings: Any) -> AsyncIterator[Registry]:
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        yield Registry(host, RegistryServiceStub(channel))


@pytest.fixture(scope="module")
async def registry_service(
    tmp_path_factory: pytest.TempPathFactory, registry_nats: str, database_url: str
) -> AsyncIterator[Registry]:
    settings = registry_settings(tmp_path_factory.mktemp("registry"), registry_nats, database_url)
    async with serving(settings) as r:
        yield r


@pytest.fixture(scope="module")
def registry(registry_service: Registry) -> RegistryServiceStub:
    return registry_service.stub


async def import_file(
    stub: RegistryServiceStub,
    kind: int,
    file_name: str,
    content: bytes,
    *,
    allow_partial: bool = False,
    validate_only: bool = False,
    metadata: Any = IMPORTER,
) -> tuple[list[res.ImportProgress], res.ImportReport | None, grpc.aio.AioRpcError | None]:
    """Run ImportData to the end: the progress messages, the report, and the error the
    call ended with (None when it succeeded)."""
    progress: list[res.ImportProgress] = []
    report = None
    call = stub.ImportData(
        svc.ImportDataRequest(
            kind=kind,
            file_name=file_name,
            content=content,
            allow_partial=allow_partial,
            validate_only=validate_only,
        ),
        metadata=metadata,
    )
    try:
        async for msg in call:
            if msg.HasField("report"):
                report = msg.report
            else:
                progress.append(msg.progress)
    except grpc.aio.AioRpcError as err:
        return progress, report, err
    return progress, report, None


# --- building test files -----------------------------------------------------------------


def csv_bytes(headers: list[str], rows: list[list[str]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(headers)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "Polygon", "coordinates": [ring]}


def unit_feature(
    code: str, name: str, level: str, parent: str, geometry: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
        "geometry": geometry,
    }


def building_feature(
    code: str, address: str, lon: float, lat: float, **props: Any
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "address": address, **props},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def geojson_bytes(features: list[dict[str, Any]]) -> bytes:
    import json

    doc = {"type": "FeatureCollection", "features": features}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def pii_reader(jurisdiction: str = "370402", purpose: str = "入户走访") -> Any:
    return caller(permissions=(auth.PII_READ,), jurisdiction=jurisdiction, purpose=purpose)


AUDITOR = caller("staff-auditor", permissions=(auth.AUDIT_READ,))
