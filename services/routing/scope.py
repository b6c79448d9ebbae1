"""Which cases a caller may see and act on (the jurisdiction inside routing's queries).

A case lies in a unit's jurisdiction when it is located in it (grid, community, street) or
held by it (the assigned unit, e.g. a district department); a hotline sees the cases of
its own channel; the district's own staff also see cases not located yet (定位). Anything
else looks exactly like a case that does not exist.
"""

from __future__ import annotations

from typing import Any

from services.common import auth, authz
from services.common.errors import NotFound


def visible(p: auth.Principal, row: Any, *, district: str) -> bool:
    if p.kind == "staff" and district and p.jurisdiction == district:
        return True
    return authz.case_visible(
        p,
        unit_codes=(row.grid_code, row.community_code, row.street_code, row.assigned_unit_code),
        channel=authz.channel_name(row.channel),
    )


def check(p: auth.Principal, row: Any, case_id: str, *, district: str) -> Any:
    """`row`, or NOT_FOUND as for a case that does not exist."""
    if row is None or not visible(p, row, district=district):
        raise not_found(case_id)
    return row


def not_found(case_id: str) -> NotFound:
    return NotFound(f"case {case_id} not found", metadata={"case_id": case_id})
