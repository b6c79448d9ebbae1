"""NATS with a user per service (the config `lianxin up` writes): each publishes only its own
subjects, pulls only its own consumers; wrong passwords refused; TLS with the CA."""

from __future__ import annotations

import asyncio
import importlib
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.js.api import ConsumerConfig

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus, natsauth
from services.common.bus import NatsAuth
from services.common.natsserver import NatsServer, NatsTls, free_port
from services.intake import events as intake_events
from services.intake.config import IntakeSettings
from tests.certs import Authority
from tests.conftest import eventually
from tests.natscluster import NatsCluster
from tests.system import running_system, story_submission


@pytest.fixture
def passwords(tmp_path: Path) -> dict[str, str]:
    return natsauth.embedded_passwords(tmp_path / "data")


@pytest.fixture
def secured_nats(tmp_path: Path, passwords: dict[str, str]) -> Iterator[NatsServer]:
    server = NatsServer(
        tmp_path / "data" / "nats", port=free_port(), users=natsauth.service_users(passwords)
    )
    server.start()
    yield server
    server.stop()


def auth_of(service: str, passwords: dict[str, str]) -> NatsAuth:
    return NatsAuth(
        user=service, password=passwords[service], inbox_prefix=natsauth.inbox_prefix(service)
    )


class Errors:
    """What the server told a connection asynchronously (permissions violations)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, exc: Exception) -> None:
        self.seen.append(str(exc))


async def connect_as(server: NatsServer, service: str, passwords: dict[str, str]) -> Any:
    errors = Errors()
    nc = await bus.connect(server.url, name=f"test-{service}", auth=auth_of(service, passwords))
    nc._error_cb = errors
    return nc, errors


def test_generated_credentials_are_kept_owner_only_and_stable(tmp_path: Path) -> None:
    first = natsauth.embedded_passwords(tmp_path)
    path = natsauth.credentials_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first) == {*natsauth.SERVICE_BUS, natsauth.OPS_USER}
    assert len(set(first.values())) == len(first)  # one password each
    assert natsauth.embedded_passwords(tmp_path) == first  # the next `lianxin up` reuses them


def test_the_generated_server_config_is_owner_only(secured_nats: NatsServer) -> None:
    conf = secured_nats.store_dir / "nats.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert "authorization" in conf.read_text()


def test_the_permission_table_matches_what_each_service_consumes() -> None:
    for service, role in natsauth.SERVICE_BUS.items():
        events = importlib.import_module(f"services.{service}.events")
        assert role.consumers == (events.CONSUMER,), service
    # intake consumes routing's transitions, which only routing may publish.
    routing = natsauth.permissions("routing")["publish"]
    assert set(intake_events.SUBJECTS) <= {
        f"lianxin.case.{routing_res.Transition.Name(v).removeprefix('TRANSITION_').lower()}"
        for v in routing_res.Transition.values()
        if v
    }
    assert routing["deny"] == ["lianxin.case.received"]


async def test_a_service_publishing_another_services_subject_is_refused(
    secured_nats: NatsServer, passwords: dict[str, str]
) -> None:
    ops = await nats.connect(secured_nats.url, user="ops", password=passwords["ops"])
    got: list[str] = []

    async def on_message(msg: Any) -> None:
        got.append(msg.subject)

    await ops.subscribe("lianxin.>", cb=on_message)
    await ops.flush()
    intake, errors = await connect_as(secured_nats, "intake", passwords)
    try:
        # Core publish of registry's and routing's subjects: dropped, and the server says so.
        await intake.publish("lianxin.registry.persons_imported", b"forged")
        await intake.publish("lianxin.case.dispatched", b"forged")
        await intake.flush()
        await eventually(lambda: asyncio.sleep(0, len(errors.seen) >= 2))
        assert errors.seen == [
            'nats: permissions violation for publish to "lianxin.registry.persons_imported"',
            'nats: permissions violation for publish to "lianxin.case.dispatched"',
        ]
        # Through JetStream: no ack comes back, nothing is stored.
        js = intake.jetstream()
        await bus.ensure_stream(js, "LIANXIN")
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish("lianxin.case.closed", b"forged", timeout=1)
        # Its own subject is fine.
        ack = await js.publish("lianxin.case.received", b"mine", timeout=5)
        assert ack.stream == "LIANXIN"
        await ops.flush()
        await eventually(lambda: asyncio.sleep(0, "lianxin.case.received" in got))
        assert got == ["lianxin.case.received"]
        info = await ops.jetstream().stream_info("LIANXIN")
        assert info.state.messages == 1
    finally:
        await intake.close()
        await ops.close()


async def test_a_service_cannot_pull_another_services_consumer_or_delete_the_stream(
    secured_nats: NatsServer, passwords: dict[str, str]
) -> None:
    routing, _ = await connect_as(secured_nats, "routing", passwords)
    intake, errors = await connect_as(secured_nats, "intake", passwords)
    try:
        rjs = routing.jetstream()
        await bus.ensure_stream(rjs, "LIANXIN")
        await rjs.add_consumer(
            "LIANXIN", ConsumerConfig(durable_name="routing", filter_subject="lianxin.case.>")
        )
        ijs = intake.jetstream(timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await ijs.consumer_info("LIANXIN", "routing")
        with pytest.raises(nats.errors.TimeoutError):  # pulling routing's events
            await intake.request("$JS.API.CONSUMER.MSG.NEXT.LIANXIN.routing", b"1", timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await ijs.delete_stream("LIANXIN")
        assert (await rjs.stream_info("LIANXIN")).config.name == "LIANXIN"
        assert any("permissions violation" in e.lower() for e in errors.seen)
    finally:
        await intake.close()
        await routing.close()


async def test_a_wrong_password_is_refused(
    secured_nats: NatsServer, passwords: dict[str, str]
) -> None:
    wrong = NatsAuth(user="intake", password=passwords["routing"], inbox_prefix="_INBOX_intake")
    with pytest.raises(nats.errors.Error):
        await asyncio.wait_for(bus.connect(secured_nats.url, name="t", auth=wrong), 20)
    with pytest.raises(nats.errors.Error):
        await asyncio.wait_for(bus.connect(secured_nats.url, name="t"), 20)  # no user at all


async def test_services_with_their_credentials_take_a_case_through_the_bus(
    tmp_path: Path,
    secured_nats: NatsServer,
    passwords: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    creds = {
        name: {"nats_user": name, "nats_password": passwords[name]} for name in natsauth.SERVICE_BUS
    }
    async with running_system(tmp_path, secured_nats.url, service_settings=creds) as system:
        case_id = (await system.intake.SubmitCase(story_submission("auth-1"))).case.id

        async def dispatched() -> bool:  # intake's read model follows routing's events
            reply = await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=case_id))
            return reply.case.status == routing_res.CASE_STATUS_DISPATCHED

        await eventually(dispatched)

        async def notified() -> bool:
            ds = await system.notify.ListDeliveries(
                notify_svc.ListDeliveriesRequest(case_id=case_id)
            )
            return any(d.event_type == "case.dispatched" for d in ds.deliveries)

        await eventually(notified)
        for host in system.hosts.values():
            assert host.ready, host.name
            assert host.supervisor.all_running, host.name
    # Nothing they do in their normal path needs a right they do not have.
    violations = [r.getMessage() for r in caplog.records if "violation" in r.getMessage().lower()]
    assert violations == []


async def test_nats_over_tls_with_the_ca(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "ca")
    server_pair, client_pair = ca.issue("nats"), ca.issue("intake")
    server = NatsServer(
        tmp_path / "nats",
        port=free_port(),
        tls=NatsTls(server_pair.cert_file, server_pair.key_file, ca.ca_file, verify=True),
    )
    server.start()
    try:
        settings = IntakeSettings(
            nats_url=server.url,
            nats_tls_ca_file=ca.ca_file,
            nats_tls_cert_file=client_pair.cert_file,
            nats_tls_key_file=client_pair.key_file,
        )
        nc = await bus.connect(server.url, name="tls", auth=settings.nats_auth("intake"))
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, "LIANXIN")
            assert (await js.publish("lianxin.case.received", b"x", timeout=5)).seq == 1
        finally:
            await nc.close()
        # Without a client certificate the server (verify: true) refuses; without TLS too;
        # and a client trusting another CA refuses the server.
        other = Authority(tmp_path / "other-ca", "another CA")
        for ctx in (
            NatsAuth(tls_ca_file=ca.ca_file).ssl_context(),
            None,
            NatsAuth(
                tls_ca_file=other.ca_file,
                tls_cert_file=client_pair.cert_file,
                tls_key_file=client_pair.key_file,
            ).ssl_context(),
        ):
            with pytest.raises((nats.errors.Error, OSError)):
                await nats.connect(
                    servers=[server.url], tls=ctx, allow_reconnect=False, connect_timeout=3
                )
    finally:
        server.stop()


@pytest.mark.slow
async def test_a_nats_cluster_with_the_same_users_refuses_strangers_and_forged_subjects(
    tmp_path: Path, passwords: dict[str, str]
) -> None:
    cluster = NatsCluster(tmp_path / "cluster", users=natsauth.service_users(passwords))
    await asyncio.to_thread(cluster.start)
    try:
        with pytest.raises(nats.errors.Error):
            await nats.connect(servers=[cluster.nodes[0].url], allow_reconnect=False)
        settings = IntakeSettings(
            nats_url=cluster.url, nats_user="intake", nats_password=passwords["intake"]
        )
        nc = await bus.connect(cluster.url, name="cluster", auth=settings.nats_auth("intake"))
        nc._error_cb = errors = Errors()
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, "LIANXIN", replicas=3)
            ack = await js.publish("lianxin.case.received", b"mine", timeout=10)
            assert ack.stream == "LIANXIN"
            with pytest.raises(nats.errors.TimeoutError):
                await js.publish("lianxin.notify.dead", b"forged", timeout=1)
            assert any("lianxin.notify.dead" in e for e in errors.seen), errors.seen
            info = await js.stream_info("LIANXIN")
            assert info.config.num_replicas == 3 and info.state.messages == 1
        finally:
            await nc.close()
    finally:
        await asyncio.to_thread(cluster.stop)
