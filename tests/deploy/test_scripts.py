"""The parts of the delivery that cannot run here (no Docker engine, kind or API server):
the kind scripts pass shellcheck, the kind cluster and NATS values say what the design
needs, and the image build script refuses clearly when no builder works."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.cli.up import OTHER_PORTS
from services.ops.natsexporter import CHART_PREFIX
from tests.deploy.helm import CHARTS, ROOT

SCRIPTS = sorted((ROOT / "deploy").rglob("*.sh"))


def test_there_are_kind_and_image_scripts() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {"deploy/kind/up.sh", "deploy/kind/down.sh", "deploy/image/build.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_script_passes_shellcheck(script: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is missing: make shellcheck (make test does)")
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert os.access(script, os.X_OK), f"{script} is not executable"


def test_the_kind_cluster_pins_its_node_image_at_kubernetes_1_30() -> None:
    cluster = yaml.safe_load((ROOT / "deploy/kind/cluster.yaml").read_text())
    assert cluster["kind"] == "Cluster" and cluster["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    images = {n["image"] for n in cluster["nodes"]}
    assert len(images) == 1 and images.pop().startswith("kindest/node:v1.30.")
    assert sum(n["role"] == "worker" for n in cluster["nodes"]) >= 2


def test_nats_values_give_jetstream_on_file_storage_synced_and_three_servers() -> None:
    prod = yaml.safe_load((CHARTS / "nats/values.yaml").read_text())
    kind = yaml.safe_load((CHARTS / "nats/values-kind.yaml").read_text())
    assert prod["config"]["cluster"] == {"enabled": True, "replicas": 3}
    for values in (prod, kind):
        js = values["config"]["jetstream"]
        assert js["enabled"] and js["fileStore"]["enabled"] and js["fileStore"]["pvc"]["enabled"]
        assert js["merge"]["sync_interval"] == "always"
    umbrella = yaml.safe_load((CHARTS / "lianxin/values-production.yaml").read_text())
    assert umbrella["global"]["stream"]["replicas"] == prod["config"]["cluster"]["replicas"]


def test_nats_values_run_the_official_exporter_with_a_podmonitor_our_prometheus_selects() -> None:
    prod = yaml.safe_load((CHARTS / "nats/values.yaml").read_text())
    assert prod["config"]["monitor"]["enabled"] is True  # the exporter reads it
    exporter = prod["promExporter"]
    assert exporter["enabled"] is True and exporter["podMonitor"]["enabled"] is True
    assert exporter["port"] == OTHER_PORTS["nats-exporter"] == 7777  # the embedded one's too
    # The chart's sidecar names its series with -prefix=nats (its args are not overridden
    # here): the embedded exporter uses the same prefix, so one dashboard serves both.
    assert not {"args", "patch"} & set(exporter) and CHART_PREFIX == "nats"
    umbrella = yaml.safe_load((CHARTS / "lianxin/values-production.yaml").read_text())
    selected = umbrella["global"]["serviceMonitor"]["labels"]
    assert exporter["podMonitor"]["merge"]["metadata"]["labels"] == selected


def test_the_image_script_says_so_when_no_builder_works(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ROOT / "deploy/image/build.sh")],
        env={**os.environ, "BUILDER": "no-such-builder"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "no working image builder" in result.stderr
