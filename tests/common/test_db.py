"""Durable by default: a commit that returned is on disk (SQLite fsyncs the WAL at every
commit; PostgreSQL commits synchronously whatever the server's default)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from services.common.db import Database, WriterLocked
from tests.postgres import PostgresServer

SQLITE_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_sqlite_commits_are_fsynced_by_default(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == SQLITE_FULL
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        db.close()


@pytest.mark.postgres
def test_postgresql_commits_are_synchronous_even_when_the_server_says_otherwise(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("durable")
    admin = Database(url)
    try:
        with admin.engine.begin() as conn:
            db_name = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(text(f'ALTER DATABASE "{db_name}" SET synchronous_commit = off'))
    finally:
        admin.close()
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    finally:
        db.close()


def test_a_second_service_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    first = Database(url, exclusive=True)
    try:
        with pytest.raises(WriterLocked, match="one writer process"):
            Database(url, exclusive=True)  # the same file again (another process would be)
        # A real second process: intake on the same data dir fails at start, saying why.
        env = {
            **os.environ,
            "LIANXIN_INTAKE_DATABASE_URL": url,
            "LIANXIN_INTAKE_GRPC_PORT": "0",
            "LIANXIN_INTAKE_METRICS_PORT": "off",
            "LIANXIN_INTAKE_NATS_URL": "nats://127.0.0.1:1",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "services.intake"],
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert proc.returncode != 0
        assert b"SQLite takes one writer process" in proc.stderr
    finally:
        first.close()
    Database(url, exclusive=True).close()  # free again once the first let go
