"""Content-addressed file storage for attachments and photos (embedded default: disk).

Files are written only after the request is validated and its state check passed, and
before the database row that names them, so a crash (or a request that loses a race with
another) leaves at worst an unreferenced file, never a row without its file. Same bytes →
same file. `BlobSweeper` finds the unreferenced ones and removes them once they are older
than a grace period (longer than any request takes).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter
from sqlalchemy import Connection

from services.common.bus import wait_any
from services.common.db import Database
from services.common.errors import Violations

log = logging.getLogger(__name__)

SWEPT = Counter(
    "lianxin_blob_sweep_removed_total",
    "Unreferenced attachment and photo files removed by the sweep.",
)

ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path


def check_upload(
    v: Violations, field: str, *, filename: str, content_type: str, content: bytes, limit: int
) -> None:
    """Field violations for one uploaded file."""
    v.check(bool(filename.strip()), f"{field}.filename", "is required")
    v.check(len(filename) <= 255, f"{field}.filename", "must be at most 255 characters")
    if content_type not in ALLOWED_TYPES:
        v.add(f"{field}.content_type", f"must be one of {', '.join(sorted(ALLOWED_TYPES))}")
    elif content and not content.startswith(_MAGIC[content_type]):
        v.add(f"{field}.content", f"is not a {content_type} file")
    v.check(len(content) > 0, f"{field}.content", "is empty")
    v.check(
        len(content) <= limit, f"{field}.content", f"is {len(content)} bytes; the limit is {limit}"
    )


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes) -> StoredBlob:
        """Write `content` durably (fsync, then an atomic rename); blocking: call it from
        a thread (`put_all`)."""
        sha = digest(content)
        path = self.root / sha[:2] / sha
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        return StoredBlob(sha, len(content), path)

    async def put_all(self, contents: list[bytes]) -> list[StoredBlob]:
        """`put` each, off the event loop."""
        if not contents:
            return []
        return await asyncio.to_thread(lambda: [self.put(c) for c in contents])

    def get(self, sha256: str) -> bytes:
        return (self.root / sha256[:2] / sha256).read_bytes()

    def files(self, *, older_than: float) -> Iterator[tuple[str, Path]]:
        """(name, path) of every file last changed before `older_than` (a Unix time):
        stored blobs under their digest, and temporary files a crash left behind."""
        if not self.root.exists():
            return
        for sub in self.root.iterdir():
            if not sub.is_dir():
                continue
            for path in sub.iterdir():
                try:
                    if path.stat().st_mtime < older_than:
                        yield path.name, path
                except FileNotFoundError:
                    continue


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


Referenced = Callable[[Connection, list[str]], set[str]]


class BlobSweeper:
    """Removes the files no row names (a crash between the file and its row, a request
    that lost a race): every `interval` seconds, files older than `grace` seconds whose
    digest `referenced(conn, digests)` does not return. Counted and logged."""

    def __init__(
        self,
        *,
        blobs: BlobStore,
        db: Database,
        referenced: Referenced,
        interval: float = 3600.0,
        grace: float = 3600.0,
        batch: int = 500,
    ) -> None:
        self.blobs = blobs
        self.db = db
        self.referenced = referenced
        self.interval = interval
        self.grace = grace
        self.batch = batch
        self.removed = 0
        self.heartbeat: Callable[[], None] = lambda: None  # set by the Supervisor

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("blob sweep failed (%s: %s); next round", type(exc).__name__, exc)
            else:
                self.heartbeat()
            await wait_any(stop, timeout=self.interval)

    async def sweep(self) -> int:
        """One round; returns how many files were removed."""
        files = await asyncio.to_thread(
            lambda: list(self.blobs.files(older_than=time.time() - self.grace))
        )
        removed = 0
        for i in range(0, len(files), self.batch):
            chunk = files[i : i + self.batch]
            names = [n for n, _ in chunk if len(n) == 64]
            keep = await self.db.read(lambda c, names=names: self.referenced(c, names))
            for name, path in chunk:
                if name in keep:
                    continue
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed += 1
        if removed:
            SWEPT.inc(removed)
            log.info(
                "blob sweep: removed %d unreferenced file(s) under %s", removed, self.blobs.root
            )
        self.removed += removed
        return removed
