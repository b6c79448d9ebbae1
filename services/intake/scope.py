"""Which cases a caller may see in intake (the jurisdiction inside its queries).

A hotline sees its own channel's cases; staff the cases located in or held by a unit of
their jurisdiction, and those they reported themselves; services and admins all. Lists
and streams are narrowed to that scope (a hotline's channel, a unit prefix) before they
are read; a single case outside it looks exactly like one that does not exist. Staff
submit through the grid app or an inspection only; hotlines only on their own channel
(checked by the authorization interceptor).
"""

from __future__ import annotations

from typing import Any

from lianxin.intake.v1 import resources_pb2 as res
from services.common import auth, authz
from services.common.errors import PermissionDenied

STAFF_CHANNELS = (res.CHANNEL_GRID_APP, res.CHANNEL_INSPECTION)


def unlimited(p: auth.Principal) -> bool:
    return p.is_service or p.is_admin


def visible(p: auth.Principal, row: Any) -> bool:
    return authz.case_visible(
        p,
        unit_codes=(row.grid_code, row.assigned_unit_code),
        channel=authz.channel_name(row.channel),
        reporter_staff_id=row.reporter_staff_id,
    )


def check_submit(p: auth.Principal, channel: int) -> None:
    if p.kind == "staff" and not p.is_admin and channel not in STAFF_CHANNELS:
        raise PermissionDenied(
            "staff submit through the grid app or an inspection (CHANNEL_GRID_APP, "
            "CHANNEL_INSPECTION); hotlines submit their own channel's cases",
            reason="WRONG_CHANNEL",
        )


def narrow(p: auth.Principal, channel: int, unit_code: str) -> tuple[int, str]:
    """The (channel, unit prefix) a list or stream may cover for this caller."""
    if unlimited(p):
        return channel, unit_code
    if p.kind == "hotline":
        return authz.own_channel(p), unit_code
    if p.kind == "staff" and p.jurisdiction:
        if unit_code and not p.covers(unit_code):
            raise PermissionDenied(
                f"unit {unit_code[:40]} is outside your jurisdiction", reason="OUT_OF_JURISDICTION"
            )
        return channel, unit_code or p.jurisdiction
    raise PermissionDenied("no jurisdiction to list cases in", reason="OUT_OF_JURISDICTION")
