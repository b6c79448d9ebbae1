"""A file read and checked row by row (Batch, Rejection), the result of applying it
(Outcome), progress reporting, and the limits every kind shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lianxin.registry.v1 import resources_pb2 as res
from services.registry.gridmap import GridMap

Progress = Callable[[str, int, int], None]

MAX_REPORTED = 1000
SQLITE_CACHE_KIB = 256 * 1024
PROGRESS_EVERY = 5000
INSERT_CHUNK = 10_000  # rows per driver call (and per progress step) when writing
BULK_ROWS = 20_000  # a load this big into an empty table builds its indexes afterwards


@dataclass
class Rejection:
    row: int
    key: str
    problems: list[tuple[str, str]]


@dataclass
class Batch:
    """A file read and checked row by row, waiting for `apply()`."""

    kind: int
    file_name: str
    total: int
    rows: list[dict[str, Any]]  # valid so far; "_row" is the row number
    rejected: list[Rejection] = field(default_factory=list)
    label: dict[str, str] = field(default_factory=dict)  # field → header as in the file


@dataclass
class Outcome:
    report: res.ImportReport
    grid_map: GridMap | None = None  # the new map, when units changed
    staged: bool = False  # an event was written to the outbox


def _noop(stage: str, done: int, total: int) -> None:
    return None


class _Ticker:
    """Calls `progress` every PROGRESS_EVERY rows and at the end of a stage."""

    def __init__(self, progress: Progress, stage: str, total: int) -> None:
        self.progress, self.stage, self.total, self.done = progress, stage, total, 0
        progress(stage, 0, total)

    def step(self, n: int = 1) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += n
        if self.done // PROGRESS_EVERY != before or self.done >= self.total:
            self.progress(self.stage, min(self.done, self.total), self.total)


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass
class _Context:
    allow_partial: bool
    validate_only: bool
    progress: Progress
    now: datetime

    def stop_here(self, batch: Batch) -> bool:
        """After the checks: write nothing (a dry run, or rows rejected in strict mode)."""
        return self.validate_only or (bool(batch.rejected) and not self.allow_partial)
