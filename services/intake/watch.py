"""WatchCases: the stream hotline systems follow their cases by.

The read model's `timeline` is the durable log: every status change intake applies gets
the next `seq`. A stream reads the rows after its cursor page by page, oldest first, and
then waits until a change has been committed (`ChangeFeed`, set right after the commit; no
polling). Every message carries the cursor of its change, so a client that reconnects
with the last cursor it processed misses nothing and gets nothing twice. A stream
`from_now` starts after the newest change at the call (no replay of history).

Flow control: a stream holds at most one page (`page_size` rows) in memory; the next page
is read only after the client has taken the previous one (gRPC's write waits while the
HTTP/2 window is full), so a slow client slows only its own stream and costs one page.

**One total order, on any replica.** A cursor is a `seq`, and a stream that has sent
`seq` N never looks below N again, so `seq` order must be commit order: a change that
becomes visible after a higher `seq` would be skipped for good. On SQLite it is, because
one process writes (a second is refused) through one writer thread. On PostgreSQL, where
several intake replicas write one database, `seq` values are allocated at insert time but
become visible at commit, in any order; so every transaction that appends to the timeline
first takes one transaction-level advisory lock (`store.TIMELINE_LOCK`, taken by
`store.apply_transition` once per transaction) and holds it to its commit. Appends are
then serialised across replicas: each takes its `seq` values only after the previous
append's commit is visible (PostgreSQL releases a transaction's locks after its commit is
visible), so every position below a visible one is visible too or was rolled back (a gap
that never fills), and `load_page` never passes over a change that comes later. Chosen
over the alternative — keep each row's writing transaction id and read only below
`pg_snapshot_xmin` — because it needs no schema or cursor change and costs one statement
per writer group (the consumer applies up to 64 events per transaction); what it costs is
that the appends of all replicas commit one after the other, which the read model's
small transactions bear. Cursors are unchanged: a cursor taken on one replica resumes on
any other.

**Waking on any replica's change.** The feed is set by this process's consumer after its
commits and, on PostgreSQL, by `TimelineListener`: the appending transaction also queues
`NOTIFY lianxin_intake_timeline` (sent at commit), and each process keeps one connection
that LISTENs and sets the feed, reconnecting with back-off if the database drops it (and
waking every stream once it listens again, for what was committed meanwhile). A stream
also re-checks every `recheck_seconds`, as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.engine import make_url

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import resources_pb2 as res
from services.common import paging
from services.common.bus import wait_any
from services.common.db import Database
from services.common.errors import InvalidArgument, Violations
from services.common.supervise import Backoff
from services.common.timeutil import to_ts
from services.common.validate import LIKE_ESCAPE, like_prefix
from services.intake import domain, store

CURSOR_KEY = "x-lianxin-cursor"  # initial metadata of a stream from_now: where it starts
PAGE_SIZE = 100
RECHECK_SECONDS = 30.0
UNIT_CODE = re.compile(r"^[0-9A-Za-z-]{0,64}$")
LISTENER_NAME = "lianxin-intake-timeline-listener"  # its application_name in PostgreSQL

log = logging.getLogger(__name__)


class ChangeFeed:
    """Wakes every waiting stream once intake's consumer has committed new changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def changed(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def waiter(self) -> asyncio.Event:
        """Take this before reading, then wait on it: a change committed after the read
        began sets it, so no wake-up is lost."""
        return self._event


@dataclass(frozen=True)
class Filter:
    channel: int
    unit_code: str


def encode_cursor(seq: int) -> str:
    return paging.encode_token({"seq": seq})


def decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        value = paging.read_token(cursor, {"seq": int}, field="cursor")["seq"]
    except InvalidArgument:
        raise InvalidArgument([("cursor", "is not a cursor this service issued")]) from None
    return int(value)


def parse(request: svc.WatchCasesRequest) -> tuple[Filter, int]:
    """The filter and the position to start after; every bad field at once."""
    v = Violations()
    v.check(
        request.channel in res.Channel.values(),
        "channel",
        f"must be one of {', '.join(res.Channel.keys()[1:])}, or unset for all",
    )
    v.check(
        bool(UNIT_CODE.match(request.unit_code)),
        "unit_code",
        "must be a unit code: up to 64 letters, digits or '-'",
    )
    after = 0
    try:
        after = decode_cursor(request.cursor)
    except InvalidArgument as exc:
        v.items.extend(exc.violations)
    if request.from_now and request.cursor:
        v.add("from_now", "give a cursor or from_now, not both")
    v.raise_if_any()
    return Filter(request.channel, request.unit_code), after


