"""What each step looks up outside the transaction (`prepare_*`) and the steps it writes
on the locked row (`plan_*`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from lianxin.routing.v1 import resources_pb2 as res
from services.common.errors import InvalidArgument
from services.routing import decisions, domain, final, locating, store
from services.routing.directory import RegistryDown
from services.routing.events import first_target
from services.routing.steps.base import Call, Plan, Tools, changed, registry_down

S = res


# --- lookups outside the transaction -----------------------------------------------------


async def prepare_resolve(tools: Tools, call: Call) -> None:
    """Files only once the step is known to go ahead; the transaction checks again, and a
    file whose request then fails is the sweep's."""
    photos = call.request.photos
    if photos and await tools.would_step(call, S.TRANSITION_RESOLVED, plan_resolve):
        await tools.blobs.put_all([p.content for p in photos])


async def prepare_escalate(tools: Tools, call: Call) -> domain.Target | None:
    request = call.request
    row = await tools.current(request.case_id, request.request_id)
    if row is None:  # a retry of a step already done, or the step will fail anyway
        return None
    domain.check_allowed(row, S.TRANSITION_ESCALATED)
    up = decisions.escalation_level(row, tools.sla)
    default = tools.sla.default_target(row, up)
    assisting = tuple((c, "") for c in request.assisting_unit_codes)
    if request.unit_code:
        decisions.check_target(row, request.unit_code, up, field="unit_code")
    if request.unit_code and request.unit_code != default.unit_code:
        target = domain.Target(up, request.unit_code, "", assisting)
    else:  # the policy's unit for that level; the request may name its helpers
        target = dataclasses.replace(default, assisting=assisting or default.assisting)
    return await tools.named(target, "unit_code")


async def prepare_rate(tools: Tools, call: Call) -> domain.Target | None:
    """The unit a closed case goes back to if this rating reopens it."""
    row = await tools.current(call.request.case_id, call.request.request_id)
    if row is None or row.status != S.CASE_STATUS_CLOSED:
        return None
    return await tools.named(decisions.reopen_target(row, tools.sla), "case_id")


async def prepare_file(tools: Tools, call: Call) -> tuple[Any, domain.Target] | None:
    """The place chosen and the unit the case goes to from there."""
    row = await tools.current(call.request.case_id, call.request.request_id)
    if row is None:
        return None
    domain.check_allowed(row, S.TRANSITION_FILED)
    chosen, field_name = call.chosen, call.field
    locating.check_may_file(
        row, acting=call.acting, chosen=chosen, field=field_name, principal=call.principal
    )
    try:
        place = await locating.place_of(tools.directory, chosen, field_name)
        if field_name == "grid_code":
            target = await first_target(tools.sla, tools.directory, row.category, place)
        else:
            category = tools.sla.category(row.category)
            named = await tools.named(
                domain.Target(domain.unit_level(chosen), chosen, ""), field_name
            )
            staff = await tools.directory.staff_with_skill(chosen, category.skill)
            target = dataclasses.replace(named, staff_id=staff)
    except RegistryDown as exc:
        raise registry_down(exc) from exc
    return place, target


async def prepare_redispatch(tools: Tools, call: Call) -> domain.Target | None:
    request, acting = call.request, call.acting
    row = await tools.current(request.case_id, request.request_id)
    if row is None:
        return None
    domain.check_allowed(row, S.TRANSITION_REDISPATCHED)
    decisions.check_above(row, acting, what="re-dispatching")
    decisions.check_target(row, request.unit_code, call.level, field="unit_code")
    if not request.unit_code.startswith(acting):
        raise InvalidArgument([("unit_code", f"must be {acting} or a unit below it")])
    return await tools.named(
        domain.Target(
            call.level,
            request.unit_code,
            "",
            tuple((c, "") for c in request.assisting_unit_codes),
        ),
        "unit_code",
    )


# --- plans: the steps written, on the locked row -----------------------------------------


