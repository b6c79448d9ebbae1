"""TLS and mTLS on gRPC: a real service host with certificates made here, clients with and
without certificates, another CA, and certificate files replaced while it runs."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lianxin.intake.v1 import intake_service_pb2, intake_service_pb2_grpc
from services.cli import connect
from services.cli.main import main
from services.common import channels
from services.common.channels import TlsConfig
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.certs import Authority, Pair, common_name_of, replace_files
from tests.conftest import running, settings_for
from tests.system import story_submission


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "ca", "Lianxin district CA")


@pytest.fixture
def other_ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "other-ca", "Someone else's CA")


def tls_settings(
    tmp_path: Path, nats_url: str, ca: Authority, pair: Pair, *, mtls: bool = True
) -> IntakeSettings:
    return settings_for(  # type: ignore[no-any-return]
        IntakeSettings,
        tmp_path,
        nats_url,
        tls_enabled=True,
        tls_cert_file=pair.cert_file,
        tls_key_file=pair.key_file,
        tls_ca_file=ca.ca_file,
        tls_require_client_cert=mtls,
    )


async def check(channel: Any) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    return int(reply.status)


async def refused(channel: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await check(channel)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value
    return info.value


def presented_name(port: int, ca_file: Path) -> str:
    """The common name of the certificate the server shows a new connection."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return common_name_of(ssl.DER_cert_to_PEM_cert(der).encode())


async def test_a_service_over_mtls_answers_a_client_with_a_certificate(
    tmp_path: Path, nats_url: str, ca: Authority
) -> None:
    server, client = ca.issue("intake"), ca.issue("routing")
    settings = tls_settings(tmp_path, nats_url, ca, server)
    async with running(create_server, settings) as host:
        tls = TlsConfig(
            ca_file=ca.ca_file, client_cert_file=client.cert_file, client_key_file=client.key_file
        )
        async with channels.aio_channel(
            host.address, tls, interceptors=callers.bearer()
        ) as channel:
            assert await check(channel) == health_pb2.HealthCheckResponse.SERVING
            reply = await intake_service_pb2_grpc.IntakeServiceStub(channel).SubmitCase(
                story_submission("tls-1"), timeout=10
            )
            assert reply.created
        # The host's own channels (to the services it calls) carry its certificate.
        channel = host.channel(
            host.address, intake_service_pb2.DESCRIPTOR.services_by_name["IntakeService"]
        )
        assert await check(channel) == health_pb2.HealthCheckResponse.SERVING
        # Plaintext gets nowhere.
        async with grpc.aio.insecure_channel(host.address) as plain:
            await refused(plain)


async def test_probes_get_plaintext_health_and_nothing_else_on_the_health_port(
    tmp_path: Path, nats_url: str, ca: Authority
) -> None:
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"))
    settings.health_port = 0
    async with running(create_server, settings) as host:
        assert host.health_port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.health_port}") as plain:
            assert await check(plain) == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await intake_service_pb2_grpc.IntakeServiceStub(plain).SubmitCase(
                    story_submission("probe-1"), timeout=5
                )
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_client_without_a_certificate_is_refused_when_mtls_is_required(
    tmp_path: Path, nats_url: str, ca: Authority
) -> None:
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"))
    async with (
        running(create_server, settings) as host,
        channels.aio_channel(
            host.address, TlsConfig(ca_file=ca.ca_file), interceptors=callers.bearer()
        ) as channel,
    ):
        await refused(channel)


async def test_a_client_with_a_certificate_of_another_ca_is_refused(
    tmp_path: Path, nats_url: str, ca: Authority, other_ca: Authority
) -> None:
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"))
    stranger = other_ca.issue("stranger")
    tls = TlsConfig(
        ca_file=ca.ca_file, client_cert_file=stranger.cert_file, client_key_file=stranger.key_file
    )
    async with (
        running(create_server, settings) as host,
        channels.aio_channel(host.address, tls, interceptors=callers.bearer()) as channel,
    ):
        await refused(channel)


async def test_a_client_trusting_another_ca_refuses_the_server(
    tmp_path: Path, nats_url: str, ca: Authority, other_ca: Authority
) -> None:
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"), mtls=False)
    async with running(create_server, settings) as host:
        async with channels.aio_channel(
            host.address, TlsConfig(ca_file=other_ca.ca_file), interceptors=callers.bearer()
        ) as ch:
            await refused(ch)
        async with channels.aio_channel(
            host.address, TlsConfig(ca_file=ca.ca_file), interceptors=callers.bearer()
        ) as ch:
            assert await check(ch) == health_pb2.HealthCheckResponse.SERVING


async def test_replaced_server_certificate_files_are_used_without_a_restart(
    tmp_path: Path, nats_url: str, ca: Authority, other_ca: Authority
) -> None:
    served = ca.issue("intake-2026", stem="served")
    settings = tls_settings(tmp_path, nats_url, ca, served, mtls=False)
    async with running(create_server, settings) as host:
        assert presented_name(host.port, ca.ca_file) == "intake-2026"
        async with channels.aio_channel(
            host.address, TlsConfig(ca_file=ca.ca_file), interceptors=callers.bearer()
        ) as old:
            assert await check(old) == health_pb2.HealthCheckResponse.SERVING
            # Rotation: a certificate of the new CA lands where the old one was.
            replace_files(other_ca.issue("intake-2027"), served)
            assert presented_name(host.port, other_ca.ca_file) == "intake-2027"
            new_trust = TlsConfig(ca_file=other_ca.ca_file)
            async with channels.aio_channel(
                host.address, new_trust, interceptors=callers.bearer()
            ) as ch:
                assert await check(ch) == health_pb2.HealthCheckResponse.SERVING
            # The connection opened before the rotation keeps working.
            assert await check(old) == health_pb2.HealthCheckResponse.SERVING
        async with channels.aio_channel(
            host.address, TlsConfig(ca_file=ca.ca_file), interceptors=callers.bearer()
        ) as ch:
            await refused(ch)  # new connections see the new certificate only


