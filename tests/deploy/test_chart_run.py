"""The chart, run: render the umbrella, then do what the rendered objects say on this
machine — the migration Jobs' commands first, then every Deployment's container exactly
as written (command, args, env from its ConfigMap and Secret references, ports, mounts),
with each Service's DNS name mapped to the local port of the pod it selects — and play
`lianxin demo` against it. A wrong env name, target, port or mount fails here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from services.cli.up import wait_serving
from services.common import tokens
from services.common.natsserver import NatsServer, free_port
from tests import callers
from tests.deploy.helm import GATEWAY, SERVICES, render
from tests.deploy.kubelet import Cluster
from tests.postgres import PostgresServer

NAMESPACE = "lianxin"
SECRET = "lianxin-run-db"
TOKENS = "lianxin-run-tokens"


@pytest.mark.slow
def test_the_rendered_umbrella_runs_the_story_end_to_end(
    postgres_server: PostgresServer,
) -> None:
    root = Path(tempfile.mkdtemp(prefix="lianxin-chart-run-"))
    nats = NatsServer(root / "nats", port=free_port())
    nats.start()
    cluster: Cluster | None = None
    try:
        values = root / "values-run.yaml"
        values.write_text(
            yaml.safe_dump(
                {
                    "global": {
                        "database": {"existingSecret": SECRET},
                        # The identity provider's keys (the test run's), and each service's
                        # own token in a Secret, as a platform would hand them over.
                        "auth": {
                            "issuer": tokens.DEV_ISSUER,
                            "jwks": callers.KEYS.jwks.read_text(encoding="utf-8"),
                            "serviceTokenSecret": TOKENS,
                        },
                    },
                    "registry": {"settings": {"LOAD_DEMO": "true"}},
                }
            )
        )
        objects = render(values=[values], namespace=NAMESPACE)
        # What the operator does before `helm install`: one database per service, their
        # URLs in the Secret the values name (deploy/README.md).
        secrets = {
            SECRET: {f"{s}-url": postgres_server.create_database(s) for s in (*SERVICES, GATEWAY)},
            TOKENS: {f"{s}-token": callers.service(s) for s in (*SERVICES, GATEWAY)},
        }
        cluster = Cluster(
            objects,
            root=root,
            namespace=NAMESPACE,
            secrets=secrets,
            # The NATS release installed beside the chart (its Service is named "nats").
            external={"nats:4222": f"127.0.0.1:{nats.port}"},
        )
        play(cluster)
    finally:
        codes = cluster.stop() if cluster is not None else {}
        nats.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert codes == {p.name: 0 for p in cluster.pods}, "a pod did not stop cleanly on SIGTERM"


def play(cluster: Cluster) -> None:
    """The hooks, then the pods, then the demo against the pods' gRPC ports, then the
    Open311 gateway's HTTP port (which reaches intake and routing by the chart's targets)."""
    assert sorted(j.name for j in cluster.jobs) == sorted(f"lianxin-{s}-migrate" for s in SERVICES)
    for job in cluster.jobs:  # pre-install hooks, before any pod
        done = cluster.run_job(job)
        assert done.returncode == 0, f"{job.name}: {done.stdout}{done.stderr}"
        assert "migrated from empty to" in done.stdout, done.stdout
    for pod in cluster.pods:
        cluster.start(pod)
    assert sorted(p.name for p in cluster.pods) == sorted(
        f"lianxin-{s}" for s in (*SERVICES, GATEWAY)
    )
    for pod in cluster.pods:
        if "grpc" not in pod.ports:
            continue  # the gateway: HTTP probes, below
        # The startup probe: gRPC health on the port named grpc.
        if not wait_serving(cluster.local(pod, "grpc"), timeout=90):
            log = pod.log.read_text(errors="replace") if pod.log else ""
            pytest.fail(f"{pod.name} did not become SERVING:\n{log[-3000:]}")
    targets = []
    for svc in SERVICES:
        (pod,) = [p for p in cluster.pods if p.name == f"lianxin-{svc}"]
        targets += [f"--{svc}", cluster.local(pod, "grpc")]
    demo = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *targets, "demo"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "all four services are SERVING" in demo.stdout
    assert "FAILED" not in demo.stdout
    (gateway,) = [p for p in cluster.pods if p.name == f"lianxin-{GATEWAY}"]
    http = f"http://{cluster.local(gateway, 'http')}"
    for probe in ("/livez", "/readyz"):  # its probes' paths, on the port named http
        status, body = wait_http(http + probe, timeout=60)
        if status != 200:
            log = gateway.log.read_text(errors="replace") if gateway.log else ""
            pytest.fail(f"{gateway.name} {probe}: {status} {body}\n{log[-3000:]}")
    status, body = get(http + "/services.json")  # routing's categories
    assert status == 200 and json.loads(body), body
    status, body = get(http + "/requests.json")  # the demo's cases, from intake
    assert status == 200 and json.loads(body), body


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:
        return 0, str(err)


def wait_http(url: str, *, timeout: float) -> tuple[int, str]:
    """GET until 200 or `timeout` seconds (as a probe retries); the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = get(url)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.5)
