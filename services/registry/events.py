"""What registry consumes: intake's `case.received`, to link a case to the persons who
reported it (by phone), so a person's view lists their cases.

A phone shared by several persons (a family landline) links only those whose name is the
reporter's; a phone of one person links that person whatever name the caller gave (hotline
operators write "张先生"). Cases reported before the person was imported stay unlinked.

The link is idempotent by itself ((person, case) is its key), so it is also written when
the inbox says the event was seen: a redelivery changes nothing, and the link does not
depend on the inbox claim's answer — which is wrong on PostgreSQL until
`services.common.bus.insert_ignore` asks SQLAlchemy to keep the INSERT's rowcount
(`execution_options={"preserve_rowcount": True}`); without it every claim there reads as
a duplicate.
"""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from services.common.consumer import Apply
from services.common.db import Database
from services.registry.store import records

CONSUMER = "registry-cases"
SUBJECTS = "lianxin.case.received"


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


class CaseLinker:
    """The handler of `case.received` events."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def handle(self, event: event_pb2.Event, apply: Apply) -> None:
        if event.WhichOneof("body") != "case_received":
            return
        case = event.case_received.case
        phone = normalise_phone(case.reporter.phone)
        if not phone:
            return
        name = case.reporter.name.strip()
        received = event.time.ToDatetime(tzinfo=UTC)

        def effect(conn: Connection) -> None:
            people = records.persons_with_phone(conn, phone=phone)
            if len(people) > 1:
                people = [p for p in people if p.name == name]
            records.link_case(
                conn,
                person_ids=[p.id for p in people],
                case_id=case.id or event.case_id,
                category=case.category,
                received_at=received,
            )

        if not await apply(effect):
            await self.db.write(effect)