def plan_accept(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [domain.Step(S.TRANSITION_ACCEPTED, call.actor, call.note)]


def plan_resolve(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    assisting = [a.unit_code for a in store.get_assisting(conn, case_id=row.id)]
    return [
        decisions.plan_resolve(
            row,
            actor=call.actor,
            result=call.result,
            photos=call.photos,
            acting=call.acting,
            assisting=assisting,
        )
    ]


def plan_return(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [decisions.plan_return(row, actor=call.actor, reason=call.reason)]


def plan_escalate(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    domain.check_allowed(row, S.TRANSITION_ESCALATED)
    up = decisions.escalation_level(row, call.sla)
    target = call.prepared
    if target is None or target.level != up:
        raise changed(row.id)
    return [
        decisions.plan_dispatch_to(
            row,
            sla=call.sla,
            transition=S.TRANSITION_ESCALATED,
            actor=call.actor,
            note=f"上报 {target.unit_name}：{call.reason}",
            target=target,
            now=now,
        )
    ]


def plan_extension(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [
        decisions.plan_request_extension(
            row, actor=call.actor, hours=call.request.hours, reason=call.reason
        )
    ]


def plan_explain(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [decisions.plan_explain(row, actor=call.actor, explanation=call.explanation)]


def plan_close(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [decisions.plan_close(row, actor=call.actor, note=call.note, now=now)]


def plan_rework(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [decisions.plan_rework(row, actor=call.actor, reason=call.reason)]


def plan_rate(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    domain.check_allowed(row, S.TRANSITION_RATED)
    rated, reopen = decisions.plan_rate(
        row,
        policy=call.policy,
        actor=call.actor,
        satisfaction=call.request.satisfaction,
        note=call.note,
        now=now,
    )
    if not reopen:
        return [rated]
    target = call.prepared
    if target is None:
        raise changed(row.id)
    return [
        rated,
        decisions.plan_reopen(
            row,
            sla=call.sla,
            target=target,
            note=f"回访不满意，重新交办 {target.unit_name}",
            now=now,
        ),
    ]


def plan_final(make: Callable[..., domain.Step]) -> Plan:
    """Void or transfer: the district platform's final steps."""

    def plan(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
        final.check_platform(
            row, acting=call.acting, district=call.policy.district, principal=call.principal
        )
        return [make(row, actor=call.actor, request=call.request)]

    return plan


def plan_file(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    domain.check_allowed(row, S.TRANSITION_FILED)
    locating.check_may_file(
        row, acting=call.acting, chosen=call.chosen, field=call.field, principal=call.principal
    )
    if call.prepared is None:
        raise changed(row.id)
    place, target = call.prepared
    return locating.plan_file(
        row, sla=call.sla, actor=call.actor, place=place, target=target, note=call.note, now=now
    )


def plan_redispatch(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    domain.check_allowed(row, S.TRANSITION_REDISPATCHED)
    decisions.check_above(row, call.acting, what="re-dispatching")
    target = call.prepared
    if target is None:
        raise changed(row.id)
    return [
        decisions.plan_dispatch_to(
            row,
            sla=call.sla,
            transition=S.TRANSITION_REDISPATCHED,
            actor=call.actor,
            note=call.note or f"重新派单 {target.unit_name}",
            target=target,
            now=now,
        )
    ]


def plan_approve(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [
        decisions.plan_approve_extension(
            row, sla=call.sla, actor=call.actor, acting=call.acting, note=call.note, now=now
        )
    ]


def plan_refuse(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    return [
        decisions.plan_refuse_extension(
            row, actor=call.actor, acting=call.acting, reason=call.reason
        )
    ]


def plan_supervise(call: Call, conn: Connection, row: Any, now: datetime) -> list[domain.Step]:
    if call.deadline <= now:
        raise InvalidArgument([("deadline_time", "must be in the future")])
    return [
        decisions.plan_supervise(
            row,
            sla=call.sla,
            actor=call.actor,
            acting=call.acting,
            note=call.note,
            deadline=call.deadline,
            now=now,
        )
    ]
