"""The callers intake's tests speak as: the one place their metadata is built (the lead
swaps it for bearer tokens)."""

from __future__ import annotations

from services.common import auth


def caller(
    actor: str = "hotline:mayor_hotline", *, pii: bool = False, purpose: str = ""
) -> tuple[tuple[str, str], ...]:
    """`actor`'s metadata, holding `pii:read` when `pii`, stating `purpose` when given."""
    return auth.metadata_for(actor, permissions=[auth.PII_READ] if pii else [], purpose=purpose)