async def test_a_client_channel_follows_its_replaced_certificate_files(
    tmp_path: Path, nats_url: str, ca: Authority, other_ca: Authority, monkeypatch: Any
) -> None:
    monkeypatch.setattr(channels, "CHECK_EVERY_SECONDS", 0.0)
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"))
    mine = other_ca.issue("routing", stem="routing-client")  # not (yet) signed by the right CA
    tls = TlsConfig(
        ca_file=ca.ca_file, client_cert_file=mine.cert_file, client_key_file=mine.key_file
    )
    async with running(create_server, settings) as host:
        channel = channels.aio_channel(host.address, tls, interceptors=callers.bearer())
        try:
            stub = health_pb2_grpc.HealthStub(channel)  # made once, kept across the renewal
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            replace_files(ca.issue("routing"), mine)
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            assert isinstance(channel, channels.RenewingChannel) and channel.renewals == 1
        finally:
            await channel.close()


@contextmanager
def served_in_a_thread(settings: IntakeSettings) -> Iterator[str]:
    """intake running on its own event loop in a thread (for blocking clients); its address."""
    started = threading.Event()
    stop = asyncio.Event()
    address: list[str] = []

    async def serve() -> None:
        async with running(create_server, settings) as host:
            address.append(host.address)
            started.set()
            await stop.wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        assert started.wait(30), "intake did not start"
        yield address[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def test_a_blocking_channel_over_tls_passes_interceptors_through(
    tmp_path: Path, nats_url: str, ca: Authority
) -> None:
    seen: list[str] = []

    class Record(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            seen.append(details.method)
            return continuation(details, request)

    client = ca.issue("cli")
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"))
    with served_in_a_thread(settings) as address:
        tls = TlsConfig(
            ca_file=ca.ca_file, client_cert_file=client.cert_file, client_key_file=client.key_file
        )
        with channels.sync_channel(address, tls, interceptors=[Record()]) as ch:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert seen == ["/grpc.health.v1.Health/Check"]


@pytest.fixture
def cli_tls_reset() -> Iterator[None]:
    yield
    connect.reset()  # the next test's CLI calls are plaintext again


def test_the_cli_talks_tls_with_its_flags_or_its_environment(
    tmp_path: Path,
    nats_url: str,
    ca: Authority,
    monkeypatch: Any,
    capsys: Any,
    cli_tls_reset: None,
) -> None:
    cli = ca.issue("cli")
    settings = tls_settings(tmp_path, nats_url, ca, ca.issue("intake"))
    with served_in_a_thread(settings) as address:
        flags = ["--tls-ca", str(ca.ca_file), "--tls-cert", str(cli.cert_file)]
        flags += ["--tls-key", str(cli.key_file)]
        assert main(["--intake", address, *flags, "case", "list"]) == 0
        assert main(["--intake", address, "case", "list"]) == 1  # plaintext: refused
        assert "UNAVAILABLE" in capsys.readouterr().err
        with pytest.raises(SystemExit, match="tls_client_cert_file and tls_client_key_file"):
            main(["--tls-ca", str(ca.ca_file), "--tls-cert", str(cli.cert_file), "case", "list"])
        monkeypatch.setenv("LIANXIN_CLI_TLS_ENABLED", "true")
        monkeypatch.setenv("LIANXIN_CLI_TLS_CA_FILE", str(ca.ca_file))
        monkeypatch.setenv("LIANXIN_CLI_TLS_CLIENT_CERT_FILE", str(cli.cert_file))
        monkeypatch.setenv("LIANXIN_CLI_TLS_CLIENT_KEY_FILE", str(cli.key_file))
        assert main(["--intake", address, "case", "list"]) == 0


def test_tls_settings_come_from_the_environment_and_must_be_complete(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("LIANXIN_INTAKE_TLS_ENABLED", "true")
    monkeypatch.setenv("LIANXIN_INTAKE_TLS_CERT_FILE", str(tmp_path / "c.pem"))
    monkeypatch.setenv("LIANXIN_INTAKE_TLS_KEY_FILE", str(tmp_path / "k.pem"))
    monkeypatch.setenv("LIANXIN_INTAKE_TLS_CA_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("LIANXIN_INTAKE_TLS_REQUIRE_CLIENT_CERT", "true")
    tls = IntakeSettings().tls()
    assert tls == TlsConfig(
        cert_file=tmp_path / "c.pem",
        key_file=tmp_path / "k.pem",
        ca_file=tmp_path / "ca.pem",
        require_client_cert=True,
    )
    assert tls.client_pair == (tmp_path / "c.pem", tmp_path / "k.pem")
    monkeypatch.delenv("LIANXIN_INTAKE_TLS_CA_FILE")
    with pytest.raises(ValueError, match="tls_require_client_cert needs tls_ca_file"):
        IntakeSettings()
    monkeypatch.delenv("LIANXIN_INTAKE_TLS_ENABLED")
    assert IntakeSettings().tls() is None  # off: the embedded default


async def test_a_server_with_missing_certificate_files_does_not_start(
    tmp_path: Path, nats_url: str, ca: Authority
) -> None:
    pair = Pair(tmp_path / "nope.pem", tmp_path / "nope-key.pem", "nope")
    settings = tls_settings(tmp_path, nats_url, ca, pair)
    host = await create_server(settings)
    try:
        with pytest.raises(channels.TlsError, match="cannot read"):
            await host.start()
    finally:
        await host.stop(grace=0)
