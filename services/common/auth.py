"""Who is calling, and what they may do: the `Principal` of a request.

THE SEAM for authentication. Today a caller states its identity in gRPC metadata:

    x-lianxin-actor         staff-hanliyuan, cli:root, or service:<name> for internal calls
    x-lianxin-permissions   comma list, e.g. "pii:read,registry:import"
    x-lianxin-jurisdiction  a unit code prefix, e.g. "370402003" (a street and all below)
    x-lianxin-purpose       why personal data is asked for, percent-encoded UTF-8
                            (metadata is ASCII), e.g. "%E5%85%A5%E6%88%B7" for "入户"

`principal_from_metadata()` is the one function that turns a request's metadata into a
`Principal`. When JWT verification lands, it reads the bearer token instead (actor = `sub`,
permissions and jurisdiction from claims; the purpose stays a header, since it is said per
request) and nothing that calls it changes. Until then the headers are trusted: deploy
behind a gateway that strips them from outside traffic.

Internal callers (`service:<name>`, e.g. routing and notify) keep their behaviour from
before this module: they read staff contact data unmasked (notify sends the SMS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

ACTOR_KEY = "x-lianxin-actor"
PERMISSIONS_KEY = "x-lianxin-permissions"
JURISDICTION_KEY = "x-lianxin-jurisdiction"
PURPOSE_KEY = "x-lianxin-purpose"

SERVICE_PREFIX = "service:"
ANONYMOUS = "anonymous"

# Permissions (a token's scopes later).
PII_READ = "pii:read"  # see ID numbers and phones unmasked, with a purpose
AUDIT_READ = "audit:read"  # read the personal-data access log
REGISTRY_IMPORT = "registry:import"  # bulk-import units, buildings, households, persons

MAX_PURPOSE = 200


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    actor: str = ANONYMOUS
    permissions: frozenset[str] = field(default_factory=frozenset)
    # A unit code prefix: the caller acts for that unit and everything below it. None:
    # no jurisdiction stated (the caller sees masked data only).
    jurisdiction: str | None = None
    purpose: str = ""

    @property
    def is_service(self) -> bool:
        """An internal service (routing, notify, …) calling on its own behalf."""
        return self.actor.startswith(SERVICE_PREFIX) and len(self.actor) > len(SERVICE_PREFIX)

    @property
    def actor_kind(self) -> str:
        """A bounded label for metrics: service, staff, cli or other."""
        if self.is_service:
            return "service"
        for kind in ("staff", "cli"):
            if self.actor.startswith(kind):
                return kind
        return "other"

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def covers(self, unit_code: str) -> bool:
        """Whether `unit_code` lies in the caller's jurisdiction."""
        return (
            bool(self.jurisdiction)
            and bool(unit_code)
            and unit_code.startswith(self.jurisdiction or "")
        )


def _split(value: str) -> Iterable[str]:
    return (p.strip() for p in value.split(",") if p.strip())


def principal_from_metadata(metadata: Mapping[str, str] | Iterable[tuple[str, Any]]) -> Principal:
    """The caller of a request, from its gRPC metadata (see the module doc)."""
    md = metadata if isinstance(metadata, Mapping) else dict(metadata)
    pairs = {k.lower(): v for k, v in md.items() if isinstance(v, str)}
    jurisdiction = pairs.get(JURISDICTION_KEY, "").strip() or None
    return Principal(
        actor=pairs.get(ACTOR_KEY, "").strip() or ANONYMOUS,
        permissions=frozenset(_split(pairs.get(PERMISSIONS_KEY, ""))),
        jurisdiction=jurisdiction,
        purpose=unquote(pairs.get(PURPOSE_KEY, "")).strip()[:MAX_PURPOSE],
    )


def principal_of(context: Any) -> Principal:
    """The caller of the RPC whose `grpc.aio.ServicerContext` is `context`."""
    return principal_from_metadata(tuple(context.invocation_metadata() or ()))


def metadata_for(
    actor: str,
    *,
    permissions: Iterable[str] = (),
    jurisdiction: str = "",
    purpose: str = "",
) -> tuple[tuple[str, str], ...]:
    """Client side: the metadata stating a principal (CLI, tests, other services).

    gRPC metadata values must be ASCII unless the key ends in -bin, so a Chinese purpose
    is percent-encoded here and decoded by `principal_from_metadata`."""
    md = [(ACTOR_KEY, actor)]
    perms = ",".join(permissions)
    if perms:
        md.append((PERMISSIONS_KEY, perms))
    if jurisdiction:
        md.append((JURISDICTION_KEY, jurisdiction))
    if purpose:
        md.append((PURPOSE_KEY, quote(purpose, safe=" ")))
    return tuple(md)
