"""Authentication and authorization of every RPC, declared once and enforced here.

`RULES` names, for each RPC of the four services, the permission a caller's token must
carry and how the request is scoped to the caller's jurisdiction:

    Scope.NONE       not personal, not scoped (the taxonomy, locating a point)
    Scope.UNIT       a unit named in the request (`unit`, a field) must lie in the caller's
                     jurisdiction; left empty, the handler lists only what is in it
    Scope.CHANNEL    a hotline may only name its own channel (`channel`, a field); left
                     empty, the handler lists only that channel's objects
    Scope.CASE       one case or a list of cases: the handler reads it and answers
                     NOT_FOUND when it lies outside the caller's scope (see `case_visible`)
    Scope.ANY        admins and services only, or a check of the handler's own

The `AuthInterceptor` verifies the bearer token (no token or a bad one: UNAUTHENTICATED),
keeps the caller's `Principal` for the request (`auth.principal_of`), refuses a missing
permission or an out-of-jurisdiction unit (PERMISSION_DENIED) and lets only health and
reflection through unauthenticated. An RPC missing from `RULES` is refused: a new RPC
must be declared here (a test checks every RPC of the descriptors is).
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from lianxin.intake.v1 import resources_pb2 as intake_res
from services.common import auth
from services.common.errors import LianxinError, PermissionDenied, Unauthenticated
from services.common.interceptors import (
    Streaming,
    Unary,
    _abort_with,
    _WrappingInterceptor,
    actor_var,
    to_status,
)
from services.common.tokens import TokenError, Verifier

log = logging.getLogger(__name__)


class Scope(enum.Enum):
    NONE = "none"
    UNIT = "unit"
    CHANNEL = "channel"
    CASE = "case"
    ANY = "any"


@dataclass(frozen=True)
class Rule:
    permission: str
    scope: Scope = Scope.NONE
    field: str = ""  # the request field(s) Scope.UNIT / Scope.CHANNEL looks at, comma-separated
    admin_only: bool = False  # beyond the permission: admins and services only


P = auth
INTAKE = "lianxin.intake.v1.IntakeService"
NOTIFY = "lianxin.notify.v1.NotifyService"
REGISTRY = "lianxin.registry.v1.RegistryService"
ROUTING = "lianxin.routing.v1.RoutingService"

_CASE = Scope.CASE
RULES: dict[str, Rule] = {
    # intake: hotlines see their own channel, staff the cases of their units
    f"{INTAKE}/SubmitCase": Rule(P.CASE_SUBMIT, Scope.CHANNEL, "channel"),
    f"{INTAKE}/GetCase": Rule(P.CASE_READ, _CASE),
    f"{INTAKE}/ListCases": Rule(P.CASE_READ, Scope.CHANNEL, "channel"),
    f"{INTAKE}/WatchCases": Rule(P.CASE_READ, Scope.CHANNEL, "channel"),
    f"{INTAKE}/ListStatusChanges": Rule(P.CASE_READ, Scope.CHANNEL, "channel"),
    # notify: deliveries of the caller's channel or units; subscriptions per hotline
    f"{NOTIFY}/ListDeliveries": Rule(P.DELIVERY_READ, _CASE),
    f"{NOTIFY}/GetDelivery": Rule(P.DELIVERY_READ, _CASE),
    f"{NOTIFY}/RetryDelivery": Rule(P.DELIVERY_RETRY, Scope.ANY, admin_only=True),
    f"{NOTIFY}/CreateSubscription": Rule(P.SUBSCRIPTION_MANAGE, Scope.CHANNEL, "subscription"),
    f"{NOTIFY}/ListSubscriptions": Rule(P.SUBSCRIPTION_MANAGE, Scope.CHANNEL, "hotline"),
    f"{NOTIFY}/DeleteSubscription": Rule(P.SUBSCRIPTION_MANAGE, Scope.CHANNEL),
    f"{NOTIFY}/RotateSubscriptionSecret": Rule(P.SUBSCRIPTION_MANAGE, Scope.CHANNEL),
    # registry: organisation data is scoped by unit, people by jurisdiction
    f"{REGISTRY}/LocateGrid": Rule(P.REGISTRY_LOCATE),
    f"{REGISTRY}/GeocodeAddress": Rule(P.REGISTRY_LOCATE),
    f"{REGISTRY}/GetUnit": Rule(P.REGISTRY_READ),
    f"{REGISTRY}/ListUnits": Rule(P.REGISTRY_READ),
    f"{REGISTRY}/ListDepartments": Rule(P.REGISTRY_READ),
    f"{REGISTRY}/ListStaff": Rule(P.STAFF_READ, Scope.UNIT, "unit_code,grid_code"),
    f"{REGISTRY}/AuditCoverage": Rule(P.REGISTRY_READ, Scope.UNIT, "unit_code"),
    f"{REGISTRY}/GetAreaSummary": Rule(P.REGISTRY_READ, Scope.UNIT, "unit_code"),
    f"{REGISTRY}/GetBuildingView": Rule(P.REGISTRY_PEOPLE, _CASE),
    f"{REGISTRY}/GetPersonView": Rule(P.REGISTRY_PEOPLE, _CASE),
    f"{REGISTRY}/SearchRegistry": Rule(P.REGISTRY_PEOPLE, Scope.UNIT, "unit_code"),
    f"{REGISTRY}/ImportData": Rule(P.REGISTRY_IMPORT, Scope.ANY, admin_only=True),
    f"{REGISTRY}/ListAccessLog": Rule(P.AUDIT_READ, Scope.ANY),
    # routing: the holder's steps, the level above's decisions, the callback
    f"{ROUTING}/GetCase": Rule(P.CASE_READ, _CASE),
    f"{ROUTING}/ExplainCase": Rule(P.CASE_READ, _CASE),
    f"{ROUTING}/ListWorkQueue": Rule(P.CASE_READ, Scope.UNIT, "unit_code"),
    f"{ROUTING}/AcceptCase": Rule(P.CASE_HANDLE, _CASE),
    f"{ROUTING}/ResolveCase": Rule(P.CASE_HANDLE, _CASE),
    f"{ROUTING}/ReturnCase": Rule(P.CASE_HANDLE, _CASE),
    f"{ROUTING}/EscalateCase": Rule(P.CASE_HANDLE, _CASE),
    f"{ROUTING}/RequestExtension": Rule(P.CASE_HANDLE, _CASE),
    f"{ROUTING}/FileCase": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/VoidCase": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/TransferCase": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/RedispatchCase": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/ApproveExtension": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/RefuseExtension": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/SuperviseCase": Rule(P.CASE_DECIDE, _CASE),
    f"{ROUTING}/CloseCase": Rule(P.CASE_REVIEW, _CASE),
    f"{ROUTING}/RateCase": Rule(P.CASE_REVIEW, _CASE),
    f"{ROUTING}/ReworkCase": Rule(P.CASE_REVIEW, _CASE),
    f"{ROUTING}/GetStats": Rule(P.STATS_READ, Scope.UNIT, "unit_code"),
    f"{ROUTING}/GetRanking": Rule(P.STATS_READ, Scope.UNIT, "unit_code"),
    f"{ROUTING}/ListCategories": Rule(P.POLICY_READ),
    f"{ROUTING}/GetPolicy": Rule(P.POLICY_READ),
}

PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def rule_for(method: str) -> Rule | None:
    return RULES.get(method.lstrip("/"))


# --- scope helpers the handlers use ----------------------------------------------------


def channel_name(value: int) -> str:
    """The enum name of an intake channel number ('' for an unknown one)."""
    try:
        return str(intake_res.Channel.Name(value))
    except ValueError:
        return ""


def own_channel(p: auth.Principal) -> int:
    """A hotline caller's intake channel number; PERMISSION_DENIED if its token has none."""
    try:
        number = int(intake_res.Channel.Value(p.channel))
    except ValueError:
        number = 0
    if number <= 0:
        raise PermissionDenied("this hotline's token names no channel", reason="NO_CHANNEL")
    return number


