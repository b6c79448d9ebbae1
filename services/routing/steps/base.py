"""What every step rule is made of: the call its functions see, the rule itself, and the
checks every step shares."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from google.protobuf.message import Message
from sqlalchemy import Connection

from lianxin.routing.v1 import resources_pb2 as res
from services.common.auth import Principal
from services.common.blobs import BlobStore
from services.common.errors import FailedPrecondition, Unavailable, Violations
from services.common.policy import Policy
from services.routing import domain
from services.routing.config import RoutingSettings
from services.routing.directory import Directory, RegistryDown


class Acting(enum.Enum):
    NO = "no"  # the caller acts as themself
    IF_GIVEN = "if_given"  # for a unit when the request names one (resolving with helpers)
    YES = "yes"  # always for a unit: the level above, the district platform


@dataclass
class Call:
    """One step request, as the rule's functions see it."""

    request: Any
    actor: str
    acting: str
    principal: Principal
    sla: domain.Sla
    policy: Policy
    values: dict[str, Any]  # what `check` normalised (trimmed texts, photo records)
    prepared: Any = None  # what `prepare` found; None when the step answers by itself

    def __getattr__(self, name: str) -> Any:  # call.reason rather than call.values["reason"]
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


class Tools(Protocol):
    """What `prepare` may use: the servicer's lookups outside the transaction."""

    sla: domain.Sla
    directory: Directory
    blobs: BlobStore

    async def current(self, case_id: str, request_id: str) -> Any: ...

    async def named(self, target: domain.Target, field: str) -> domain.Target: ...

    async def would_step(self, call: Call, transition: int, plan: Plan) -> bool: ...


Check = Callable[[Any, Violations, RoutingSettings], dict[str, Any]]
Prepare = Callable[[Tools, Call], Awaitable[Any]]
Plan = Callable[[Call, Connection, Any, datetime], list[domain.Step]]


def no_fields(request: Any, v: Violations, settings: RoutingSettings) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class StepRule:
    transition: int
    response: type[Message]
    plan: Plan
    check: Check = no_fields
    acting: Acting = Acting.NO
    prepare: Prepare | None = None
    answer: Callable[[res.Case], dict[str, Any]] = field(default=lambda case: {})


# --- checks ------------------------------------------------------------------------------


def require_case_id(case_id: str, v: Violations | None = None) -> None:
    own = v is None
    v = v or Violations()
    v.check(bool(case_id), "case_id", "is required")
    v.check(len(case_id) <= 36, "case_id", "must be at most 36 characters")
    if own:
        v.raise_if_any()


def step_violations(case_id: str, request_id: str) -> Violations:
    v = Violations()
    require_case_id(case_id, v)
    v.check(len(request_id) <= 64, "request_id", "must be at most 64 characters")
    return v


def text(v: Violations, name: str, value: str, *, required: bool = True, limit: int = 4000) -> str:
    trimmed = value.strip()
    if required and not trimmed:
        v.add(name, "is required")
    if len(value) > limit:
        v.add(name, f"must be at most {limit} characters")
    return trimmed


def changed(case_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"case {case_id} changed while this step was prepared; try again",
        reason="CONCURRENT_CHANGE",
    )


def registry_down(exc: RegistryDown) -> Unavailable:
    return Unavailable(f"registry is not answering: {exc}", reason="REGISTRY_DOWN")


def optional(name: str, *, long: bool = False) -> Check:
    """A free-text field that may be empty."""

    def check(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
        limit = s.result_max_chars if long else 4000
        return {name: text(v, name, getattr(request, name), required=False, limit=limit)}

    return check


def required(name: str, *, long: bool = False) -> Check:
    """A free-text field that must say something."""

    def check(request: Any, v: Violations, s: RoutingSettings) -> dict[str, Any]:
        limit = s.result_max_chars if long else 4000
        return {name: text(v, name, getattr(request, name), limit=limit)}

    return check
