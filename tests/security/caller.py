"""The caller the security tests speak as: ONE place that builds its metadata.

A privileged caller (the district's administrator with every permission, pii:read too,
and a stated purpose), so requests get past authorization to the validation code behind
it: a bearer token signed by the test run's key (tests/callers.py).
"""

from __future__ import annotations

from services.common import auth
from tests import callers

DISTRICT = "370402"


def fuzz_metadata(actor: str = "cli:fuzz") -> tuple[tuple[str, str], ...]:
    """The metadata of a privileged caller named `actor`."""
    token = callers.staff(DISTRICT, role="admin", subject=actor, extra=(auth.PII_READ,))
    return callers.md(token, purpose="data_check")
