"""registry's settings, from LIANXIN_REGISTRY_* env vars."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

DEMO_FILE = Path(__file__).parent / "data" / "demo-370402.json"


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIANXIN_REGISTRY_", extra="ignore")

    grpc_port: int = Field(50052, ge=0, le=65535)
    metrics_port: int | None = Field(9102, ge=0, le=65535)
    load_demo: bool = Field(
        True,
        description="Load the demo district at start when the unit table is empty, with its "
        "buildings, households and persons (files next to demo_file, when present).",
    )
    demo_file: Path = Field(DEMO_FILE, description="The demo district (GeoJSON + staff).")
    routing_target: str = Field(
        "127.0.0.1:50053",
        description="routing's gRPC address, asked for open and overdue cases; empty: none.",
    )
    routing_timeout_seconds: float = Field(
        2.0, gt=0, description="How long an area summary waits for routing's counts."
    )
