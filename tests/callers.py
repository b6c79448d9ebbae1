"""Who the tests call as: tokens signed by a key pair made for this test run.

Importing this module makes the key pair (once per run) and points every service started
by the tests at it — in this process and in subprocesses — through the services'
`LIANXIN_<SERVICE>_AUTH_JWKS` / `_AUTH_SIGNING_KEY_FILE` settings, the way `lianxin up`
points them at its development keys. Tests call as the district's administrator unless
they say otherwise (`channel(address, token=...)`, `md(...)`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import grpc

from services.common import auth, tokens
from services.common.interceptors import bearer_interceptors

DISTRICT = "370402"
SERVICES = ("intake", "routing", "notify", "registry", "open311")

_dir = Path(tempfile.mkdtemp(prefix="lianxin-test-keys-"))
atexit.register(shutil.rmtree, _dir, ignore_errors=True)
KEYS = tokens.ensure_dev_keys(_dir)
SIGNER = tokens.Signer.from_file(KEYS.private)
for _name in SERVICES:
    os.environ.setdefault(f"LIANXIN_{_name.upper()}_AUTH_JWKS", str(KEYS.jwks))
    os.environ.setdefault(f"LIANXIN_{_name.upper()}_AUTH_SIGNING_KEY_FILE", str(KEYS.private))
os.environ.setdefault("LIANXIN_AUTH_SIGNING_KEY_FILE", str(KEYS.private))  # the CLI's


def staff(
    unit: str,
    *,
    role: str = "operator",
    subject: str = "",
    scopes: tuple[str, ...] | None = None,
    extra: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A staff member's token: the role's default scopes (plus `extra`) for `unit`."""
    perms = auth.ROLE_SCOPES[role] if scopes is None else scopes
    return SIGNER.sign(
        subject or f"staff-{role}-{unit}",
        kind="staff",
        role=role,
        unit=unit,
        scopes=tuple(perms) + tuple(extra),
        **claims,
    )


def admin(*, extra: tuple[str, ...] = (auth.PII_READ,)) -> str:
    """The district's administrator, with every permission (pii:read too by default)."""
    return staff(DISTRICT, role="admin", subject="staff-admin", extra=extra)


def hotline(channel: str, *, subject: str = "", **kw: Any) -> str:
    """A hotline system bound to `channel` (an intake Channel enum name)."""
    return SIGNER.sign(
        subject or f"hotline:{channel.removeprefix('CHANNEL_').lower()}",
        kind="hotline",
        channel=channel,
        scopes=auth.ROLE_SCOPES["hotline"],
        **kw,
    )


def service(name: str) -> str:
    return SIGNER.sign(f"service:{name}", kind="service", scopes=auth.SERVICE_SCOPES[name])


ADMIN = admin(extra=())  # what tests call as by default: every permission but pii:read


def as_actor(actor: str) -> tuple[tuple[str, str], ...]:
    """Metadata of a district-wide administrator named `actor` (for tests of what a
    step records, not of who may take it)."""
    return md(staff(DISTRICT, role="admin", subject=actor))


def md(token: str = ADMIN, *, purpose: str = "") -> tuple[tuple[str, str], ...]:
    """Call metadata for `token` (and a stated purpose)."""
    return auth.call_metadata(token, purpose=purpose)


def bearer(token: str = ADMIN) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for an aio channel made elsewhere (e.g. with TLS) to carry `token`."""
    return bearer_interceptors(lambda: token)


def channel(address: str, token: str | None = ADMIN, **kw: Any) -> grpc.aio.Channel:
    """An asyncio channel whose calls carry `token` unless they bring their own (None:
    no token at all, an anonymous caller)."""
    interceptors = bearer_interceptors(lambda: token) if token else []
    return grpc.aio.insecure_channel(address, interceptors=interceptors, **kw)


def sync_channel(address: str, token: str | None = ADMIN) -> grpc.Channel:
    ch = grpc.insecure_channel(address)
    if not token:
        return ch
    return grpc.intercept_channel(ch, _SyncBearer(token))


class _SyncBearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

    def _details(self, details: Any) -> Any:
        md_ = list(details.metadata or ())
        if not any(k == "authorization" for k, _ in md_):
            md_.append(("authorization", f"Bearer {self.token}"))
        return _Details(details.method, details.timeout, md_, details.credentials)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, method: str, timeout: Any, metadata: Any, credentials: Any) -> None:
        self.method, self.timeout, self.metadata, self.credentials = (
            method,
            timeout,
            metadata,
            credentials,
        )
        self.wait_for_ready = None
        self.compression = None


def metadata_for(
    actor: str,
    *,
    permissions: tuple[str, ...] | list[str] = (),
    jurisdiction: str = "",
    purpose: str = "",
    role: str = "operator",
) -> tuple[tuple[str, str], ...]:
    """The metadata of a staff member `actor` acting for unit `jurisdiction` with their
    role's scopes plus `permissions` — what tests stated in headers before tokens."""
    token = SIGNER.sign(
        actor,
        kind="staff",
        role=role,
        unit=jurisdiction,
        scopes=tuple(auth.ROLE_SCOPES[role]) + tuple(permissions),
    )
    return md(token, purpose=purpose)
