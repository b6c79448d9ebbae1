"""The Helm charts, checked with a real helm: lint --strict, render under the four value
sets, every object valid for Kubernetes 1.30 and the newest version kubernetes-validate
knows, and the properties that matter asserted on what is rendered."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.helm import (
    CHART_DIRS,
    CHARTS,
    GATEWAY,
    ROOT,
    SERVICES,
    UMBRELLA,
    VALUE_SETS,
    helm,
    named,
    of_kind,
    render,
    render_set,
    service_of,
)

NEWEST = kubernetes_validate.utils.latest_version()
APP_VERSION = yaml.safe_load((UMBRELLA / "Chart.yaml").read_text())["appVersion"]
GRPC_PORTS = {"intake": 50051, "registry": 50052, "routing": 50053, "notify": 50054}
# DESIGN.md's calls between services (caller, callee): routing locates cases and finds
# staff in registry, notify finds recipients in registry, registry asks routing for case
# counts; the Open311 gateway files and reads cases through intake and reads the
# categories and workflow from routing. Everything else goes over NATS.
FLOWS = {
    ("routing", "registry"),
    ("notify", "registry"),
    ("registry", "routing"),
    ("open311", "intake"),
    ("open311", "routing"),
}
ALL = (*SERVICES, GATEWAY)
GATEWAY_PORT = 8311
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
# Several pods may share one PostgreSQL database (issue 14); intake not yet (WatchCases).
REPLICA_SAFE = ("registry", "routing", "notify")


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render_set(request.param)


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"]["template"]["spec"]["containers"])


# --- lint and schemas -------------------------------------------------------------------


@pytest.mark.parametrize("chart", CHART_DIRS)
def test_every_chart_passes_helm_lint_strict(chart: str) -> None:
    result = helm("lint", "--strict", CHARTS / chart)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_umbrella_passes_lint_strict_with_each_value_set(value_set: str) -> None:
    args: list[str | Path] = ["lint", "--strict", UMBRELLA]
    for f in VALUE_SETS[value_set]:
        args += ["-f", UMBRELLA / f]
    assert "0 chart(s) failed" in helm(*args).stdout


@pytest.mark.parametrize("chart", CHART_DIRS)
def test_every_chart_has_a_values_schema(chart: str) -> None:
    schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
    assert schema["type"] == "object"


@pytest.mark.parametrize(
    "bad",
    [
        "global.image.tag=latest",
        "global.stream.discard=sometimes",
        "global.nats.url=http://nats:4222",
        "routing.ports.grpc=70000",
        "notify.logLevel=LOUD",
        "intake.unknownValue=1",
        "open311.ports.http=70000",
        "open311.nats.url=nats://nats:4222",  # the gateway uses no NATS
    ],
)
def test_the_schema_refuses_bad_values(bad: str) -> None:
    result = helm("template", "lianxin", UMBRELLA, "--set", bad, check=False)
    assert result.returncode != 0
    assert "schema" in result.stderr


def leaf_keys_without_a_comment(text: str) -> list[str]:
    """Keys of values.yaml that hold a value and have no comment line right above them or
    above a key that encloses them (a documented block, e.g. resources, covers its
    children). Entries of lists are the list's business."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    missing: list[str] = []
    stack: list[tuple[int, bool]] = []  # enclosing keys: (indent, documented)
    in_list: int | None = None  # indent of the "-" of the list entry we are in
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if line.strip().startswith("-"):
            in_list = indent if in_list is None else min(in_list, indent)
            continue
        if in_list is not None and indent > in_list:
            continue
        in_list = None
        m = re.match(r"^\s*([A-Za-z_][\w.-]*):(.*)$", line)
        if line.strip().startswith(("#", "-")) or not m:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = lines[i - 1].strip().startswith("#") if i else False
        following = next((ln for ln in lines[i + 1 :] if not ln.strip().startswith("#")), "")
        is_block = not m.group(2).strip() and len(following) - len(following.lstrip()) > indent
        if is_block and not following.strip().startswith("-"):
            stack.append((indent, documented))
            continue
        if not documented and not any(d for _, d in stack):
            missing.append(m.group(1))
    return missing


@pytest.mark.parametrize("chart", [*ALL, "lianxin"])
def test_every_value_is_documented(chart: str) -> None:
    assert leaf_keys_without_a_comment((CHARTS / chart / "values.yaml").read_text()) == []


