"""Debian's prometheus for the embedded system (`lianxin up --with-prometheus`) and the
tests: a config that scrapes the four services with the alert rules, and the binary run
by hand (no systemd), owned by the process that starts it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from services.common.natsserver import parent_death_signal

REPO = Path(__file__).resolve().parents[2]
RULES_FILE = REPO / "deploy" / "prometheus" / "lianxin-rules.yaml"
MISSING = (
    "prometheus is not installed: `make prometheus` installs Debian's package "
    "(apt-get install prometheus)"
)


def find_binary(name: str = "prometheus") -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)


def write_config(
    directory: Path,
    *,
    targets: dict[str, str],
    scrape_interval: str = "15s",
    rules_file: Path = RULES_FILE,
    nats_exporter: str | None = None,
) -> Path:
    """prometheus.yml scraping each service's /metrics (job `lianxin-<service>`, as a
    ServiceMonitor would name it), NATS's exporter at `nats_exporter` (job `nats`; in a
    cluster the official chart's PodMonitor scrapes its sidecar, with the same metric
    names) and loading `rules_file`."""
    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(rules_file.resolve())],
        "scrape_configs": [
            {
                "job_name": f"lianxin-{name}",
                "static_configs": [{"targets": [address]}],
            }
            for name, address in sorted(targets.items())
        ],
    }
    if nats_exporter:
        config["scrape_configs"].append(
            {"job_name": "nats", "static_configs": [{"targets": [nats_exporter]}]}
        )
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def start(
    binary: str, *, config: Path, data_dir: Path, listen: str, log_file: Path
) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_file, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={listen}",
            "--web.enable-lifecycle",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=parent_death_signal(),
    )


def wait_ready(url: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def api(url: str, path: str, **params: str) -> Any:
    """GET `path` of the HTTP API; the `data` of a success, else an error."""
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"prometheus {path}: {body}")
    return body["data"]
