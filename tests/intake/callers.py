"""The callers intake's tests speak as: the one place their metadata is built (the lead
swaps it for bearer tokens)."""

from __future__ import annotations

from services.common import auth
from tests import callers


def caller(
    actor: str = "hotline:mayor_hotline", *, pii: bool = False, purpose: str = ""
) -> tuple[tuple[str, str], ...]:
    """`actor`'s metadata (a district administrator's token, so that only the personal
    data rules differ), holding `pii:read` when `pii`, stating `purpose` when given."""
    token = callers.staff(
        "370402", role="admin", subject=actor, extra=(auth.PII_READ,) if pii else ()
    )
    return callers.md(token, purpose=purpose)
