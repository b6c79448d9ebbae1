"""Who sees a reporter's name and phone, and the record of who did.

Every answer that carries a case (SubmitCase, GetCase, ListCases, WatchCases) shows the
reporter masked (张**, 138****5566) unless the caller holds `pii:read` and states a
purpose. Such a full read is recorded as one JSON log line (logger
`services.intake.privacy`, message "reporter data read in full") with the caller's subject,
purpose, the method and the case ids: intake has no access-log table of its own; the log
line is its access log (ship it with the other logs). The events intake publishes keep
the full reporter (routing and notify need the phone), and are not affected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.common.auth import PII_READ, Principal

log = logging.getLogger(__name__)

FULL_READ = "reporter data read in full"
MAX_IDS = 200  # per line; longer lists are split


def may_read_reporters(p: Principal) -> bool:
    return p.has(PII_READ) and bool(p.purpose)


def log_full_read(p: Principal, method: str, case_ids: Sequence[str]) -> None:
    """One line per (up to MAX_IDS) cases shown in full to `p`."""
    for i in range(0, len(case_ids), MAX_IDS):
        log.info(
            FULL_READ,
            extra={
                "pii_subject": p.actor,
                "purpose": p.purpose,
                "grpc_method": method,
                "case_ids": list(case_ids[i : i + MAX_IDS]),
            },
        )
