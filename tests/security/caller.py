"""The caller the security tests speak as: ONE place that builds its metadata.

A privileged caller (every permission, the demo district as jurisdiction, a stated
purpose), so requests get past authorization to the validation code behind it. When
bearer tokens replace the identity headers, only this function changes.
"""

from __future__ import annotations

from services.common import auth

ALL_PERMISSIONS = (auth.PII_READ, auth.AUDIT_READ, auth.REGISTRY_IMPORT)
DISTRICT = "370402"


def fuzz_metadata(actor: str = "cli:fuzz") -> tuple[tuple[str, str], ...]:
    """The metadata of a privileged caller named `actor`."""
    return auth.metadata_for(
        actor, permissions=ALL_PERMISSIONS, jurisdiction=DISTRICT, purpose="安全测试"
    )