def load_page(conn: Connection, *, after: int, f: Filter, limit: int) -> tuple[list[Any], int]:
    """Up to `limit` matching changes after `after`, oldest first, with their cases; and
    how far the log was looked at (past the last match when fewer were found, so a narrow
    filter does not scan the same rows again)."""
    t, c = store.timeline, store.cases
    head = conn.execute(select(func.coalesce(func.max(t.c.seq), 0))).scalar_one()
    q = (
        select(
            t.c.seq,
            t.c.status.label("t_status"),
            t.c.transition.label("t_transition"),
            t.c.unit_code.label("t_unit_code"),
            t.c.unit_name.label("t_unit_name"),
            t.c.note.label("t_note"),
            t.c.time.label("t_time"),
            c,
        )
        .join(c, c.c.id == t.c.case_id)
        .where(t.c.seq > after, t.c.seq <= head)
        .order_by(t.c.seq)
        .limit(limit)
    )
    if f.channel:
        # `channel + 0`: the page is read along the log (timeline's primary key, the case
        # by its id). A plain `channel = ?` lets SQLite start from the index on cases'
        # (channel, external_ref) instead: every case of the channel, then their changes
        # sorted — a cost that grows with the cases stored (bench/pipeline.py --stored).
        q = q.where(c.c.channel + 0 == f.channel)
    if f.unit_code:
        prefix = like_prefix(f.unit_code)
        q = q.where(
            or_(
                t.c.unit_code.like(prefix, escape=LIKE_ESCAPE),
                c.c.grid_code.like(prefix, escape=LIKE_ESCAPE),
            )
        )
    rows = list(conn.execute(q))
    atts = store.get_attachments(conn, case_ids=sorted({r.id for r in rows}))
    scanned = head if len(rows) < limit else rows[-1].seq
    return [(r, atts[r.id]) for r in rows], scanned


def head(conn: Connection) -> int:
    """The newest position in the log (0 when empty): where a stream "from now" starts."""
    t = store.timeline
    return int(conn.execute(select(func.coalesce(func.max(t.c.seq), 0))).scalar_one())


def to_message(
    row: Any, attachments: list[Any], *, unmasked: bool = False
) -> svc.WatchCasesResponse:
    change = res.StatusChange(
        status=row.t_status,
        transition=row.t_transition,
        unit_code=row.t_unit_code,
        unit_name=row.t_unit_name,
        note=row.t_note,
        case_id=row.id,
        sequence=row.seq,
    )
    to_ts(row.t_time, change.time)
    return svc.WatchCasesResponse(
        change=change,
        case=domain.case_to_proto(row, attachments, unmasked=unmasked),
        cursor=encode_cursor(row.seq),
    )


class CaseWatcher:
    """Serves WatchCases streams from the timeline."""

    def __init__(
        self,
        *,
        db: Database,
        feed: ChangeFeed | None = None,
        page_size: int = PAGE_SIZE,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.db = db
        self.feed = feed or ChangeFeed()
        self.page_size = page_size
        self.recheck_seconds = recheck_seconds

    def changed(self) -> None:
        """Called by intake's consumer after it committed new status changes."""
        self.feed.changed()

    def _loader(self, after: int, f: Filter) -> Any:
        return lambda conn: load_page(conn, after=after, f=f, limit=self.page_size)

    async def stream(
        self, request: svc.WatchCasesRequest, *, unmasked: bool = False
    ) -> AsyncIterator[svc.WatchCasesResponse]:
        """The stream; reporters masked unless `unmasked` (services/intake/privacy.py)."""
        f, after = parse(request)
        while True:
            wake = self.feed.waiter()
            page, scanned = await self.db.read(self._loader(after, f))
            for row, attachments in page:
                yield to_message(row, attachments, unmasked=unmasked)
            after = scanned
            if len(page) == self.page_size:
                continue  # more may be there already
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.recheck_seconds)


class TimelineListener:
    """On PostgreSQL: one connection that LISTENs on `store.TIMELINE_CHANNEL` and sets the
    feed for every notification (a commit of timeline rows by any replica, this one too).

    Run under the `Supervisor` (`host.background`). A dropped or refused connection is
    logged when it starts failing and when it listens again, and retried with back-off;
    meanwhile streams fall back on their re-check. Every `ping_seconds` without a
    notification it asks the database a trivial question (a dead link fails there) and
    reports a heartbeat."""

    def __init__(self, *, url: str, feed: ChangeFeed, ping_seconds: float = 10.0) -> None:
        pg_url = make_url(url).set(drivername="postgresql")
        self.conninfo = pg_url.render_as_string(hide_password=False)
        self.feed = feed
        self.ping_seconds = ping_seconds
        self.heartbeat: Callable[[], None] = _no_heartbeat
        self._failing = False

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(base=0.25, cap=10.0)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                session = asyncio.ensure_future(self._session(backoff))
                await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not session.done():
                    session.cancel()
                    with contextlib.suppress(BaseException):
                        await session
                    return
                # A session ends only by an error (it never returns while connected).
                exc = session.exception() or RuntimeError("the listening session ended")
                if not self._failing:
                    log.warning(
                        "intake: timeline listener lost (%s: %s); reconnecting with back-off "
                        "(streams fall back on their re-check until it listens again)",
                        type(exc).__name__,
                        exc,
                    )
                self._failing = True
                await wait_any(stop, timeout=backoff.next())
        finally:
            stopping.cancel()

    async def _session(self, backoff: Backoff) -> None:
        import psycopg  # the PostgreSQL driver; only PostgreSQL deployments run this

        async with await psycopg.AsyncConnection.connect(
            self.conninfo,
            autocommit=True,
            application_name=LISTENER_NAME,
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        ) as conn:
            await conn.execute(f"LISTEN {store.TIMELINE_CHANNEL}")
            if self._failing:
                log.info("intake: timeline listener listening again")
                self._failing = False
            backoff.reset()
            self.feed.changed()  # whatever was committed while nobody listened
            self.heartbeat()
            while True:
                async for _ in conn.notifies(timeout=self.ping_seconds):
                    self.feed.changed()
                await asyncio.wait_for(conn.execute("SELECT 1"), timeout=10.0)
                self.heartbeat()


def _no_heartbeat() -> None:
    """The default heartbeat: the `Supervisor` replaces it."""