def case_visible(
    p: auth.Principal,
    *,
    unit_codes: tuple[str, ...] = (),
    channel: str = "",
    reporter_staff_id: str = "",
) -> bool:
    """Whether a case is in the caller's scope: a hotline sees its own channel's cases;
    staff see a case located in, or held by, a unit of their jurisdiction (and the cases
    they reported themselves); services and admins see all."""
    if p.is_service or p.is_admin:
        return True
    if p.kind == "hotline":
        return bool(channel) and channel == p.channel
    if p.kind == "staff":
        if reporter_staff_id and reporter_staff_id == p.actor:
            return True
        return any(p.covers(u) for u in unit_codes if u)
    return False


def acting_unit(p: auth.Principal, requested: str) -> str:
    """The unit a level-above decision is made for: the token's unit. Admins and services
    may name the unit they act for (it must then lie in their jurisdiction)."""
    requested = requested.strip()
    if p.is_service or p.is_admin:
        if requested and not p.covers(requested):
            raise PermissionDenied(
                f"acting for {requested[:40]} is outside your jurisdiction",
                reason="OUT_OF_JURISDICTION",
            )
        return requested or p.unit_code
    if p.kind != "staff" or not p.unit_code:
        raise PermissionDenied("only staff of a unit decide for it", reason="NOT_STAFF")
    if requested and requested != p.unit_code:
        raise PermissionDenied(
            f"you act for unit {p.unit_code}, not {requested[:40]}",
            reason="ACTING_UNIT_MISMATCH",
            metadata={"unit_code": p.unit_code},
        )
    return p.unit_code


