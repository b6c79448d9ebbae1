"""`lianxin up` owns what it starts: every port can be chosen and one in use is an error
that names it; when the launcher dies, even by SIGKILL, nothing it started survives."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nats
import nats.errors
import pytest

from services.cli.up import default_ports, parse_ports
from services.common import natsauth
from services.common.natsserver import free_port


def launch(data_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--ports",
            ",".join(f"{k}={v}" for k, v in ports.items()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def some_ports() -> dict[str, int]:
    return {name: free_port() for name in default_ports({})}


def log_tails(data: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
        for p in sorted((data / "logs").glob("*.log"))
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_ports_come_from_flags_over_the_environment_and_bad_ones_are_refused() -> None:
    ports = default_ports({"LIANXIN_INTAKE_GRPC_PORT": "6001", "LIANXIN_NATS_PORT": "6002"})
    assert ports["intake"] == 6001 and ports["nats"] == 6002 and ports["routing"] == 50053
    assert parse_ports("routing=7003, nats-monitor=7004", ports)["nats-monitor"] == 7004
    with pytest.raises(SystemExit, match="NAME one of"):
        parse_ports("smtp=25", ports)
    with pytest.raises(SystemExit, match="is not a port"):
        parse_ports("intake=99999", ports)


@pytest.mark.parametrize("name", ["routing-metrics", "nats-exporter"])
def test_a_port_in_use_stops_the_launcher_before_it_starts_anything(
    tmp_path: Path, name: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = some_ports()
        ports[name] = taken.getsockname()[1]
        proc = launch(tmp_path / "data", ports)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2, out
    assert f"{name}: 127.0.0.1:{ports[name]} is in use" in out
    assert f"--ports {name}=PORT" in out
    assert not (tmp_path / "data" / "nats" / "nats-server.pid").exists()


async def nats_asks_for_each_services_password(data: Path, port: int) -> None:
    """The launcher's nats-server refuses strangers; a service's own password works, for
    its own subjects only."""
    url = f"nats://127.0.0.1:{port}"
    with pytest.raises(nats.errors.Error):
        await nats.connect(servers=[url], allow_reconnect=False, connect_timeout=3)
    passwords = json.loads(natsauth.credentials_file(data).read_text())
    seen: list[str] = []

    async def on_error(exc: Exception) -> None:
        seen.append(str(exc))

    nc = await nats.connect(
        servers=[url],
        user="intake",
        password=passwords["intake"],
        inbox_prefix=natsauth.inbox_prefix("intake"),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        await nc.publish("lianxin.case.closed", b"forged")
        await nc.flush()
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == ['nats: permissions violation for publish to "lianxin.case.closed"']
    finally:
        await nc.close()


@pytest.mark.slow
def test_nothing_survives_a_sigkilled_launcher_and_the_next_run_starts_clean(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ports = some_ports()
    proc = launch(data, ports)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    out = "".join(lines)
    assert proc.poll() is None, out
    children = [int(p) for p in re.findall(r"\(pid (\d+)\)", out)]
    assert len(children) == 6, out  # four services, the Open311 gateway and nats-server
    asyncio.run(nats_asks_for_each_services_password(data, ports["nats"]))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if alive(p)], "orphans survived the launcher"
    # The same data dir and ports again: a clean start, no stale server in the way.
    again = launch(data, ports)
    assert again.stdout is not None
    said = []
    for line in again.stdout:
        said.append(line)
        if "Ctrl-C stops everything" in line or again.poll() is not None:
            break
    try:
        if again.poll() is not None:
            said.append(again.stdout.read())
        assert again.poll() is None, "".join(said) + "\n" + log_tails(data)
    finally:
        again.send_signal(signal.SIGINT)
        try:
            rest, _ = again.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            again.kill()
            raise AssertionError(f"lianxin up did not stop on SIGINT:\n{log_tails(data)}") from None
    assert again.returncode == 0, rest
    assert "stopped." in rest
