"""Who the CLI calls as: a bearer token, given or signed here.

`LIANXIN_TOKEN` (a token from the district's identity provider) is used as it is.
Otherwise the CLI signs its own with the embedded mode's development key — the one
`lianxin up` made under `<data dir>/auth/` (`LIANXIN_DATA_DIR`, default `.lianxin`), or
`LIANXIN_AUTH_SIGNING_KEY_FILE` — as the district's administrator unless a command acts
as someone else (the demo plays the grid manager, the electrician, …). `lianxin token
issue` prints such a token for other programs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from services.common import auth, tokens
from services.common.interceptors import CallDetails, with_deadline

DISTRICT = os.environ.get("LIANXIN_DISTRICT", "370402")
LIFETIME = 3600.0


def data_dir() -> Path:
    return Path(os.environ.get("LIANXIN_DATA_DIR", ".lianxin"))


@functools.cache
def signer() -> tokens.Signer:
    key = os.environ.get("LIANXIN_AUTH_SIGNING_KEY_FILE") or str(
        tokens.dev_key_paths(data_dir()).private
    )
    if not Path(key).exists():
        raise SystemExit(
            f"no token: set LIANXIN_TOKEN, or start the embedded system with `lianxin up` "
            f"(it makes the development signing key {key})"
        )
    return tokens.Signer.from_file(
        Path(key), issuer=os.environ.get("LIANXIN_AUTH_ISSUER", tokens.DEV_ISSUER)
    )


@functools.cache
def staff_token(
    unit: str = DISTRICT,
    role: str = "admin",
    subject: str = "",
    extra: tuple[str, ...] = (),
) -> str:
    """A staff token (cached for the CLI's run: it lives an hour)."""
    return signer().sign(
        subject or f"cli:{role}:{unit}",
        kind="staff",
        role=role,
        unit=unit,
        scopes=(*auth.ROLE_SCOPES[role], *extra),
        lifetime_seconds=LIFETIME,
    )


@functools.cache
def hotline_token(channel: str, subject: str = "") -> str:
    return signer().sign(
        subject or f"hotline:{channel.removeprefix('CHANNEL_').lower()}",
        kind="hotline",
        channel=channel,
        scopes=auth.ROLE_SCOPES["hotline"],
        lifetime_seconds=LIFETIME,
    )


def cli_token() -> str:
    """The CLI's own token: LIANXIN_TOKEN, or the district administrator's."""
    return os.environ.get("LIANXIN_TOKEN") or staff_token(extra=(auth.PII_READ,))


def md(token: str, *, purpose: str = "") -> tuple[tuple[str, str], ...]:
    return auth.call_metadata(token, purpose=purpose)


class Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """A sync channel's calls carry `token()` unless they bring their own."""

    def __init__(self, token: Callable[[], str]) -> None:
        self.token = token

    def _details(self, details: Any) -> Any:
        metadata = list(details.metadata or ())
        if not any(k == auth.AUTHORIZATION_KEY for k, _ in metadata):
            metadata.append((auth.AUTHORIZATION_KEY, f"Bearer {self.token()}"))
        return CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)


def open_channel(
    target: str, *, token: str | None = None, options: list[tuple[str, Any]] | None = None
) -> grpc.Channel:
    """A channel to a service whose calls carry `token` (default: the CLI's own); the
    token is only made when a call needs it."""
    from services.cli import connect  # the CLI's TLS settings

    # TLS as the CLI was told (services/cli/connect.py); calls without a timeout get the
    # default deadline (30 s; streams such as an import 1 h).
    channel = connect.channel(
        target, options=options or (), interceptors=[Bearer(lambda: token or cli_token())]
    )
    return with_deadline(channel)
