"""`lianxin migrate` and `lianxin serve`, as a container runs them: settings from env only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from services.cli.up import wait_serving
from services.common.natsserver import NatsServer, free_port


def lianxin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_brings_the_schema_to_head_once_and_then_has_nothing_to_do(
    tmp_path: Path,
) -> None:
    env = {"LIANXIN_ROUTING_DATA_DIR": str(tmp_path)}
    first = lianxin("migrate", "routing", env=env)
    second = lianxin("migrate", "routing", env=env)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "already at" in second.stdout
    assert (tmp_path / "routing.db").exists()


def test_migrate_names_the_env_var_of_a_bad_setting(tmp_path: Path) -> None:
    env = {"LIANXIN_NOTIFY_DATA_DIR": str(tmp_path), "LIANXIN_NOTIFY_NATS_URL": "http://x"}
    result = lianxin("migrate", "notify", env=env)
    assert result.returncode != 0
    assert "LIANXIN_NOTIFY_NATS_URL" in result.stderr


def test_serve_without_start_migration_refuses_a_database_not_migrated(
    tmp_path: Path, nats_url: str
) -> None:
    env = {
        "LIANXIN_INTAKE_DATA_DIR": str(tmp_path),
        "LIANXIN_INTAKE_NATS_URL": nats_url,
        "LIANXIN_INTAKE_GRPC_PORT": str(free_port()),
        "LIANXIN_INTAKE_METRICS_PORT": "off",
        "LIANXIN_INTAKE_MIGRATE_ON_START": "false",
    }
    result = lianxin("serve", "intake", env=env)
    assert result.returncode != 0
    assert "lianxin migrate" in result.stderr


def test_serve_runs_one_service_until_sigterm_after_migrate(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LIANXIN_REGISTRY_DATA_DIR": str(tmp_path),
        "LIANXIN_REGISTRY_NATS_URL": nats_server.url,
        "LIANXIN_REGISTRY_GRPC_PORT": str(port),
        "LIANXIN_REGISTRY_METRICS_PORT": "off",
        "LIANXIN_REGISTRY_MIGRATE_ON_START": "false",
        "LIANXIN_REGISTRY_ROUTING_TARGET": "",
    }
    assert lianxin("migrate", "registry", env=env).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve", "registry"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_serving(f"127.0.0.1:{port}", timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
