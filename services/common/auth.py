"""Who is calling, and what they may do: the `Principal` of a request.

The one place that builds a Principal. A caller presents a bearer token
(`authorization: Bearer <jwt>`, see `services.common.tokens`); the authorization
interceptor (`services.common.authz`) verifies it, builds the Principal with
`principal_from_claims()` and keeps it for the request, where `principal_of(context)`
finds it. Nothing else about the caller is trusted: the old `x-lianxin-actor`,
`-permissions` and `-jurisdiction` headers are ignored. The purpose of a personal-data
read is still said per request, in `x-lianxin-purpose` (percent-encoded UTF-8, since
metadata is ASCII), and must be one of `PURPOSES`.

Kinds of caller:
    hotline   a hotline system (12345, the district head hotline, 96361, …), bound to its
              intake channel: submits and follows its own channel's cases
    staff     a person with a role and a unit; their jurisdiction is the unit and every
              unit below it (unit codes nest by prefix)
    service   one of Lianxin's services calling another on its own behalf
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

AUTHORIZATION_KEY = "authorization"
PURPOSE_KEY = "x-lianxin-purpose"

SERVICE_PREFIX = "service:"
ANONYMOUS = "anonymous"

# --- permissions (a token's `scope`) ---------------------------------------------------
CASE_SUBMIT = "case:submit"  # take in a case (hotlines: their own channel only)
CASE_READ = "case:read"  # read cases, timelines, queues within scope
CASE_HANDLE = "case:handle"  # the holding unit's steps: accept, resolve, return, escalate…
CASE_DECIDE = "case:decide"  # level-above decisions: extensions, redispatch, supervise…
CASE_REVIEW = "case:review"  # the callback: close, rate, send back for rework
STATS_READ = "stats:read"  # statistics and rankings of units within scope
POLICY_READ = "policy:read"  # the category taxonomy and time limits (not personal)
REGISTRY_LOCATE = "registry:locate"  # which grid holds a point or address
REGISTRY_READ = "registry:read"  # units, departments, area summaries, coverage
REGISTRY_PEOPLE = "registry:people"  # buildings, households, persons (masked)
STAFF_READ = "staff:read"  # staff of units within scope (phones masked without pii:read)
PII_READ = "pii:read"  # see ID numbers and phones unmasked, with a purpose
AUDIT_READ = "audit:read"  # read the personal-data access log
REGISTRY_IMPORT = "registry:import"  # bulk-import units, buildings, households, persons
DELIVERY_READ = "delivery:read"  # notification deliveries within scope
DELIVERY_RETRY = "delivery:retry"  # send a failed delivery again
SUBSCRIPTION_MANAGE = "subscription:manage"  # webhook subscriptions (hotline: own channel)

ALL_PERMISSIONS = (
    CASE_SUBMIT,
    CASE_READ,
    CASE_HANDLE,
    CASE_DECIDE,
    CASE_REVIEW,
    STATS_READ,
    POLICY_READ,
    REGISTRY_LOCATE,
    REGISTRY_READ,
    REGISTRY_PEOPLE,
    STAFF_READ,
    PII_READ,
    AUDIT_READ,
    REGISTRY_IMPORT,
    DELIVERY_READ,
    DELIVERY_RETRY,
    SUBSCRIPTION_MANAGE,
)

_COMMON = (POLICY_READ, REGISTRY_LOCATE)
# What a token of each role carries unless its issuer says otherwise (`lianxin token
# issue` uses these; an identity provider maps its groups to the same scopes). pii:read
# is never a default: it is granted to a person explicitly.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "hotline": (*_COMMON, CASE_SUBMIT, CASE_READ, CASE_REVIEW, SUBSCRIPTION_MANAGE, DELIVERY_READ),
    # A grid worker takes in what they find, handles it and calls back (回访) in person.
    "grid_worker": (
        *_COMMON,
        CASE_SUBMIT,
        CASE_READ,
        CASE_HANDLE,
        CASE_REVIEW,
        REGISTRY_READ,
        REGISTRY_PEOPLE,
        STAFF_READ,  # who else works their grid (phones masked)
    ),
    "operator": (
        *_COMMON,
        CASE_READ,
        CASE_HANDLE,
        CASE_DECIDE,
        CASE_REVIEW,
        STATS_READ,
        REGISTRY_READ,
        REGISTRY_PEOPLE,
        STAFF_READ,
        DELIVERY_READ,
    ),
    "supervisor": (
        *_COMMON,
        CASE_READ,
        CASE_DECIDE,
        STATS_READ,
        REGISTRY_READ,
        STAFF_READ,
        AUDIT_READ,
    ),
    "admin": tuple(p for p in ALL_PERMISSIONS if p != PII_READ),
}
STAFF_ROLES = ("grid_worker", "operator", "supervisor", "admin")

# Each service's own token: what it calls the others for.
SERVICE_SCOPES: dict[str, tuple[str, ...]] = {
    "routing": (REGISTRY_LOCATE, REGISTRY_READ, STAFF_READ, POLICY_READ),
    "notify": (REGISTRY_READ, STAFF_READ, PII_READ),
    "registry": (CASE_READ, STATS_READ),
    "intake": (REGISTRY_LOCATE,),
    "open311": (CASE_SUBMIT, CASE_READ, POLICY_READ, REGISTRY_LOCATE),
}

# Why personal data is asked for: a fixed vocabulary (the access log records the code).
# A request states the code (ASCII) or its label.
PURPOSES: dict[str, str] = {
    "home_visit": "入户走访",
    "case_handling": "诉求办理",
    "callback": "回访",
    "emergency": "应急处置",
    "data_check": "数据核查",
    "notification": "发送通知",
}
_PURPOSE_BY_LABEL = {label: code for code, label in PURPOSES.items()}
MAX_PURPOSE = 64


@dataclass(frozen=True)
class Principal:
    """The caller of one request, from its verified token."""

    actor: str = ANONYMOUS
    permissions: frozenset[str] = field(default_factory=frozenset)
    # A unit code prefix: the caller acts for that unit and everything below it. None:
    # no jurisdiction (hotlines and anonymous callers).
    jurisdiction: str | None = None
    purpose: str = ""
    kind: str = "anonymous"  # anonymous | hotline | staff | service
    role: str = ""  # staff: grid_worker | operator | supervisor | admin
    unit_code: str = ""  # staff: the unit they act for
    channel: str = ""  # hotline: the intake channel's enum name

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def is_service(self) -> bool:
        """An internal service (routing, notify, …) calling on its own behalf."""
        return self.kind == "service"

    @property
    def is_admin(self) -> bool:
        return self.kind == "staff" and self.role == "admin"

    @property
    def actor_kind(self) -> str:
        """A bounded label for metrics: service, hotline, staff or anonymous."""
        return self.kind

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def covers(self, unit_code: str) -> bool:
        """Whether `unit_code` lies in the caller's jurisdiction (services and the
        platform's administrators: everywhere)."""
        if self.is_service or self.is_admin:
            return True
        return (
            bool(self.jurisdiction)
            and bool(unit_code)
            and unit_code.startswith(self.jurisdiction or "")
        )


