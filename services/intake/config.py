"""intake's settings, from LIANXIN_INTAKE_* env vars."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.policy import DEFAULT_POLICY
from services.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIANXIN_INTAKE_", extra="ignore")

    grpc_port: int = Field(50051, ge=0, le=65535)
    metrics_port: int | None = Field(9101, ge=0, le=65535)
    policy_file: Path = Field(DEFAULT_POLICY, description="District policy (category list).")
    attachment_max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="Per file.")
    max_attachments: int = Field(9, ge=0, le=50, description="Per case.")
    description_max_chars: int = Field(4000, gt=0)
    reporter_retention_days: float = Field(
        180,
        ge=0,
        description="Reporters (name, phone) of cases closed longer ago than this are "
        "anonymised (PIPL minimisation); 0: kept.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the retention job looks for reporters to erase."
    )
    retention_batch: int = Field(500, gt=0, le=10_000, description="Cases per transaction.")
