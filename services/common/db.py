"""Database access: synchronous SQLAlchemy Core behind an asyncio-friendly facade.

Writes go to one writer thread that commits in groups: every job waiting when a
transaction starts runs inside it, so 64 concurrent SubmitCase calls cost one commit, not
64. On SQLite this is ~4x faster than aiosqlite (see bench/submit.py). Hot paths go one
step further with `write_batched()`: items of the same kind waiting in one group are handed
to one function as a list, so it can use one executemany per table instead of a statement
per item. A job that raises makes the group roll back; the writer then runs each job (and
each batched item) of that group alone, so one bad job fails only its own caller. Reads
run on a small thread pool; SQLite is in WAL mode so readers never wait for the writer.

Schema changes are Alembic migrations per service (`migrate()`), never `create_all`.

Observability: the writer's queue length and each group's transaction time are metrics
(`lianxin_db_writer_queue_jobs`, `lianxin_db_commit_seconds`); when spans are exported,
every statement is a span (`opentelemetry-instrumentation-sqlalchemy`) under the trace of
the caller that handed the job in (the first job's, for a group).
"""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from alembic import command
from alembic.config import Config
from opentelemetry import context as otel_context
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from services.common import telemetry

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], T]
BatchFn = Callable[[Connection, list[Any]], list[Any]]

MAX_GROUP = 256


def _ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


SqliteSync = Literal["FULL", "NORMAL"]


def make_engine(url: str, *, sqlite_synchronous: SqliteSync = "FULL") -> Engine:
    """An engine for `url`. Commits are durable once they return: SQLite runs WAL with
    `synchronous=FULL` (the WAL is fsynced at every commit; the writer's group commit
    shares one fsync among everything waiting), PostgreSQL with `synchronous_commit=on`
    (whatever the server's default is). `sqlite_synchronous="NORMAL"` gives that up (a
    power loss may roll back acknowledged commits): for benchmarks and throwaway data."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=8,
            max_overflow=8,
            connect_args={"options": "-c synchronous_commit=on"},
        )
    _ensure_sqlite_dir(url)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (SQLAlchemy's
        # documented recipe for pysqlite), and make commits durable across a power loss
        # (in WAL mode NORMAL syncs only at checkpoints: a commit could roll back).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # The writer takes the write lock up front (BEGIN IMMEDIATE waits for it, where a
        # deferred BEGIN that reads and then writes fails at once with "database is
        # locked" when another process writes); readers begin deferred.
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def migrate(url: str, migrations_dir: Path) -> None:
    """Bring the schema at `url` to the newest Alembic revision in `migrations_dir`."""
    _ensure_sqlite_dir(url)
    command.upgrade(_alembic_config(url, migrations_dir), "head")


def _alembic_config(url: str, migrations_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def schema_revisions(url: str, migrations_dir: Path) -> tuple[tuple[str, ...], str | None]:
    """(the revisions the database at `url` is at, the newest revision we know)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(url, migrations_dir)).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    return tuple(current), head


def check_schema(url: str, migrations_dir: Path) -> None:
    """For a service that does not migrate at start: fail clearly when the schema is behind
    (never migrated, or an older revision we know), so a pod does not serve on it. A newer
    revision than ours (a migration Job of the next version ran first) is fine: migrations
    are written to be compatible with the version before them."""
    current, head = schema_revisions(url, migrations_dir)
    if head in current:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(url, migrations_dir))
    known = {rev.revision for rev in script.walk_revisions()}
    behind = [rev for rev in current if rev in known]
    if not current or behind:
        raise RuntimeError(
            f"database schema is at {list(current) or 'nothing'}, not at {head}: run "
            f"`lianxin migrate <service>` first (migrate_on_start is off)"
        )
    log.warning("database schema %s is newer than this version's head %s", current, head)


@dataclass
class _Pending:
    job: Job[Any] | None
    future: Future[Any] = field(default_factory=Future)
    batch_fn: BatchFn | None = None
    item: Any = None
    trace: otel_context.Context | None = None


class WriterLocked(RuntimeError):
    """Another process already writes this SQLite file."""


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database)
    return None