ANONYMOUS_PRINCIPAL = Principal()
_current: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "principal", default=ANONYMOUS_PRINCIPAL
)


def principal_from_claims(claims: dict[str, Any], *, purpose: str = "") -> Principal:
    """The Principal of a verified token's claims (`services.common.tokens.Verifier`)."""
    kind = claims["kind"]
    scopes = claims.get("scope", "")
    perms = frozenset(scopes.split()) if isinstance(scopes, str) else frozenset()
    unit = str(claims.get("unit") or "") if kind == "staff" else ""
    return Principal(
        actor=str(claims["sub"]),
        permissions=perms & frozenset(ALL_PERMISSIONS),
        jurisdiction=unit or None,
        purpose=purpose,
        kind=kind,
        role=str(claims.get("role") or "") if kind == "staff" else "",
        unit_code=unit,
        channel=str(claims.get("channel") or "") if kind == "hotline" else "",
    )


def purpose_of(metadata: Iterable[tuple[str, Any]]) -> str:
    """The stated purpose of a request ('' if none or not one of `PURPOSES`)."""
    for key, value in metadata:
        if key.lower() == PURPOSE_KEY and isinstance(value, str):
            said = unquote(value[: MAX_PURPOSE * 9]).strip()
            if said in PURPOSES:
                return said
            return _PURPOSE_BY_LABEL.get(said, "")
    return ""


def bearer_of(metadata: Iterable[tuple[str, Any]]) -> str | None:
    """The bearer token of a request's metadata, or None."""
    for key, value in metadata:
        if key.lower() == AUTHORIZATION_KEY and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def set_current(principal: Principal) -> contextvars.Token[Principal]:
    return _current.set(principal)


def current() -> Principal:
    """The caller of the request being handled (anonymous outside a request)."""
    return _current.get()


def principal_of(context: Any = None) -> Principal:
    """The caller of the RPC being handled; `context` is accepted for old call sites."""
    return _current.get()


def call_metadata(token: str, *, purpose: str = "") -> tuple[tuple[str, str], ...]:
    """Client side: the metadata of a call made with `token` (and a stated purpose)."""
    md = [(AUTHORIZATION_KEY, f"Bearer {token}")]
    if purpose:
        md.append((PURPOSE_KEY, quote(purpose, safe=" ")))
    return tuple(md)
