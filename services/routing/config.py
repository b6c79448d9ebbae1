"""routing's settings, from LIANXIN_ROUTING_* env vars."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.policy import DEFAULT_POLICY
from services.common.settings import ServiceSettings
from services.routing.clock import Clock


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIANXIN_ROUTING_", extra="ignore", arbitrary_types_allowed=True
    )

    grpc_port: int = Field(50053, ge=0, le=65535)
    metrics_port: int | None = Field(9103, ge=0, le=65535)
    policy_file: Path = Field(DEFAULT_POLICY, description="District routing and SLA policy.")
    registry_target: str = Field("127.0.0.1:50052", description="registry's gRPC address.")
    registry_timeout_seconds: float = Field(5.0, gt=0)
    photo_max_bytes: int = Field(5 * 1024 * 1024, gt=0)
    result_max_chars: int = Field(4000, gt=0)
    scheduler_poll_seconds: float = Field(
        30.0, gt=0, description="Longest wait of the SLA scheduler between two looks."
    )
    # Not read from the environment: tests and demos pass a FakeClock; None is real time.
    clock: Clock | None = Field(None, exclude=True, description="Time source (tests).")
