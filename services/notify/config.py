"""notify's settings, from LIANXIN_NOTIFY_* env vars.

Which channels exist is decided here. The embedded default has only the file sink, so
`make run` needs no gateway: every message becomes a line in `<data_dir>/notify-outbox.log`.
Set `SMS_GATEWAY_URL` for SMS, `APP_PUSH=true` for app push over NATS; webhooks go to the
URLs of hotline subscriptions (made with CreateSubscription, or the default one below).
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.policy import DEFAULT_POLICY
from services.common.settings import ServiceSettings


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """ "22:00-07:00" → (22:00, 07:00); "" → None (no quiet hours)."""
    value = value.strip()
    if not value:
        return None
    try:
        start, end = (time.fromisoformat(p.strip()) for p in value.split("-"))
    except ValueError as exc:
        raise ValueError('must look like "22:00-07:00" (local time), or be empty') from exc
    if start == end:
        raise ValueError("start and end must differ")
    return start, end


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIANXIN_NOTIFY_", extra="ignore")

    grpc_port: int = Field(50054, ge=0, le=65535)
    metrics_port: int | None = Field(9104, ge=0, le=65535)
    policy_file: Path = Field(DEFAULT_POLICY, description="District policy (category names).")
    registry_target: str = Field("127.0.0.1:50052", description="registry's gRPC address.")
    registry_timeout_seconds: float = Field(5.0, gt=0)
    reporter_wait_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a case step waits for its case.received (reporter, address, "
        "hotline) before it goes out without the citizen and the hotline.",
    )

    # --- channels --------------------------------------------------------------------
    file_sink: bool = Field(True, description="The file channel (the embedded default).")
    sink_file: Path | None = Field(
        None,
        description="File the embedded channel appends to; unset: <data_dir>/notify-outbox.log.",
    )
    sms_gateway_url: str = Field(
        "",
        description="SMS gateway endpoint (POST JSON {id, to, text}); empty: no SMS channel.",
    )
    sms_gateway_token: SecretStr = Field(
        SecretStr(""), description="Bearer token for the gateway (or use username/password)."
    )
    sms_gateway_username: str = Field("", description="Basic auth user for the gateway.")
    sms_gateway_password: SecretStr = Field(SecretStr(""), description="Basic auth password.")
    sms_rate_limit_per_number: int = Field(
        5, ge=0, description="At most this many SMS to one number per window; 0: no limit."
    )
    sms_rate_limit_window_seconds: float = Field(3600.0, gt=0)
    app_push: bool = Field(
        False, description="App push: publish to core NATS subject lianxin.push.staff.<id>."
    )
    http_timeout_seconds: float = Field(10.0, gt=0, description="SMS gateway and webhooks.")
    webhook_secret_grace_seconds: float = Field(
        86400.0, ge=0, description="After a rotation the old secret still signs this long."
    )

    # --- the hotline subscribed by default --------------------------------------------
    default_hotline: str = Field(
        "mayor_hotline",
        description="Hotline system subscribed at start to every case of the policy's "
        "district (mayor_hotline, district_hotline, convenience_hotline); empty: none.",
    )
    default_hotline_webhook_url: str = Field(
        "", description="Where its webhooks go; empty: the file sink."
    )

    # --- sending ----------------------------------------------------------------------
    send_batch: int = Field(100, gt=0, le=1000, description="Deliveries sent per round.")
    reporter_retention_days: float = Field(
        180,
        ge=0,
        description="notify's copy of a reporter (name, phone) and the citizen's finished "
        "deliveries lose them once the case has been closed this long (PIPL "
        "minimisation; as intake's setting); 0: kept.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the retention job looks for reporters to erase."
    )
    retention_batch: int = Field(500, gt=0, le=10_000, description="Cases per transaction.")
    send_poll_seconds: float = Field(1.0, gt=0, description="Sender wakes at least this often.")
    send_concurrency: int = Field(
        32,
        gt=0,
        le=256,
        description="Deliveries sent at once; also the most a crash can make go out twice.",
    )
    publish_delivered: bool = Field(
        False,
        description="Publish notify.delivered for every SENT delivery (notify.dead is always "
        "published); off by default: nothing consumes it.",
    )
    send_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="A claimed delivery is due for nobody else this long; after a crash, "
        "a delivery that was in flight is sent again when its lease ends.",
    )
    max_attempts: int = Field(10, gt=0, description="A delivery is DEAD after this many failures.")
    retry_base_seconds: float = Field(2.0, gt=0, description="Back-off base (doubles per try).")
    retry_max_seconds: float = Field(300.0, gt=0, description="Back-off cap.")
    quiet_hours: str = Field(
        "22:00-07:00",
        description="District local time (UTC+8) when non-urgent SMS wait; empty: none.",
    )

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_parse(cls, v: str) -> str:
        parse_quiet_hours(v)
        return v

    @field_validator("sms_gateway_url", "default_hotline_webhook_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip()
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("default_hotline")
    @classmethod
    def _known_hotline(cls, v: str) -> str:
        v = v.strip()
        if v and v not in ("mayor_hotline", "district_hotline", "convenience_hotline"):
            raise ValueError("must be mayor_hotline, district_hotline, convenience_hotline or ''")
        return v

    def sink_path(self) -> Path:
        return self.sink_file if self.sink_file is not None else self.data_dir / "notify-outbox.log"

    def quiet(self) -> tuple[time, time] | None:
        return parse_quiet_hours(self.quiet_hours)
