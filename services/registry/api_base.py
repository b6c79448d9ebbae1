"""What registry's RPC handlers share: limits, paging tokens, jurisdiction checks,
not-found errors, and `Handlers`: the servicer's state and the access logging of
personal data."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from lianxin.registry.v1 import resources_pb2 as res
from services.common import paging
from services.common.auth import Principal
from services.common.bus import OutboxRelay
from services.common.db import Database
from services.common.errors import NotFound, PermissionDenied, Violations
from services.common.interceptors import request_id_var
from services.common.timeutil import utcnow
from services.registry import domain, metrics
from services.registry.cases import CaseDirectory
from services.registry.store import records

PAGE_DEFAULT = 100
PAGE_MAX = 1000
SEARCH_DEFAULT = 20
SEARCH_MAX = 100
SEARCH_MAX_OFFSET = 10_000
PERSON_CASES = 20
GEOCODE_DEFAULT = 5
GEOCODE_MAX = 20
MAX_VIOLATIONS = 50
VIEW_NAMES = {res.PERSONAL_DATA_VIEW_MASKED: "masked", res.PERSONAL_DATA_VIEW_FULL: "full"}
LOCATED = metrics.LOCATE.labels("found")


def _page(requested: int, token: str) -> tuple[int, str]:
    size = paging.page_size(requested, default=PAGE_DEFAULT, maximum=PAGE_MAX)
    return size, paging.read_token(token, {"after": str})["after"]


def _next_token(keys: list[str], more: bool) -> str:
    return paging.encode_token({"after": keys[-1]}) if more and keys else ""


def _require(v: Violations, value: str, field: str, *, max_len: int = 64) -> None:
    v.check(bool(value), field, "is required")
    v.check(len(value) <= max_len, field, f"must be at most {max_len} characters")


def _within(p: Principal, code: str, what: str) -> None:
    """Refuse `what` (belonging to `code`) when the caller's jurisdiction does not hold it."""
    if p.jurisdiction is not None and not p.covers(code):
        raise PermissionDenied(
            f"{what} is outside your jurisdiction {p.jurisdiction}",
            reason="OUTSIDE_JURISDICTION",
            metadata={"jurisdiction": p.jurisdiction},
        )


def _need_jurisdiction(p: Principal, what: str) -> None:
    """Persons and households are shown only to a caller acting for a unit."""
    refusal = domain.person_data_refusal(p, what)
    if refusal:
        raise PermissionDenied(refusal, reason="NO_JURISDICTION")


def _person_not_found(person_id: str) -> NotFound:
    return NotFound(f"person {person_id} not found", metadata={"person_id": person_id})


def _building_not_found(code: str) -> NotFound:
    return NotFound(f"building {code} not found", metadata={"code": code})


class Handlers:
    """The servicer's state as its handlers use it (RegistryServicer.__init__ sets it),
    and the access logging of personal data they share."""

    db: Database
    grid_map: domain.GridMap
    relay: OutboxRelay | None
    cases: CaseDirectory
    _import_lock: asyncio.Lock

    # --- personal data -----------------------------------------------------------------

    async def _check_full(self, p: Principal, method: str, persons: list[Any], full: bool) -> None:
        """Log the read of `persons`; when the full view is asked and refused, log the
        refusal and raise PERMISSION_DENIED."""
        ids = [r.id for r in persons]
        view = res.PERSONAL_DATA_VIEW_FULL if full else res.PERSONAL_DATA_VIEW_MASKED
        refusal = domain.full_view_refusal(p, (r.unit_code for r in persons)) if full else ""
        outcome = res.ACCESS_OUTCOME_DENIED if refusal else res.ACCESS_OUTCOME_GRANTED
        if ids:
            await self._log(p, method, "person", ids, view, outcome, refusal)
        if refusal:
            raise PermissionDenied(refusal, reason="PERSONAL_DATA_REFUSED")

    async def _out_of_scope(self, p: Principal, method: str, persons: list[Any]) -> None:
        """Log a read refused because the records lie outside the caller's jurisdiction
        (the caller is told NOT_FOUND)."""
        if persons:
            await self._log(
                p,
                method,
                "person",
                [r.id for r in persons],
                res.PERSONAL_DATA_VIEW_MASKED,
                res.ACCESS_OUTCOME_DENIED,
                f"outside the caller's jurisdiction {p.jurisdiction}",
            )

    async def _log(
        self,
        p: Principal,
        method: str,
        kind: str,
        ids: Iterable[str],
        view: int,
        outcome: int,
        reason: str = "",
    ) -> None:
        """Append to the access log; returns once it is committed."""
        now = utcnow()
        rid = request_id_var.get()
        rows = [
            {
                "time": now,
                "actor": p.actor[:128],
                "purpose": p.purpose,
                "method": method,
                "subject_kind": kind,
                "subject_id": sid,
                "view": view,
                "outcome": outcome,
                "reason": reason[:300],
                "request_id": rid[:64],
            }
            for sid in ids
        ]
        await self.db.write(lambda conn: records.log_access(conn, rows))
        outcome_word = "granted" if outcome == res.ACCESS_OUTCOME_GRANTED else "denied"
        metrics.PII_READS.labels(p.actor_kind, VIEW_NAMES.get(view, "masked"), outcome_word).inc(
            len(rows)
        )
