"""The CLI's channels to the services: one function, with TLS when asked.

TLS comes from the global flags `--tls-ca FILE` (the CA that signs the services'
certificates), `--tls-cert FILE` / `--tls-key FILE` (the CLI's client certificate, for
services that require one) and `--tls-server-name NAME`, or from the environment:
`LIANXIN_CLI_TLS_ENABLED=true` with `LIANXIN_CLI_TLS_CA_FILE`,
`LIANXIN_CLI_TLS_CLIENT_CERT_FILE`, `LIANXIN_CLI_TLS_CLIENT_KEY_FILE`,
`LIANXIN_CLI_TLS_SERVER_NAME`. Any flag turns TLS on. Without either: plaintext (the
embedded default).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import grpc
from pydantic_settings import SettingsConfigDict

from services.common import channels
from services.common.channels import TlsConfig
from services.common.settings import GrpcTlsSettings


class CliSettings(GrpcTlsSettings):
    model_config = SettingsConfigDict(env_prefix="LIANXIN_CLI_", extra="ignore")


_tls: list[TlsConfig | None] = []  # set once by `configure`; read by `tls()`


def add_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("TLS (also LIANXIN_CLI_TLS_*)")
    g.add_argument("--tls-ca", metavar="FILE", help="CA that signs the services' certificates")
    g.add_argument("--tls-cert", metavar="FILE", help="client certificate (mTLS)")
    g.add_argument("--tls-key", metavar="FILE", help="key of --tls-cert")
    g.add_argument("--tls-server-name", metavar="NAME", help="name in the services' certificates")


def configure(args: argparse.Namespace) -> None:
    """Flags over the environment."""
    flags = {
        "tls_ca_file": getattr(args, "tls_ca", None),
        "tls_client_cert_file": getattr(args, "tls_cert", None),
        "tls_client_key_file": getattr(args, "tls_key", None),
        "tls_server_name": getattr(args, "tls_server_name", None),
    }
    given = {k: v for k, v in flags.items() if v}
    if given:
        given["tls_enabled"] = True
    try:
        settings = CliSettings(**given)
    except ValueError as exc:
        raise SystemExit(f"TLS options: {exc}") from None
    _tls[:] = [settings.tls()]


def tls() -> TlsConfig | None:
    """What `configure` set (the `lianxin` command), else the environment's."""
    return _tls[0] if _tls else CliSettings().tls()


def reset() -> None:
    """Forget what `configure` set (tests that call `main` several times)."""
    _tls.clear()


def channel(
    target: str, *, options: Sequence[tuple[str, Any]] = (), interceptors: Sequence[Any] = ()
) -> grpc.Channel:
    """A blocking channel to `target` (close it, or use it in `with`)."""
    return channels.sync_channel(target, tls(), interceptors=interceptors, options=options)
