"""A real helm (v4, `make helm` extracts it into .tools/) for the chart tests: lint, render
to objects, with its cache/config/data dirs in a temporary place (it reaches no network)."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "deploy" / "helm"
HELM = ROOT / ".tools" / "helm" / "helm"
SERVICES = ("intake", "registry", "routing", "notify")  # the gRPC services
GATEWAY = "open311"  # the Open311 gateway: HTTP, calls intake and routing
CHART_DIRS = ("common", *SERVICES, GATEWAY, "lianxin")
UMBRELLA = CHARTS / "lianxin"

# The value sets every test renders: name → files (relative to the umbrella chart).
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "kind": ("values-kind.yaml",),
    "production": ("values-production.yaml",),
    "external": ("values-external.yaml",),
}

_HOME = Path(tempfile.mkdtemp(prefix="lianxin-helm-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)


def helm(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `make helm` (make test does)")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(_HOME / "cache"),
        "HELM_CONFIG_HOME": str(_HOME / "config"),
        "HELM_DATA_HOME": str(_HOME / "data"),
    }
    result = subprocess.run(
        [str(HELM), *map(str, args)], env=env, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def render(
    chart: Path = UMBRELLA,
    *,
    values: Iterable[str | Path] = (),
    sets: Iterable[str] = (),
    release: str = "lianxin",
    namespace: str = "lianxin",
    kube_version: str = "1.30.0",
) -> list[dict[str, Any]]:
    """`helm template` → the rendered objects (hooks included)."""
    args: list[str | Path] = [
        "template",
        release,
        chart,
        "--namespace",
        namespace,
        "--kube-version",
        kube_version,
    ]
    for v in values:
        args += ["-f", chart / v if isinstance(v, str) else v]
    for s in sets:
        args += ["--set", s]
    out = helm(*args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def render_set(name: str, **kwargs: Any) -> list[dict[str, Any]]:
    return render(values=VALUE_SETS[name], **kwargs)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert found, f"no {kind} {name} in {[o['metadata']['name'] for o in of_kind(objects, kind)]}"
    return found[0]


def service_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/name"])
