"""Reads what became of every acknowledged case through the public APIs only (intake's
read model, routing's history, notify's deliveries) and the receivers' logs, and counts
what the fault suite promises: nothing lost, nothing doubled, nothing stuck, nothing sent
twice beyond what was in flight at a kill, every passed deadline fired once."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as notify_res
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1 import routing_service_pb2_grpc

T = routing_res
HTTP_CHANNELS = (notify_res.DELIVERY_CHANNEL_SMS, notify_res.DELIVERY_CHANNEL_WEBHOOK)


@dataclass
class Outcome:
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged, unknown to intake
    not_filed: list[str] = field(default_factory=list)  # stuck before DISPATCHED
    doubled: list[str] = field(default_factory=list)  # FILED or DISPATCHED more than once
    drill_cases: int = 0
    drill_wrong: list[str] = field(default_factory=list)  # a stage not fired exactly once
    deliveries: int = 0
    undelivered: list[str] = field(default_factory=list)  # not SENT, or never received
    resent: dict[str, int] = field(default_factory=dict)  # delivery id → times received

    @property
    def stuck(self) -> int:
        return len(self.not_filed) + len(self.undelivered) + len(self.drill_wrong)


async def all_intake_cases(stub: intake_service_pb2_grpc.IntakeServiceStub) -> dict[str, int]:
    out: dict[str, int] = {}
    token = ""
    while True:
        reply = await stub.ListCases(
            intake_svc.ListCasesRequest(page_size=500, page_token=token), timeout=30
        )
        out.update({c.id: c.status for c in reply.cases})
        token = reply.next_page_token
        if not token:
            return out


async def all_deliveries(
    stub: notify_service_pb2_grpc.NotifyServiceStub,
) -> list[notify_res.Delivery]:
    out: list[notify_res.Delivery] = []
    token = ""
    while True:
        reply = await stub.ListDeliveries(
            notify_svc.ListDeliveriesRequest(page_size=500, page_token=token), timeout=30
        )
        out.extend(reply.deliveries)
        token = reply.next_page_token
        if not token:
            return out


async def histories(
    stub: routing_service_pb2_grpc.RoutingServiceStub, case_ids: list[str]
) -> dict[str, list[int]]:
    sem = asyncio.Semaphore(16)

    async def one(case_id: str) -> tuple[str, list[int]]:
        async with sem:
            reply = await stub.GetCase(routing_svc.GetCaseRequest(case_id=case_id), timeout=30)
            return case_id, [h.transition for h in reply.case.history]

    return dict(await asyncio.gather(*(one(c) for c in case_ids)))


async def check(
    *,
    intake: intake_service_pb2_grpc.IntakeServiceStub,
    routing: routing_service_pb2_grpc.RoutingServiceStub,
    notify: notify_service_pb2_grpc.NotifyServiceStub,
    acked: dict[str, str],
    drill: set[str],
    received: Counter[str],
) -> Outcome:
    """`acked`: external ref → case id of every acknowledged SubmitCase; `drill`: the case
    ids whose deadline was to pass; `received`: idempotency key → times the test gateway
    and webhook receiver got it."""
    out = Outcome(acknowledged=len(acked), drill_cases=len(drill))
    known = await all_intake_cases(intake)
    ids = list(acked.values())
    out.lost = [c for c in ids if c not in known]
    present = [c for c in ids if c in known]
    hist = await histories(routing, present)
    for case_id in present:
        steps = Counter(hist[case_id])
        if steps[T.TRANSITION_FILED] > 1 or steps[T.TRANSITION_DISPATCHED] > 1:
            out.doubled.append(case_id)
        if steps[T.TRANSITION_DISPATCHED] == 0 and steps[T.TRANSITION_MERGED] != 1:
            out.not_filed.append(case_id)  # neither dispatched nor joined to another case
        if steps[T.TRANSITION_MERGED] > 1:
            out.doubled.append(case_id)
        if case_id in drill and not (
            steps[T.TRANSITION_REMINDED] == 1
            and steps[T.TRANSITION_OVERDUE] == 1
            and steps[T.TRANSITION_ESCALATED] == 1
        ):
            out.drill_wrong.append(case_id)
    deliveries = [d for d in await all_deliveries(notify) if d.case_id in known]
    out.deliveries = len(deliveries)
    for d in deliveries:
        if d.status != notify_res.DELIVERY_STATUS_SENT:
            out.undelivered.append(d.id)
        elif d.channel in HTTP_CHANNELS and received[d.id] == 0:
            out.undelivered.append(d.id)  # SENT, yet the receiver never had it
    out.resent = {k: n for k, n in received.items() if n > 1}
    return out


async def settled(
    *,
    intake: intake_service_pb2_grpc.IntakeServiceStub,
    routing: routing_service_pb2_grpc.RoutingServiceStub,
    notify: notify_service_pb2_grpc.NotifyServiceStub,
    acked: dict[str, str],
    drill: set[str],
    received: Counter[str],
) -> Outcome | None:
    """The outcome once nothing is stuck any more, else None (cheap checks first)."""
    known = await all_intake_cases(intake)
    ids = set(acked.values())
    pending = [
        c
        for c in ids
        if known.get(c, T.CASE_STATUS_RECEIVED) in (T.CASE_STATUS_RECEIVED, T.CASE_STATUS_FILED)
    ]
    if pending:
        return None
    deliveries = await all_deliveries(notify)
    if any(d.status != notify_res.DELIVERY_STATUS_SENT for d in deliveries):
        return None
    out = await check(
        intake=intake,
        routing=routing,
        notify=notify,
        acked=acked,
        drill=drill,
        received=received,
    )
    return out if out.stuck == 0 else None
