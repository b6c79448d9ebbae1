"""notify's settings, from LIANXIN_NOTIFY_* env vars."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.policy import DEFAULT_POLICY
from services.common.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIANXIN_NOTIFY_", extra="ignore")

    grpc_port: int = Field(50054, ge=0, le=65535)
    metrics_port: int | None = Field(9104, ge=0, le=65535)
    policy_file: Path = Field(DEFAULT_POLICY, description="District policy (category names).")
    registry_target: str = Field("127.0.0.1:50052", description="registry's gRPC address.")
    registry_timeout_seconds: float = Field(5.0, gt=0)
    sink_file: Path | None = Field(
        None,
        description="File the embedded channel appends to; unset: <data_dir>/notify-outbox.log.",
    )
    reporter_wait_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a case step waits for its case.received (reporter, address, "
        "hotline) before it goes out without the citizen and the hotline.",
    )
    send_batch: int = Field(100, gt=0, le=1000, description="Deliveries sent per round.")
    send_poll_seconds: float = Field(1.0, gt=0, description="Sender wakes at least this often.")
    max_attempts: int = Field(10, gt=0, description="A delivery is DEAD after this many failures.")

    def sink_path(self) -> Path:
        return self.sink_file if self.sink_file is not None else self.data_dir / "notify-outbox.log"