# --- valid objects ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.30.0", NEWEST])
def test_every_rendered_object_is_valid_for_kubernetes(
    rendered: tuple[str, list[dict[str, Any]]], version: str
) -> None:
    name, objects = rendered
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name}: {obj['kind']} {obj['metadata']['name']}: {err.message}")


def test_servicemonitors_scrape_the_named_metrics_port_of_each_service() -> None:
    objects = render_set("external")
    monitors = of_kind(objects, "ServiceMonitor")
    assert sorted(service_of(m) for m in monitors) == sorted(ALL)
    for m in monitors:
        assert m["apiVersion"] == "monitoring.coreos.com/v1"
        assert m["metadata"]["labels"]["release"] == "prometheus"
        (endpoint,) = m["spec"]["endpoints"]
        # The gateway serves /metrics on its HTTP port.
        port = "http" if service_of(m) == GATEWAY else "metrics"
        assert endpoint["port"] == port and endpoint["path"] == "/metrics"
        svc = named(objects, "Service", f"lianxin-{service_of(m)}")
        selector = m["spec"]["selector"]["matchLabels"]
        assert selector.items() <= svc["metadata"]["labels"].items()
        assert port in [p["name"] for p in svc["spec"]["ports"]]


# --- the Deployments --------------------------------------------------------------------


