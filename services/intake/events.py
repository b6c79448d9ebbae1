"""intake's event handling: routing's transitions feed the read model hotlines ask."""

from __future__ import annotations

from lianxin.events.v1 import event_pb2
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common.consumer import Apply, Batched
from services.common.timeutil import from_ts
from services.intake import metrics, store

CONSUMER = "intake-read-model"
# Every step routing publishes; not case.received, which intake itself publishes.
SUBJECTS = [
    f"lianxin.case.{v.name.removeprefix('TRANSITION_').lower()}"
    for v in routing_res.Transition.DESCRIPTOR.values
    if v.number
]


async def handle(event: event_pb2.Event, apply: Apply) -> None:
    if event.WhichOneof("body") != "case_transitioned":
        return  # case.received is our own; nothing else concerns the read model
    t = event.case_transitioned
    c = t.case
    row = {
        "case_id": c.id,
        "version": c.version,
        "status": c.status,
        "transition": t.entry.transition,
        "unit_code": c.assigned_unit_code,
        "unit_name": c.assigned_unit_name,
        "note": t.entry.note,
        "time": from_ts(t.entry.time),
        "grid_code": c.grid_code,
        "level": c.level,
        "deadline_time": from_ts(c.deadline_time),
        "result": c.result,
        "filing_error": c.filing_error,
    }

    # Written with the other status changes of its writer group: one statement per table.
    if await apply(Batched(store.apply_transitions, {**row, "event_id": event.id})):
        metrics.STATUS_CHANGES.labels(
            routing_res.CaseStatus.Name(c.status).removeprefix("CASE_STATUS_").lower()
        ).inc()
