"""The personal-data access log as a hash chain: tamper-evident, checked by `lianxin audit
verify`.

Every row holds `prev_hash`, the `row_hash` of the row before it (GENESIS for the first),
and `row_hash` = SHA-256 of the canonical encoding of its own fields and `prev_hash` (sorted
keys, compact JSON, UTF-8; times as UTC with microseconds). Ids are consecutive from 1 and
one head row (`access_log_head`) names the last row and its hash. So:

- an edited row (any field) no longer matches its own hash;
- a deleted row leaves a gap in the ids, and its successor names a predecessor that is gone;
- re-ordered rows (ids swapped) follow a row other than their predecessor;
- a row inserted in the middle (later ids moved up) is not the predecessor its successor
  names; one appended at the end without the lock is not the row the head names.

Appends hold the head row's lock for their transaction (FOR UPDATE on PostgreSQL, where
replicas write at once; SQLite has one writer holding the database lock), so concurrent
writers still make one chain.

What it does not prove: someone who can write the database and rewrites the head and
every row after an edit (recomputing all hashes) leaves a valid chain. `verify` prints the
head hash; kept elsewhere (a ticket, a log shipped off the host), it anchors the chain up
to that point: pass it back as `--expect-head` to check the log still extends it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from services.registry.store.tables import access_log, access_log_head

GENESIS = "0" * 64
HEAD_ID = 1
# The fields a row's hash covers (id is not one: the order is held by prev_hash, and the
# ids are checked to be consecutive on their own).
FIELDS = (
    "time",
    "actor",
    "purpose",
    "method",
    "subject_kind",
    "subject_id",
    "view",
    "outcome",
    "reason",
    "request_id",
    "prev_hash",
)
VERIFY_BATCH = 5000


def _time(value: datetime) -> str:
    """UTC, microseconds, "Z": what SQLite (naive, UTC) and PostgreSQL both give back."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Any) -> bytes:
    """The bytes a row's hash is taken over (a mapping or a result row)."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    doc: dict[str, Any] = {}
    for name in FIELDS:
        value = get(name)
        if name == "time":
            value = _time(value)
        elif name in ("view", "outcome"):
            value = int(value)
        else:
            value = str(value)
        doc[name] = value
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def row_hash(row: Any) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def chain(rows: list[dict[str, Any]], *, last_id: int, last_hash: str) -> list[dict[str, Any]]:
    """`rows` given ids, `prev_hash` and `row_hash` after the row (`last_id`, `last_hash`)."""
    out = []
    for i, r in enumerate(rows, start=1):
        linked = {**r, "id": last_id + i, "prev_hash": last_hash}
        linked["row_hash"] = last_hash = row_hash(linked)
        out.append(linked)
    return out


def append(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append `rows` (fields without id and hashes) to the chain, in this transaction."""
    if not rows:
        return
    head = conn.execute(
        select(access_log_head).where(access_log_head.c.id == HEAD_ID).with_for_update()
    ).first()
    if head is None:
        raise RuntimeError("access_log_head has no row: run the registry migrations (0004)")
    linked = chain(rows, last_id=head.last_id, last_hash=head.last_hash)
    for i in range(0, len(linked), 2000):
        conn.execute(insert(access_log), linked[i : i + 2000])
    conn.execute(
        update(access_log_head)
        .where(access_log_head.c.id == HEAD_ID)
        .values(last_id=linked[-1]["id"], last_hash=linked[-1]["row_hash"])
    )


# --- verification ------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool
    rows: int  # rows checked (up to the first broken one)
    head_hash: str  # the last good row's hash (GENESIS for an empty log)
    broken_id: int | None = None
    problem: str = ""


def _rows(conn: Connection, batch: int) -> Iterator[Any]:
    after = 0
    while True:
        page = list(
            conn.execute(
                select(access_log)
                .where(access_log.c.id > after)
                .order_by(access_log.c.id)
                .limit(batch)
            )
        )
        yield from page
        if len(page) < batch:
            return
        after = page[-1].id


def _id_with_hash(conn: Connection, digest: str) -> int | None:
    return conn.execute(
        select(access_log.c.id).where(access_log.c.row_hash == digest).limit(1)
    ).scalar()


def _broken_link(conn: Connection, row: Any, prev_id: int) -> str:
    """Why `row` does not follow the row `prev_id` (its prev_hash names another row)."""
    named = None if row.prev_hash == GENESIS else _id_with_hash(conn, row.prev_hash)
    if row.prev_hash == GENESIS:
        return (
            f"row {row.id} claims to be the first row, but row {prev_id} comes before it "
            "(inserted or re-ordered rows)"
        )
    if named is None:
        if row.id > prev_id + 1:
            gap = (
                f"row {prev_id + 1}"
                if row.id == prev_id + 2
                else f"rows {prev_id + 1}..{row.id - 1}"
            )
            return f"{gap} deleted: row {row.id} follows a row that is no longer in the log"
        return (
            f"row {row.id} follows a row that is no longer in the log "
            f"(row {prev_id} was replaced, or rows before row {row.id} were deleted)"
        )
    if named < prev_id:
        return (
            f"row(s) {named + 1}..{prev_id} inserted: row {row.id} follows row {named} in the chain"
        )
    return f"rows re-ordered: row {row.id} follows row {named}, which comes after it"


def verify(conn: Connection, *, expect_head: str = "", batch: int = VERIFY_BATCH) -> Verdict:
    """Check the whole chain from row 1 to the head; stops at the first broken row."""
    prev_id, prev_hash, count = 0, GENESIS, 0
    seen_expected = not expect_head or expect_head == GENESIS
    for row in _rows(conn, batch):
        if row_hash(row) != row.row_hash:
            return Verdict(
                False,
                count,
                prev_hash,
                row.id,
                f"row {row.id} was edited or forged: its fields do not match its hash",
            )
        if row.prev_hash != prev_hash:
            return Verdict(False, count, prev_hash, row.id, _broken_link(conn, row, prev_id))
        if row.id != prev_id + 1:
            return Verdict(
                False,
                count,
                prev_hash,
                row.id,
                f"row {row.id} follows row {prev_id}: ids must be consecutive (renumbered)",
            )
        prev_id, prev_hash, count = row.id, row.row_hash, count + 1
        seen_expected = seen_expected or row.row_hash == expect_head
    head = conn.execute(select(access_log_head).where(access_log_head.c.id == HEAD_ID)).first()
    if head is None:
        return Verdict(False, count, prev_hash, None, "the chain head (access_log_head) is gone")
    if head.last_id > prev_id:
        gap = (
            f"row {head.last_id}"
            if head.last_id == prev_id + 1
            else f"rows {prev_id + 1}..{head.last_id}"
        )
        return Verdict(
            False,
            count,
            prev_hash,
            prev_id + 1,
            f"{gap} deleted: the head names row {head.last_id}",
        )
    if head.last_id < prev_id:
        return Verdict(
            False,
            count,
            prev_hash,
            head.last_id + 1,
            f"row {head.last_id + 1} was added outside the chain: the head names row "
            f"{head.last_id} (forged row)",
        )
    if head.last_hash != prev_hash:
        return Verdict(
            False,
            count,
            prev_hash,
            prev_id,
            f"row {prev_id} is not the row the head names (its hash differs: replaced)",
        )
    if not seen_expected:
        return Verdict(
            False,
            count,
            prev_hash,
            None,
            f"no row has the expected head hash {expect_head}: the log was rewritten",
        )
    return Verdict(True, count, prev_hash)