def test_each_service_has_one_deployment_service_pdb_and_policy(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, objects = rendered
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ConfigMap"):
        found = {service_of(o) for o in of_kind(objects, kind)}
        assert set(ALL) <= found, kind
    # Autoscaled in production: the replica-safe services (on PostgreSQL); never intake.
    expected = sorted([*REPLICA_SAFE, GATEWAY]) if name == "production" else []
    assert sorted(service_of(h) for h in of_kind(objects, "HorizontalPodAutoscaler")) == expected


def test_probes_are_grpc_probes_on_the_grpc_port_the_service_exposes(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, objects = rendered
    for dep in of_kind(objects, "Deployment"):
        svc_name = service_of(dep)
        if svc_name not in SERVICES:
            continue
        (c,) = containers(dep)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["grpc"] == GRPC_PORTS[svc_name]
        # Readiness asks the service's readiness (""); startup and liveness ask only
        # whether the process is not stuck (the `liveness` health name). With TLS (as in
        # production) they ask the plaintext health-only port: gRPC probes cannot do TLS.
        probed = ports["health"] if "health" in ports else ports["grpc"]
        assert ("health" in ports) == (name == "production"), svc_name
        expected = {
            "startupProbe": {"port": probed, "service": "liveness"},
            "readinessProbe": {"port": probed},
            "livenessProbe": {"port": probed, "service": "liveness"},
        }
        for probe, action in expected.items():
            assert c[probe]["grpc"] == action, (svc_name, probe)
        service = named(objects, "Service", dep["metadata"]["name"])
        grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert grpc_port["port"] == ports["grpc"] and grpc_port["appProtocol"] == "grpc"
        assert grpc_port["targetPort"] == "grpc"
        metrics = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
        assert metrics["targetPort"] == "metrics" and "metrics" in ports


def test_the_gateway_has_http_probes_on_its_http_port_and_no_grpc_or_nats(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, objects = rendered
    dep = named(objects, "Deployment", "lianxin-open311")
    (c,) = containers(dep)
    assert c["args"] == ["serve", GATEWAY]
    assert c["ports"] == [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}]
    for probe, path in (
        ("startupProbe", "/livez"),
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/livez"),
    ):
        assert c[probe]["httpGet"] == {"path": path, "port": "http"}, probe
        assert "grpc" not in c[probe]
    (port,) = named(objects, "Service", "lianxin-open311")["spec"]["ports"]
    assert port == {
        "name": "http",
        "port": GATEWAY_PORT,
        "targetPort": "http",
        "protocol": "TCP",
        "appProtocol": "http",
    }
    s = settings_of(objects, GATEWAY)
    assert s["LIANXIN_OPEN311_HTTP_PORT"] == str(GATEWAY_PORT)
    assert s["LIANXIN_OPEN311_HOST"] == "0.0.0.0" and s["LIANXIN_OPEN311_DATA_DIR"] == "/data"
    assert s["LIANXIN_OPEN311_INTAKE_TARGET"] == "lianxin-intake:50051"
    assert s["LIANXIN_OPEN311_ROUTING_TARGET"] == "lianxin-routing:50053"
    # Every setting the chart writes is one the gateway reads (it ignores unknown names).
    from services.open311.config import Open311Settings

    fields = {f"LIANXIN_OPEN311_{n.upper()}" for n in Open311Settings.model_fields}
    assert set(s) <= fields, set(s) - fields
    # It migrates its key database at start: no hook Job, no policy volume.
    assert not [j for j in of_kind(objects, "Job") if service_of(j) == GATEWAY]
    assert "policy" not in {v["name"] for v in dep["spec"]["template"]["spec"]["volumes"]}


def test_pods_run_non_root_read_only_without_capabilities_or_token(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, objects = rendered
    pods = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert pods
    for obj in pods:
        spec = obj["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["limits"]["cpu"] and c["resources"]["limits"]["memory"]
            assert c["resources"]["requests"]["memory"]
        if obj["kind"] != "StatefulSet":
            mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
            assert {"/data", "/tmp"} <= mounts


def test_images_are_pinned_to_the_chart_version(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, objects = rendered
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image
            if c["name"] != "postgresql":
                assert image.endswith(f"lianxin:{APP_VERSION}"), (name, image)


def test_secrets_are_only_referenced_never_inlined(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, objects = rendered
    secrets = of_kind(objects, "Secret")
    # The only Secret a chart makes is the development PostgreSQL's (kind values).
    assert [s["metadata"]["name"] for s in secrets] == (
        ["lianxin-dev-postgresql"] if name == "kind" else []
    )
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            text = json.dumps(obj["data"])
            assert "postgresql://" not in text and "postgresql+psycopg://" not in text
            assert not any("DATABASE_URL" in k or "PASSWORD" in k for k in obj["data"])
    for obj in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        (c,) = containers(obj)
        env = {e["name"]: e for e in c.get("env", [])}
        for key, entry in env.items():
            # (a *_FILE setting names where a Secret is mounted: not a secret itself)
            secretish = "DATABASE_URL" in key or "PASSWORD" in key or "TOKEN" in key
            if secretish and not key.endswith("_FILE"):
                assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], key


def test_the_database_url_comes_from_the_existing_secret_key_per_service() -> None:
    objects = render_set("production")
    for dep in of_kind(objects, "Deployment"):
        svc = service_of(dep)
        (c,) = containers(dep)
        env = {e["name"]: e for e in c["env"]}
        ref = env[f"LIANXIN_{svc.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "lianxin-database", "key": f"{svc}-url"}


def refusal(*sets: str) -> str:
    """helm's error for a render that must fail."""
    args: list[str | Path] = ["template", "lianxin", UMBRELLA]
    for s in sets:
        args += ["--set", s]
    result = helm(*args, check=False)
    assert result.returncode != 0, f"{sets} rendered"
    return result.stderr


def test_a_service_that_is_not_replica_safe_refuses_replicas_and_autoscaling() -> None:
    for bad in ("intake.replicaCount=2", "intake.autoscaling.enabled=true"):
        stderr = refusal(bad)
        assert "replicaSafe" in stderr and "issue 14" in stderr
        assert "WatchCases" in stderr and "commit order" in stderr
    # Nor may its old and new pods overlap in an update.
    assert "RollingUpdate" in refusal("intake.updateStrategy.type=RollingUpdate")
    for svc in SERVICES:
        values = yaml.safe_load((CHARTS / svc / "values.yaml").read_text())
        assert values["replicaSafe"] is (svc in REPLICA_SAFE), svc
        assert values["autoscaling"]["enabled"] is False
        if svc not in REPLICA_SAFE:
            assert len(values["replicaSafeReason"]) > 40
    dep = named(render_set("production"), "Deployment", "lianxin-intake")
    assert dep["spec"]["strategy"] == {"type": "Recreate"} and dep["spec"]["replicas"] == 1


@pytest.mark.parametrize("svc", [*REPLICA_SAFE, GATEWAY])
def test_replicas_are_refused_on_sqlite_and_rendered_on_postgresql(svc: str) -> None:
    for more in (f"{svc}.replicaCount=2", f"{svc}.autoscaling.enabled=true"):
        stderr = refusal(more, "global.database.existingSecret=")
        assert "external PostgreSQL" in stderr and "SQLite" in stderr and "one writer" in stderr
        # A volume only one node mounts cannot be shared by the pods either.
        stderr = refusal(more, f"{svc}.persistence.enabled=true")
        assert "ReadWriteMany" in stderr
    assert "RollingUpdate" in refusal(
        f"{svc}.updateStrategy.type=RollingUpdate", "global.database.existingSecret="
    )
    # One pod on SQLite: Recreate, so two processes never hold the file at once.
    sqlite = render(sets=["global.database.existingSecret="])
    dep = named(sqlite, "Deployment", f"lianxin-{svc}")
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    objects = render(
        sets=[
            f"{svc}.replicaCount=3",
            f"{svc}.persistence.enabled=true",
            f"{svc}.persistence.accessMode=ReadWriteMany",
        ]
    )
    dep = named(objects, "Deployment", f"lianxin-{svc}")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    (pvc,) = [p for p in of_kind(objects, "PersistentVolumeClaim") if service_of(p) == svc]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    for version in ("1.30.0", NEWEST):
        kubernetes_validate.validate(dep, version, strict=True)
        kubernetes_validate.validate(pvc, version, strict=True)


def test_production_runs_the_replica_safe_services_autoscaled_with_rolling_updates() -> None:
    objects = render_set("production")
    for svc in (*REPLICA_SAFE, GATEWAY):
        dep = named(objects, "Deployment", f"lianxin-{svc}")
        assert "replicas" not in dep["spec"]  # the HPA owns it
        assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
        hpa = named(objects, "HorizontalPodAutoscaler", f"lianxin-{svc}")
        assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] >= 2
        claims = [p for p in of_kind(objects, "PersistentVolumeClaim") if service_of(p) == svc]
        assert all(p["spec"]["accessModes"] == ["ReadWriteMany"] for p in claims)
        (c,) = containers(dep)
        assert any(e["name"] == f"LIANXIN_{svc.upper()}_DATABASE_URL" for e in c["env"])


def test_a_replica_safe_service_gets_its_autoscaler_and_rolling_updates() -> None:
    objects = render(
        sets=[
            "intake.replicaSafe=true",
            "intake.autoscaling.enabled=true",
            "intake.updateStrategy.type=RollingUpdate",
            "intake.podDisruptionBudget.minAvailable=1",
        ]
    )
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "lianxin-intake"
    assert hpa["spec"]["minReplicas"] == 2
    dep = named(objects, "Deployment", "lianxin-intake")
    assert "replicas" not in dep["spec"]
    assert named(objects, "PodDisruptionBudget", "lianxin-intake")["spec"]["minAvailable"] == 1
    for version in ("1.30.0", NEWEST):
        kubernetes_validate.validate(hpa, version, strict=True)


# --- settings, policy, migration ---------------------------------------------------------


def settings_of(objects: list[dict[str, Any]], svc: str) -> dict[str, str]:
    return dict(named(objects, "ConfigMap", f"lianxin-{svc}-settings")["data"])


def test_settings_point_each_service_at_its_peers_and_nats() -> None:
    objects = render_set("production")
    assert settings_of(objects, "routing")["LIANXIN_ROUTING_REGISTRY_TARGET"] == (
        "lianxin-registry:50052"
    )
    assert settings_of(objects, "notify")["LIANXIN_NOTIFY_REGISTRY_TARGET"] == (
        "lianxin-registry:50052"
    )
    assert settings_of(objects, "registry")["LIANXIN_REGISTRY_ROUTING_TARGET"] == (
        "lianxin-routing:50053"
    )
    for svc in SERVICES:
        s = settings_of(objects, svc)
        p = f"LIANXIN_{svc.upper()}_"
        assert s[p + "NATS_URL"] == "nats://nats:4222"
        assert s[p + "STREAM_REPLICAS"] == "3"
        assert s[p + "STREAM_DISCARD"] == "new"
        assert s[p + "HOST"] == "0.0.0.0" and s[p + "DATA_DIR"] == "/data"
        assert s[p + "MIGRATE_ON_START"] == "false"
        assert s[p + "GRPC_PORT"] == str(GRPC_PORTS[svc])


def test_the_district_policy_is_shipped_as_is_to_the_services_that_read_it() -> None:
    objects = render_set("defaults")
    source = (ROOT / "services/common/policies/370402.yaml").read_text()
    for svc in ("intake", "routing", "notify"):
        cm = named(objects, "ConfigMap", f"lianxin-{svc}-policy")
        assert cm["data"]["370402.yaml"].strip() == source.strip()
        assert settings_of(objects, svc)[f"LIANXIN_{svc.upper()}_POLICY_FILE"] == (
            "/etc/lianxin/policy/370402.yaml"
        )
    assert not [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["name"].endswith("registry-policy")
    ]


def test_migration_jobs_are_pre_install_and_pre_upgrade_hooks_with_the_services_settings() -> None:
    objects = render_set("production")
    jobs = of_kind(objects, "Job")
    assert sorted(service_of(j) for j in jobs) == sorted(SERVICES)
    for job in jobs:
        svc = service_of(job)
        notes = job["metadata"]["annotations"]
        assert notes["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in notes["helm.sh/hook-delete-policy"]
        (c,) = containers(job)
        assert c["args"] == ["migrate", svc]
        inline = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        assert inline == settings_of(objects, svc)
    kind = render_set("kind")
    assert of_kind(kind, "Job") == []
    for svc in SERVICES:
        assert settings_of(kind, svc)[f"LIANXIN_{svc.upper()}_MIGRATE_ON_START"] == "true"


# --- NetworkPolicy ------------------------------------------------------------------------


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def pod_labels(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        service_of(d): d["spec"]["template"]["metadata"]["labels"]
        for d in of_kind(objects, "Deployment")
        if service_of(d) in ALL
    }


def test_network_policies_allow_exactly_the_flows_of_the_design() -> None:
    objects = render_set("production")
    labels = pod_labels(objects)
    policies = {
        service_of(p): p
        for p in of_kind(objects, "NetworkPolicy")
        if not p["metadata"]["name"].endswith("-migrate")
    }
    assert set(policies) == set(ALL)
    egress_flows, ingress_flows = set(), set()
    for svc, pol in policies.items():
        assert selects(pol["spec"]["podSelector"], labels[svc])
        assert pol["spec"]["policyTypes"] == ["Ingress", "Egress"]
        for rule in pol["spec"]["egress"]:
            for peer in rule.get("to", []):
                for other, other_labels in labels.items():
                    if "podSelector" in peer and selects(peer["podSelector"], other_labels):
                        assert [p["port"] for p in rule["ports"]] == [GRPC_PORTS[other]], svc
                        egress_flows.add((svc, other))
        for rule in pol["spec"]["ingress"]:
            for peer in rule.get("from", []):
                for other, other_labels in labels.items():
                    if "podSelector" in peer and selects(peer["podSelector"], other_labels):
                        assert [p["port"] for p in rule["ports"]] == ["grpc"]
                        ingress_flows.add((other, svc))
    assert egress_flows == FLOWS
    assert ingress_flows == FLOWS
    # The gateway's HTTP port: from the configured clients (production: the ingress
    # controller's namespace) and the scrapers, and from nothing else.
    gateway = policies[GATEWAY]["spec"]["ingress"]
    assert [r["ports"] for r in gateway] == [[{"port": "http", "protocol": "TCP"}]] * 2
    assert gateway[0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]


def egress_ports(policy: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}


def test_network_policies_allow_dns_nats_postgresql_metrics_and_nothing_else() -> None:
    objects = render_set("external")
    for pol in of_kind(objects, "NetworkPolicy"):
        svc = service_of(pol)
        ports = egress_ports(pol)
        if pol["metadata"]["name"].endswith("-migrate"):
            assert ports == {53, 5432} and pol["spec"]["ingress"] == []
            continue
        peers = {GRPC_PORTS[callee] for caller, callee in FLOWS if caller == svc}
        https = {443} if svc == "notify" else set()
        metrics = [
            r
            for r in pol["spec"]["ingress"]
            if r["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        ]
        if svc == GATEWAY:  # no NATS; scraped on its HTTP port
            assert ports == {53, 5432} | peers
            continue
        assert len(metrics) == 1
        assert ports == {53, 4222, 5432} | peers | https, svc
        nats_rule = next(r for r in pol["spec"]["egress"] if r["ports"][0]["port"] == 4222)
        assert nats_rule["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]
        pg_rule = next(r for r in pol["spec"]["egress"] if r["ports"][0]["port"] == 5432)
        assert pg_rule["to"] == [{"ipBlock": {"cidr": "10.30.0.0/24"}}]


# --- dashboards and alert rules ---------------------------------------------------------


def chart_copy_with_files(tmp_path: Path, files: dict[str, str]) -> Path:
    """The umbrella copied (links resolved) with extra files under files/."""
    copy = tmp_path / "lianxin"
    shutil.copytree(UMBRELLA, copy, symlinks=False)
    for sub in ("dashboards", "prometheus"):  # only these files, whatever is shipped
        shutil.rmtree(copy / "files" / sub)
        (copy / "files" / sub).mkdir()
    for rel, text in files.items():
        (copy / "files" / rel).write_text(text)
    return copy


DASHBOARD = json.dumps(
    {"title": "Lianxin cases", "uid": "lianxin-cases", "panels": [{"type": "timeseries"}]}
)
RULES = yaml.safe_dump(
    {
        "groups": [
            {
                "name": "lianxin",
                "rules": [
                    {"alert": "LianxinOutboxBacklog", "expr": "lianxin_outbox_backlog > 100"}
                ],
            }
        ]
    }
)


def dashboard_maps(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["labels"].get("app.kubernetes.io/component") == "dashboard"
    ]


def test_every_shipped_dashboard_is_a_labelled_configmap_of_valid_json() -> None:
    shipped = sorted(p.name for p in (UMBRELLA / "files/dashboards").glob("*.json"))
    maps = dashboard_maps(render_set("production"))
    assert sorted(k for c in maps for k in c["data"]) == shipped
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        for text in cm["data"].values():
            dashboard = json.loads(text)
            assert dashboard["title"] and isinstance(dashboard["panels"], list)


@pytest.mark.parametrize("layout", ["empty", "absent"])
def test_no_dashboards_or_rules_renders_none(tmp_path: Path, layout: str) -> None:
    chart = tmp_path / "lianxin"
    shutil.copytree(UMBRELLA, chart, symlinks=False)
    for sub in ("dashboards", "prometheus"):
        shutil.rmtree(chart / "files" / sub)
        if layout == "empty":
            (chart / "files" / sub).mkdir()
    objects = render(chart, sets=["prometheusRule.enabled=true"])
    assert dashboard_maps(objects) == []
    assert of_kind(objects, "PrometheusRule") == []


def test_dashboards_and_rules_in_files_become_configmaps_and_prometheusrules(
    tmp_path: Path,
) -> None:
    chart = chart_copy_with_files(
        tmp_path,
        {
            "dashboards/lianxin-cases.json": DASHBOARD,
            "prometheus/lianxin.rules.yaml": RULES,
            "prometheus/prometheus.yml": "scrape_configs: []\n",  # not a rule file
        },
    )
    objects = render(chart, sets=["prometheusRule.enabled=true"])
    (cm,) = dashboard_maps(objects)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["lianxin-cases.json"]) == json.loads(DASHBOARD)
    (rule,) = of_kind(objects, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES)["groups"]
    for group in rule["spec"]["groups"]:
        assert group["name"] and all(r["expr"] for r in group["rules"])


def test_a_dashboard_that_is_not_json_fails_the_render(tmp_path: Path) -> None:
    chart = chart_copy_with_files(tmp_path, {"dashboards/broken.json": '{"title": '})
    result = helm("template", "lianxin", chart, check=False)
    assert result.returncode != 0 and "broken.json is not valid JSON" in result.stderr


def test_without_an_external_database_each_pod_migrates_its_own_sqlite_at_start() -> None:
    objects = render(sets=["global.database.existingSecret="])
    assert of_kind(objects, "Job") == []
    assert [
        p for p in of_kind(objects, "NetworkPolicy") if "migrate" in p["metadata"]["name"]
    ] == []
    for svc in SERVICES:
        assert settings_of(objects, svc)[f"LIANXIN_{svc.upper()}_MIGRATE_ON_START"] == "true"
    for svc in ALL:
        (c,) = containers(named(objects, "Deployment", f"lianxin-{svc}"))
        assert not [e for e in c.get("env", []) if e["name"].endswith("DATABASE_URL")]
