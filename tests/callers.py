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

from services.cli import identity
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
    """A blocking channel whose calls carry `token` (the CLI's interceptor)."""
    ch = grpc.insecure_channel(address)
    return grpc.intercept_channel(ch, identity.Bearer(lambda: token)) if token else ch


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