# --- the interceptor -------------------------------------------------------------------


def _field(request: Any, name: str) -> Any:
    value = request
    for part in name.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


_UNIT_CODE = re.compile(r"[0-9A-Za-z_.-]{1,64}")


def _check(rule: Rule, p: auth.Principal, request: Any, method: str) -> None:
    if not p.has(rule.permission):
        raise PermissionDenied(
            f"{method.rpartition('/')[2]} needs the {rule.permission} permission",
            reason="MISSING_PERMISSION",
            metadata={"permission": rule.permission},
        )
    if rule.admin_only and not (p.is_admin or p.is_service):
        raise PermissionDenied("only an administrator may do this", reason="ADMIN_ONLY")
    if rule.scope is Scope.UNIT and rule.field and not (p.is_admin or p.is_service):
        if p.kind == "hotline":
            raise PermissionDenied("hotlines have no jurisdiction", reason="OUT_OF_JURISDICTION")
        for name in rule.field.split(","):
            unit = _field(request, name)
            # A malformed code is the handler's INVALID_ARGUMENT to give, with its field.
            if unit and _UNIT_CODE.fullmatch(str(unit)) and not p.covers(str(unit)):
                raise PermissionDenied(
                    f"unit {str(unit)[:40]} is outside your jurisdiction",
                    reason="OUT_OF_JURISDICTION",
                    metadata={"jurisdiction": p.jurisdiction or ""},
                )
    if rule.scope is Scope.CHANNEL and p.kind == "hotline" and rule.field:
        value = _field(request, rule.field)
        if rule.field == "subscription" and value is not None:
            value = value.hotline
        if isinstance(value, int) and value and channel_name(value) != p.channel:
            raise PermissionDenied(
                f"this hotline's token is bound to {p.channel}",
                reason="WRONG_CHANNEL",
                metadata={"channel": p.channel},
            )


class AuthInterceptor(_WrappingInterceptor):
    """Verifies the token and enforces `RULES` before the handler runs."""

    def __init__(self, verifier: Verifier | None) -> None:
        super().__init__()
        self.verifier = verifier

    def _principal(self, context: Any) -> auth.Principal:
        md = tuple(context.invocation_metadata() or ())
        token = auth.bearer_of(md)
        if token is None:
            raise Unauthenticated("a bearer token is required", reason="NO_TOKEN")
        if self.verifier is None:
            raise Unauthenticated("this service trusts no signing keys", reason="NO_KEYS")
        try:
            claims = self.verifier.verify(token)
        except TokenError as exc:
            raise Unauthenticated(str(exc), reason="BAD_TOKEN") from exc
        return auth.principal_from_claims(claims, purpose=auth.purpose_of(md))

    def _admit(self, request: Any, context: Any, method: str) -> bool:
        """True: go on as the caller; raises when refused; False for public methods."""
        if method.startswith(PUBLIC_PREFIXES):
            return False
        p = self._principal(context)
        auth.set_current(p)
        actor_var.set(p.actor)
        rule = rule_for(method)
        if rule is None:
            raise PermissionDenied("this method is not open to callers", reason="UNDECLARED")
        _check(rule, p, request, method)
        return True

    async def around(self, call: Unary, request: Any, context: Any, method: str) -> Any:
        try:
            self._admit(request, context, method)
        except LianxinError as exc:
            await _abort_with(context, to_status(exc))
        return await call(request, context)

    async def around_stream(
        self, call: Streaming, request: Any, context: Any, method: str
    ) -> AsyncIterator[Any]:
        try:
            self._admit(request, context, method)
        except LianxinError as exc:
            await _abort_with(context, to_status(exc))
        async for item in call(request, context):
            yield item
