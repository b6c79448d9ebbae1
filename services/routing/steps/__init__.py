"""The steps a case takes over routing's API, each declared once (rules as data).

Every RPC that moves a case is a `StepRule` in `RULES`:
- `transition`: what it records (and what its `request_id` is kept for);
- `check`: its own fields, beyond `case_id` and `request_id` that every step has, checked
  and normalised before anything else happens (INVALID_ARGUMENT with every violation);
- `acting`: whether the decision is taken for a unit, the caller's own
  (`authz.acting_unit`): decisions "by the level above" and the district platform's;
- `prepare`: what must be looked up outside the transaction, on the case as it is now
  (registry's names and places, files to store), or None;
- `plan`: the steps it writes, decided on the locked row inside the transaction; it
  raises FAILED_PRECONDITION (`changed`) when what `prepare` found no longer fits;
- `answer`: fields of the response beside the case.

`api.RoutingServicer` serves every rule the same way (`RoutingServicer.step`): check,
prepare, apply once per (case, request_id), answer. Authorization (who may call which
RPC, on which case) is `services/common/authz.py`'s table and `scope.py`, before this.
"""

from services.routing.steps.base import (
    Acting,
    Call,
    Plan,
    StepRule,
    Tools,
    changed,
    registry_down,
    require_case_id,
    step_violations,
)
from services.routing.steps.table import RULES

__all__ = [
    "RULES",
    "Acting",
    "Call",
    "Plan",
    "StepRule",
    "Tools",
    "changed",
    "registry_down",
    "require_case_id",
    "step_violations",
]
