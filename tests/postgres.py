"""A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `postgres`
on a free port, one database per test module (or per test that asks for a fresh one).

The binaries come from the Debian `postgresql` package (`make postgres` installs it; CI
runs as root). PostgreSQL refuses to run as root, so when the tests do, the server runs
as the `postgres` user through `runuser`. Without the binaries the PostgreSQL variants of
the tests fail with a note saying how to get them (`make test` installs them).

    pytest_plugins / import: `from tests.postgres import postgres_server  # noqa: F401`
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.common.natsserver import free_port

SUPERUSER = "postgres"
START_TIMEOUT = 30.0


def bin_dir() -> Path | None:
    """Where initdb and postgres live: $LIANXIN_PG_BIN, Debian's newest, or PATH."""
    if env := os.environ.get("LIANXIN_PG_BIN"):
        return Path(env)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if debian:
        return Path(debian[-1])
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PostgresServer:
    """One running server; `create_database()` hands out fresh, empty databases."""

    bindir: Path
    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _databases: int = field(default=0)

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", SUPERUSER, "--", *argv] if self._as_root else list(argv)

    def start(self) -> None:
        data = self.root / "data"
        if self._as_root:
            shutil.chown(self.root, SUPERUSER)
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                # A UTF-8 ctype lets pg_trgm see Chinese characters as word characters.
                "--locale=C.UTF-8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        log = open(self.root / "postgres.log", "wb")  # noqa: SIM115 - lives with the server
        self.proc = subprocess.Popen(
            self._cmd(
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.root),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"postgres did not start: {(self.root / 'postgres.log').read_text(errors='replace')}"
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, hint: str = "test") -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        safe = "".join(c if c.isalnum() else "_" for c in hint.lower())[:40]
        name = f"{safe}_{self._databases}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # "smart" shutdown would wait for clients; SIGTERM is fine
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = bin_dir()
    if bindir is None or not (bindir / "postgres").exists():
        # `make test` installs it (`make postgres`); without it half the promise — the same
        # tests on both databases — would go unchecked, so that is a failure, not a skip.
        pytest.fail("PostgreSQL is not installed: run `make postgres` (apt-get, as root)")
    root = Path(tempfile.mkdtemp(prefix="lianxin-pg-"))
    server = PostgresServer(bindir=bindir, root=root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