def _lock_writer(path: Path) -> int:
    """Hold an exclusive lock on `<path>.lock` for this process's life (released by the
    kernel when it dies, however it dies)."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise WriterLocked(
            f"{path} is already written by another process (pid {holder}): SQLite takes "
            "one writer process; run replicas on PostgreSQL (DATABASE_URL)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


class Database:
    """One service's database: a group-committing writer thread plus pooled readers.

    `exclusive=True` (what services use) makes this process the only writer of a SQLite
    file: a second service process on the same file fails at start with `WriterLocked`
    instead of fighting over the write lock and the outbox."""

    def __init__(
        self,
        url: str,
        *,
        readers: int = 4,
        name: str = "",
        sqlite_synchronous: SqliteSync = "FULL",
        exclusive: bool = False,
    ) -> None:
        self.url = url
        self.name = name
        sqlite_path = _sqlite_file(url)
        self._lock_fd = _lock_writer(sqlite_path) if exclusive and sqlite_path else None
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        self._traced = telemetry.tracing_on()
        if self._traced:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

            # SQLAlchemy 2.1 is newer than the instrumentation declares; it works.
            SQLAlchemyInstrumentor().instrument(engine=self.engine, skip_dep_check=True)
        self._writer_engine = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._commit_seconds = telemetry.DB_COMMIT_SECONDS.labels(name)
        self._group_jobs = telemetry.DB_GROUP_JOBS.labels(name)
        telemetry.DB_QUEUE.labels(name).set_function(self._queue.qsize)
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="db-read")
        self._writer = threading.Thread(target=self._write_loop, name="db-write", daemon=True)
        self._writer.start()
        self._closed = False

    @property
    def writer_alive(self) -> bool:
        return self._writer.is_alive() or self._closed

    async def write(self, job: Job[T]) -> T:
        """Run `job(conn)` inside a transaction on the writer thread; returns its result
        after the commit."""
        if self._closed:
            raise RuntimeError("database is closed")
        pending = _Pending(job, trace=otel_context.get_current() if self._traced else None)
        self._queue.put(pending)
        return await asyncio.wrap_future(pending.future)

    async def write_batched(self, batch_fn: BatchFn, item: Any) -> Any:
        """Hand `item` to `batch_fn(conn, items) -> results` together with the other items
        for the same `batch_fn` waiting in this group (one transaction); returns this
        item's result after the commit. `batch_fn` must return one result per item, in
        order, and must give the same results for a list as for each item alone."""
        if self._closed:
            raise RuntimeError("database is closed")
        pending = _Pending(
            None,
            batch_fn=batch_fn,
            item=item,
            trace=otel_context.get_current() if self._traced else None,
        )
        self._queue.put(pending)
        return await asyncio.wrap_future(pending.future)

    async def read(self, job: Job[T]) -> T:
        """Run `job(conn)` on a reader thread, in a transaction of its own."""
        loop = asyncio.get_running_loop()
        if self._traced:  # the reader thread runs under the caller's trace
            ctx = contextvars.copy_context()
            return await loop.run_in_executor(self._readers, ctx.run, self._run_read, job)
        return await loop.run_in_executor(self._readers, self._run_read, job)

    @property
    def closed(self) -> bool:
        return self._closed

    def run_read_sync(self, job: Job[T]) -> T:
        """A read on the calling thread (a metrics scrape, which has no event loop)."""
        return self._run_read(job)

    def _run_read(self, job: Job[T]) -> T:
        with self.engine.connect() as conn:
            result = job(conn)
            conn.rollback()
            return result

    def write_sync(self, job: Job[T]) -> T:
        """Like `write`, for code that has no event loop (CLI, migrations, loaders)."""
        pending = _Pending(job)
        self._queue.put(pending)
        return pending.future.result()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                group.append(nxt)
            self._run_group(group)

    def _begin(self) -> Any:
        return self._writer_engine.begin()

    def _run_group(self, group: list[_Pending]) -> None:
        token = otel_context.attach(group[0].trace) if group[0].trace is not None else None
        start = time.perf_counter()
        try:
            self._run_group_inner(group)
        finally:
            self._commit_seconds.observe(time.perf_counter() - start)
            self._group_jobs.observe(len(group))
            if token is not None:
                otel_context.detach(token)

    def _run_group_inner(self, group: list[_Pending]) -> None:
        if len(group) > 1:
            try:
                with self._begin() as conn:
                    results = self._run_in(conn, group)
            except Exception:
                log.debug("group of %d rolled back; running its jobs one by one", len(group))
            else:
                for p, r in zip(group, results, strict=True):
                    p.future.set_result(r)
                return
        for p in group:
            try:
                with self._begin() as conn:
                    (r,) = self._run_in(conn, [p])
            except BaseException as exc:  # handed to the caller, who decides
                p.future.set_exception(exc)
            else:
                p.future.set_result(r)

    @staticmethod
    def _run_in(conn: Connection, group: list[_Pending]) -> list[Any]:
        """Run a group's jobs in order; batched items of one kind run together, at the
        place of the first of them."""
        results: dict[int, Any] = {}
        batches: dict[BatchFn, list[int]] = {}
        for i, p in enumerate(group):
            if p.batch_fn is not None:
                batches.setdefault(p.batch_fn, []).append(i)
        done: set[BatchFn] = set()
        for i, p in enumerate(group):
            if p.batch_fn is None:
                assert p.job is not None
                results[i] = p.job(conn)
            elif p.batch_fn not in done:
                done.add(p.batch_fn)
                idx = batches[p.batch_fn]
                out = p.batch_fn(conn, [group[j].item for j in idx])
                if len(out) != len(idx):
                    raise RuntimeError(
                        f"{p.batch_fn!r} returned {len(out)} results for {len(idx)} items"
                    )
                results.update(zip(idx, out, strict=True))
        return [results[i] for i in range(len(group))]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout=10)
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
