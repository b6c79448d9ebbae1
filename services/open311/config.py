"""The gateway's settings, from LIANXIN_OPEN311_* env vars.

The gateway keeps no case data: everything it shows comes from intake and routing over
their gRPC APIs. Its own database holds only the API keys (hashed) and the media URLs
clients sent with their requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import GrpcTlsSettings


class Open311Settings(GrpcTlsSettings):
    """The TLS fields (`LIANXIN_OPEN311_TLS_*`) are for its channels to intake and routing:
    `TLS_CA_FILE` and `TLS_CLIENT_CERT_FILE`/`TLS_CLIENT_KEY_FILE`."""

    model_config = SettingsConfigDict(env_prefix="LIANXIN_OPEN311_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    http_port: int = Field(8311, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    data_dir: Path = Field(Path(".lianxin"), description="Where the embedded database lives.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at <data_dir>/open311.db."
    )
    intake_target: str = Field("127.0.0.1:50051", description="intake's gRPC address.")
    routing_target: str = Field("127.0.0.1:50053", description="routing's gRPC address.")
    rpc_timeout_seconds: float = Field(10.0, gt=0, description="Deadline of each gRPC call.")
    jurisdiction_id: str = Field(
        "",
        description="The jurisdiction_id clients must send, if any; empty: the district "
        "code of routing's policy (e.g. 370402).",
    )
    public_url: str = Field(
        "",
        description="Base URL clients reach the gateway at (discovery); empty: "
        "http://<host>:<http_port>.",
    )
    endpoint_type: Literal["production", "test"] = Field(
        "production", description="The endpoint's type in the discovery document."
    )
    contact: str = Field(
        "市中区网格化服务管理中心 (district grid command centre)",
        description="Who to ask, in the discovery document.",
    )
    key_service: str = Field(
        "API keys are issued by the district's operators (lianxin open311 keys create).",
        description="How to get a key, in the discovery document.",
    )
    catalog_ttl_seconds: float = Field(
        60.0, gt=0, description="How long the categories read from routing are reused."
    )
    # Its own token for calls to intake and routing (see services/common/tokens.py).
    auth_issuer: str = Field("https://auth.lianxin.local/dev", description="Tokens' `iss`.")
    auth_audience: str = Field("lianxin", description="Tokens' `aud`.")
    auth_service_token_file: Path | None = Field(
        None, description="The gateway's token, mounted and rotated by the platform."
    )
    auth_signing_key_file: Path | None = Field(
        None,
        description="Embedded/dev: mint the gateway's token with this key; empty: "
        "<data_dir>/auth/signing-key.pem when it exists.",
    )
    max_window_days: int = Field(90, gt=0, description="Longest start_date..end_date span.")
    default_page_size: int = Field(100, gt=0, le=1000)
    max_page_size: int = Field(1000, gt=0, le=1000)
    max_body_bytes: int = Field(256 * 1024, gt=0, description="Largest request body accepted.")
    shutdown_grace_seconds: float = Field(5.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def sqlalchemy_url(self, service: str = "open311") -> str:
        """The key store's URL (`service` as in the other services' settings, for
        `lianxin migrate`)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'open311.db').resolve()}"

    def base_url(self, port: int) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{port}"
