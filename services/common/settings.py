"""Typed settings: one object per service, read from `LIANXIN_<SERVICE>_*` env vars.

Defaults serve the embedded mode (`lianxin up`): SQLite files and attachments under the
data dir, NATS on localhost. Each service subclasses `ServiceSettings` with its own
`env_prefix` and default ports, and the object is passed into `create_server()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common import natsauth
from services.common.bus import NatsAuth
from services.common.channels import TlsConfig


class GrpcTlsSettings(BaseSettings):
    """TLS of a process's gRPC server and of its channels to the others (README,
    "Transport security"). Off by default (embedded mode: plaintext on loopback)."""

    tls_enabled: bool = Field(
        False, description="TLS on the gRPC server and on this process's client channels."
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate (chain) the gRPC server presents; reloaded on change."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_ca_file: Path | None = Field(
        None,
        description="PEM CA bundle: verifies the servers this process calls and, with "
        "tls_require_client_cert, the clients calling it. Empty: the system's roots.",
    )
    tls_require_client_cert: bool = Field(
        False, description="mTLS: refuse clients without a certificate signed by tls_ca_file."
    )
    tls_client_cert_file: Path | None = Field(
        None,
        description="Certificate this process shows when it calls others; empty: the server's.",
    )
    tls_client_key_file: Path | None = Field(None, description="Key of tls_client_cert_file.")
    tls_server_name: str = Field(
        "", description="Name expected in servers' certificates; empty: the target's host."
    )

    @model_validator(mode="after")
    def _tls_complete(self) -> GrpcTlsSettings:
        if not self.tls_enabled:
            return self
        if (self.tls_client_cert_file is None) != (self.tls_client_key_file is None):
            raise ValueError("tls_client_cert_file and tls_client_key_file go together")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.tls_require_client_cert and self.tls_ca_file is None:
            raise ValueError("tls_require_client_cert needs tls_ca_file")
        return self

    def tls(self) -> TlsConfig | None:
        """The TLS configuration for `services.common.channels`, None when TLS is off."""
        if not self.tls_enabled:
            return None
        return TlsConfig(
            cert_file=self.tls_cert_file,
            key_file=self.tls_key_file,
            ca_file=self.tls_ca_file,
            require_client_cert=self.tls_require_client_cert,
            client_cert_file=self.tls_client_cert_file,
            client_key_file=self.tls_client_key_file,
            server_name=self.tls_server_name,
        )

    def server_tls(self) -> TlsConfig | None:
        """As `tls()`, for a server: it must have its own certificate."""
        tls = self.tls()
        if tls is not None and (tls.cert_file is None or tls.key_file is None):
            raise ValueError("tls_enabled: a gRPC server needs tls_cert_file and tls_key_file")
        return tls


class ServiceSettings(GrpcTlsSettings):
    """What every service needs. Subclasses set `model_config` with their env prefix."""

    model_config = SettingsConfigDict(env_prefix="LIANXIN_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the gRPC server binds to.")
    grpc_port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics port; 0 picks one; unset: off."
    )
    health_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="A plaintext gRPC port with only grpc.health.v1 (Kubernetes' gRPC probes "
        "cannot speak TLS); 0 picks one; unset: none.",
    )
    data_dir: Path = Field(Path(".lianxin"), description="Where embedded files live.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at <data_dir>/<service>.db."
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        description="NATS server URL; for a cluster every seed URL, comma-separated.",
    )
    nats_user: str = Field("", description="NATS user name; empty: no authentication.")
    nats_password: SecretStr = Field(SecretStr(""), description="Password of nats_user.")
    nats_tls_ca_file: Path | None = Field(
        None, description="PEM CA that signs the NATS servers' certificates: connect with TLS."
    )
    nats_tls_cert_file: Path | None = Field(
        None, description="Client certificate for NATS (when the server verifies clients)."
    )
    nats_tls_key_file: Path | None = Field(None, description="Key of nats_tls_cert_file.")
    stream_name: str = Field("LIANXIN", description="JetStream stream that carries events.")
    # The stream's limits: whoever starts first creates it with these, and a later start
    # with other values updates it (see bus.ensure_stream). A NATS cluster runs it at R3.
    stream_replicas: int = Field(
        1, ge=1, le=5, description="JetStream replicas of the stream (3 on a NATS cluster)."
    )
    stream_max_age_seconds: float = Field(
        0.0, ge=0, description="Events older than this are dropped; 0: kept until max_bytes."
    )
    stream_max_bytes: int = Field(
        -1, ge=-1, description="Size limit of the stream in bytes; -1: no limit."
    )
    stream_discard: Literal["old", "new"] = Field(
        "old",
        description="At a limit: drop the oldest events (old) or refuse new publishes (new, "
        "so producers keep them in their outbox until there is room).",
    )
    ack_wait_seconds: float = Field(30.0, gt=0, description="Redelivery after this long.")
    migrate_on_start: bool = Field(
        True,
        description="Upgrade the schema at start (embedded). false: a separate step "
        "(`lianxin migrate`, the chart's hook Job) does it; start then only checks it.",
    )
    ops_poll_seconds: float = Field(
        5.0, gt=0, description="How often consumer lag and outbox age are looked at."
    )
    shutdown_grace_seconds: float = Field(5.0, ge=0, description="In-flight RPCs get this.")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite commit durability: FULL fsyncs every commit (the promise in the "
        "README); NORMAL may lose acknowledged commits on power loss (benchmarks only).",
    )
    blob_sweep_interval_seconds: float = Field(
        3600.0, gt=0, description="How often unreferenced attachment/photo files are swept."
    )
    blob_sweep_grace_seconds: float = Field(
        3600.0, ge=0, description="A file no row names is removed once it is this old."
    )
    # Per-caller rate limits (services.common.ratelimit): a token bucket per caller.
    rate_limit_per_second: float = Field(
        200.0, ge=0, description="Requests a second one caller may make; 0: no limit."
    )
    rate_limit_burst: int = Field(400, ge=1, description="Requests one caller may make at once.")
    rate_limit_service_per_second: float = Field(
        0.0, ge=0, description="The same for Lianxin's own services calling; 0: no limit."
    )
    client_deadline_seconds: float = Field(
        30.0, gt=0, description="Deadline of an outgoing gRPC call that does not set its own."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field(
        "json", description="Log lines: one JSON object a line, or plain text for a terminal."
    )
    trace_exporter: Literal["none", "console", "otlp"] = Field(
        "none",
        description="OpenTelemetry span exporter; `none` still turns OTLP on when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set (the OTEL_* variables configure it).",
    )

    # Authentication (services/common/tokens.py): one identity provider for the deployment.
    auth_jwks: str = Field(
        "",
        description="The signing keys callers' tokens are checked against: a JWKS file or an "
        "https URL; empty: the development keys under <data_dir>/auth/ (`lianxin up`).",
    )
    auth_issuer: str = Field(
        "https://auth.lianxin.local/dev", description="The `iss` every token must carry."
    )
    auth_audience: str = Field("lianxin", description="The `aud` every token must carry.")
    auth_service_token_file: Path | None = Field(
        None,
        description="This service's own token for its calls to the others, mounted and "
        "rotated by the platform (re-read when it changes).",
    )
    auth_signing_key_file: Path | None = Field(
        None,
        description="Embedded/dev: mint this service's own short-lived token with this "
        "private key; empty: <data_dir>/auth/signing-key.pem when it exists.",
    )

    @field_validator("metrics_port", "health_port", mode="before")
    @classmethod
    def _metrics_off(cls, v: object) -> object:
        return None if isinstance(v, str) and v.strip().lower() in ("", "off", "none") else v

    @field_validator("nats_url")
    @classmethod
    def _nats_url_has_scheme(cls, v: str) -> str:
        urls = [u.strip() for u in v.split(",") if u.strip()]
        if not urls or not all(u.startswith(("nats://", "tls://")) for u in urls):
            raise ValueError("must be nats:// or tls:// URLs, comma-separated for a cluster")
        return v

    def nats_auth(self, service: str) -> NatsAuth:
        """How `service` connects to NATS (its user, TLS, its own inbox prefix)."""
        return NatsAuth(
            user=self.nats_user,
            password=self.nats_password.get_secret_value(),
            tls_ca_file=self.nats_tls_ca_file,
            tls_cert_file=self.nats_tls_cert_file,
            tls_key_file=self.nats_tls_key_file,
            inbox_prefix=natsauth.inbox_prefix(service) if self.nats_user else "_INBOX",
        )

    def sqlalchemy_url(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"
