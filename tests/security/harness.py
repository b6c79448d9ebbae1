"""The fuzz harness: the four services running on real NATS and SQLite, a generic caller
that sends any request (or raw bytes) to any method, and a snapshot of everything a
request could have written (row counts of every table of every service database, files
under the attachment and photo directories).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor

from tests.security.caller import fuzz_metadata

SERVICES = {
    "intake": "lianxin.intake.v1.IntakeService",
    "registry": "lianxin.registry.v1.RegistryService",
    "routing": "lianxin.routing.v1.RoutingService",
    "notify": "lianxin.notify.v1.NotifyService",
}
BLOB_DIRS = {"intake": "attachments", "routing": "photos"}
# Refusals: the request must have had no effect at all.
REFUSED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.UNAUTHENTICATED,
}
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
# Refusals that are themselves recorded, by design: a refused read of personal data
# writes its "denied" row in registry's access log.
AUDITED = {("registry", "access_log")}
UNARY_TIMEOUT = 20.0
STREAM_TIMEOUT = 0.3  # a valid WatchCases stays open: its deadline ends it


class Snapshot:
    """Row counts of every table of the services' SQLite files, and blob file counts."""

    def __init__(self, data_root: Path) -> None:
        self.root = data_root
        self._conns: dict[str, sqlite3.Connection] = {}
        self._tables: dict[str, list[str]] = {}

    def _conn(self, service: str) -> sqlite3.Connection:
        conn = self._conns.get(service)
        if conn is None:
            path = self.root / service / f"{service}.db"
            conn = self._conns[service] = sqlite3.connect(path, check_same_thread=False)
            self._tables[service] = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
        return conn

    def counts(self, service: str) -> dict[str, int]:
        conn = self._conn(service)
        out = {
            f"{service}.{t}": conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in self._tables[service]
        }
        for svc, sub in BLOB_DIRS.items():
            d = self.root / svc / sub
            out[f"{svc}/{sub} files"] = sum(1 for p in d.rglob("*") if p.is_file())
        return out

    def everything(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for service in SERVICES:
            out.update(self.counts(service))
        return out

    def quiet(self, *, settle: float = 0.3, timeout: float = 15.0) -> None:
        """Wait until nothing changes for `settle` seconds (events still travelling)."""
        end = time.monotonic() + timeout
        last = self.everything()
        while time.monotonic() < end:
            time.sleep(settle)
            now = self.everything()
            if now == last:
                return
            last = now

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()


@dataclass
class Findings:
    """What the fuzz saw: codes per method, and every answer that breaks the rules."""

    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    broken: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, code: grpc.StatusCode, detail: str, request: str) -> None:
        with self.lock:
            self.codes[method][code.name] += 1
            if code in NEVER:
                self.broken.append(f"{method} → {code.name}: {detail[:300]} | {request[:300]}")

    def wrote(self, method: str, code: grpc.StatusCode, diff: dict[str, Any], request: str) -> None:
        with self.lock:
            self.writes.append(f"{method} → {code.name} wrote {diff} | {request[:300]}")

    def summary(self) -> str:
        names = sorted({c for counts in self.codes.values() for c in counts})
        width = max((len(m) for m in self.codes), default=10)
        lines = [f"{'method':<{width}} {'requests':>8}  " + " ".join(f"{n:>8.8}" for n in names)]
        total: Counter[str] = Counter()
        for method in sorted(self.codes):
            counts = self.codes[method]
            total.update(counts)
            lines.append(
                f"{method:<{width}} {sum(counts.values()):>8}  "
                + " ".join(f"{counts.get(n, 0):>8}" for n in names)
            )
        lines.append(
            f"{'total':<{width}} {sum(total.values()):>8}  "
            + " ".join(f"{total.get(n, 0):>8}" for n in names)
        )
        return "\n".join(lines)


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def service_of(method: MethodDescriptor) -> str:
    return next(k for k, v in SERVICES.items() if v == method.containing_service.full_name)


def call_raw(
    channel: grpc.Channel, method: MethodDescriptor, payload: bytes
) -> tuple[grpc.StatusCode, str]:
    """Send `payload` as the request of `method`, as it is (no serializer); the code."""
    md = fuzz_metadata()
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path_of(method))(
                payload, timeout=STREAM_TIMEOUT, metadata=md
            )
            for _ in _bounded(stream):
                pass
        else:
            channel.unary_unary(path_of(method))(payload, timeout=UNARY_TIMEOUT, metadata=md)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _bounded(stream: Any, limit: int = 1000) -> Iterator[Any]:
    for i, item in enumerate(stream):
        if i >= limit:
            stream.cancel()
            return
        yield item


class Caller:
    """Calls methods and checks each refused call left everything as it was."""

    def __init__(self, channels: dict[str, grpc.Channel], snap: Snapshot, found: Findings):
        self.channels = channels
        self.snap = snap
        self.found = found

    def send(self, method: MethodDescriptor, payload: bytes, shown: str) -> grpc.StatusCode:
        service = service_of(method)
        before = self.snap.counts(service)
        code, detail = call_raw(self.channels[service], method, payload)
        self.found.record(method.full_name, code, detail, shown)
        after = self.snap.counts(service)
        if before != after:
            diff = {k: after[k] - before[k] for k in after if after[k] != before.get(k)}
            ignored = {f"{s}.{t}" for s, t in AUDITED}
            if code in REFUSED and not (
                code == grpc.StatusCode.PERMISSION_DENIED and set(diff) <= ignored
            ):
                self.found.wrote(method.full_name, code, diff, shown)
            self.snap.quiet()
        return code
