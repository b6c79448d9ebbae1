"""Typed settings: one object per service, read from `LIANXIN_<SERVICE>_*` env vars.

Defaults serve the embedded mode (`lianxin up`): SQLite files and attachments under the
data dir, NATS on localhost. Each service subclasses `ServiceSettings` with its own
`env_prefix` and default ports, and the object is passed into `create_server()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set `model_config` with their env prefix."""

    model_config = SettingsConfigDict(env_prefix="LIANXIN_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the gRPC server binds to.")
    grpc_port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics port; 0 picks one; unset: off."
    )
    data_dir: Path = Field(Path(".lianxin"), description="Where embedded files live.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at <data_dir>/<service>.db."
    )
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL.")
    stream_name: str = Field("LIANXIN", description="JetStream stream that carries events.")
    ack_wait_seconds: float = Field(30.0, gt=0, description="Redelivery after this long.")
    ops_poll_seconds: float = Field(
        5.0, gt=0, description="How often consumer lag and outbox age are looked at."
    )
    shutdown_grace_seconds: float = Field(5.0, ge=0, description="In-flight RPCs get this.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field(
        "json", description="Log lines: one JSON object a line, or plain text for a terminal."
    )
    trace_exporter: Literal["none", "console", "otlp"] = Field(
        "none",
        description="OpenTelemetry span exporter; `none` still turns OTLP on when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set (the OTEL_* variables configure it).",
    )

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _metrics_off(cls, v: object) -> object:
        return None if isinstance(v, str) and v.strip().lower() in ("", "off", "none") else v

    @field_validator("nats_url")
    @classmethod
    def _nats_url_has_scheme(cls, v: str) -> str:
        if not v.startswith(("nats://", "tls://")):
            raise ValueError("must start with nats:// or tls://")
        return v

    def sqlalchemy_url(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"
