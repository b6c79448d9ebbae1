"""Whose deliveries and subscriptions a caller may see (jurisdiction inside notify).

Services and admins see every delivery; a hotline the deliveries about its own channel's
cases; other staff the notifications sent to them. Subscriptions are managed by an admin,
or by a hotline for its own channel only; anyone else's subscription looks exactly like
one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common import auth, authz
from services.common.errors import PermissionDenied


@dataclass(frozen=True)
class DeliveryScope:
    case_channel: int = 0  # only deliveries about cases of this intake channel
    recipient_id: str = ""  # only deliveries to this recipient

    def covers(self, row: Any, case_channel: int | None) -> bool:
        if self.recipient_id and row.recipient_id != self.recipient_id:
            return False
        return not self.case_channel or case_channel == self.case_channel


def deliveries(p: auth.Principal) -> DeliveryScope:
    if p.is_service or p.is_admin:
        return DeliveryScope()
    if p.kind == "hotline":
        return DeliveryScope(case_channel=authz.own_channel(p))
    if p.kind == "staff":
        return DeliveryScope(recipient_id=p.actor)
    raise PermissionDenied("no deliveries to read", reason="OUT_OF_JURISDICTION")


def subscription_hotline(p: auth.Principal) -> int:
    """0: the caller manages every hotline's subscriptions; else the one hotline."""
    if p.is_service or p.is_admin:
        return 0
    if p.kind == "hotline":
        return authz.own_channel(p)
    raise PermissionDenied(
        "subscriptions are managed by an administrator or by the hotline itself",
        reason="ADMIN_OR_HOTLINE_ONLY",
    )
