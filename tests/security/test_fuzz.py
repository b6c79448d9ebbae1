"""Fuzzing every RPC of the four services, against the real services (NATS, SQLite).

The RPCs come from the services' descriptors, so a new RPC is fuzzed without a change
here; the requests come from hypothesis strategies made from each input descriptor
(tests/security/strategies.py), and raw bytes no request message parses from are sent
with a generic call. Every answer must be a clear code, never INTERNAL or UNKNOWN, and a
refused request must leave every table and the attachment and photo directories as they
were. The run is derandomized (the same requests every time) and bounded in count; the
table of requests and codes per RPC is printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from services.common.natsserver import NatsServer, free_port
from tests.routing.helpers import XINZHUANG, point_in, routed, submission
from tests.security import strategies
from tests.security.caller import fuzz_metadata
from tests.security.harness import SERVICES, Caller, Findings, Snapshot
from tests.system import System, running_system

EXAMPLES = 60  # generated requests per RPC
SECONDS_PER_RPC = 10.0  # the time budget: past it an RPC's remaining examples are not sent
METHODS = strategies.all_methods(list(SERVICES.values()))
# Rate limits off: the fuzz caller sends thousands of requests a minute.
UNLIMITED = {name: {"rate_limit_per_second": 0.0} for name in SERVICES}


@dataclass
class Target:
    system: System
    data: Path
    known: dict[str, list[str]]
    channels: dict[str, grpc.Channel]
    snap: Snapshot


@pytest.fixture(scope="module")
def fuzz_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = NatsServer(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(tmp_path_factory: pytest.TempPathFactory, fuzz_nats: str) -> AsyncIterator[Target]:
    data = tmp_path_factory.mktemp("fuzz")
    async with running_system(data, fuzz_nats, overrides=UNLIMITED) as system:
        md = fuzz_metadata()
        made = await system.intake.SubmitCase(
            submission("fuzz-seed", point=point_in(XINZHUANG)), metadata=md
        )
        case_id = made.case.id
        await routed(system, case_id)
        deliveries = await system.notify.ListDeliveries(
            notify_svc.ListDeliveriesRequest(case_id=case_id), metadata=md
        )
        known = {
            "case_id": [case_id],
            "delivery_id": [d.id for d in deliveries.deliveries][:3] or ["d"],
            "unit_code": [XINZHUANG, "370402003", "370402"],
            "grid_code": ["370402003001001"],
            "code": [XINZHUANG, "370402003"],
            "category": ["household_electrical", "street_vendor"],
            "external_ref": ["fuzz-seed"],
            "content_type": ["image/jpeg", "image/png"],
            "filename": ["photo.jpg"],
            "acting_unit_code": [XINZHUANG, "370402003"],
        }
        channels = {
            name: grpc.insecure_channel(host.address) for name, host in system.hosts.items()
        }
        snap = Snapshot(data)
        await asyncio.to_thread(snap.quiet)
        try:
            yield Target(system, data, known, channels, snap)
        finally:
            snap.close()
            for ch in channels.values():
                ch.close()


@pytest.fixture(scope="module")
def findings(request: pytest.FixtureRequest) -> Iterator[Findings]:
    found = Findings()
    yield found
    text = "fuzz: requests and codes per RPC\n" + found.summary()
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:  # shown whatever the capture mode
        with capture.global_and_fixture_disabled():
            print("\n" + text)
    else:
        print(text)


def _check(found: Findings, since: tuple[int, int] = (0, 0)) -> None:
    """No INTERNAL or UNKNOWN answer and no write by a refused request, since `since`."""
    broken, writes = found.broken[since[0] :], found.writes[since[1] :]
    assert not broken, "INTERNAL/UNKNOWN answers:\n" + "\n".join(broken[:40])
    assert not writes, "refused requests wrote:\n" + "\n".join(writes[:40])


async def test_undecodable_request_bytes_are_invalid_argument(
    target: Target, findings: Findings
) -> None:
    caller = Caller(target.channels, target.snap, findings)

    def run() -> dict[str, set[str]]:
        codes: dict[str, set[str]] = {}
        for method in METHODS:
            for payload in strategies.undecodable(method):
                code = caller.send(method, payload, f"raw {payload[:40]!r}")
                codes.setdefault(method.full_name, set()).add(code.name)
        return codes

    since = (len(findings.broken), len(findings.writes))
    codes = await asyncio.to_thread(run)
    _check(findings, since)
    # Bytes no message parses from are the caller's mistake, said as such.
    assert all("INVALID_ARGUMENT" in c for c in codes.values()), codes
    assert len(codes) == len(METHODS)


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name.split(".", 3)[-1])
async def test_fuzzed_requests_get_clear_answers_and_refusals_write_nothing(
    target: Target, findings: Findings, method: Any
) -> None:
    caller = Caller(target.channels, target.snap, findings)
    strategy = strategies.requests(method, target.known)
    since = (len(findings.broken), len(findings.writes))
    end = time.monotonic() + SECONDS_PER_RPC

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def fuzz(request: Any) -> None:
        if time.monotonic() < end:
            caller.send(method, request.SerializeToString(), _shown(request))

    await asyncio.to_thread(fuzz)
    _check(findings, since)


def _shown(request: Any) -> str:
    text = str(request).replace("\n", " ")
    return text if len(text) < 300 else text[:300] + "…"


def test_every_rpc_of_every_service_is_fuzzed() -> None:
    """The RPC list is the descriptors' own: a new RPC joins the fuzz by itself."""
    names = {m.full_name for m in METHODS}
    assert "lianxin.intake.v1.IntakeService.SubmitCase" in names
    assert "lianxin.registry.v1.RegistryService.ImportData" in names
    assert {m.containing_service.full_name for m in METHODS} == set(SERVICES.values())
    assert intake_svc.DESCRIPTOR.services_by_name["IntakeService"].methods[0] in METHODS
