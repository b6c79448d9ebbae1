"""Database helpers for the tests: a service's migrated database, and the statements run
while a block runs, counted by kind and table."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from services.common.db import Database, migrate

_SHAPE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT\s.*?\sFROM)\s+(\w+)", re.S | re.I)


@contextmanager
def migrated(url: str, migrations: Path) -> Iterator[Database]:
    """The service's database at `url`, migrated, closed afterwards."""
    migrate(url, migrations)
    database = Database(url)
    try:
        yield database
    finally:
        database.close()


@contextmanager
def statements() -> Iterator[Counter[str]]:
    """The statements any engine runs meanwhile, by kind and table: "INSERT history",
    "UPDATE deliveries", "SELECT cases" (the first table a SELECT names)."""
    seen: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if m := _SHAPE.match(sql):
            seen[f"{m.group(1).split()[0].upper()} {m.group(2)}"] += 1

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)
