"""Transport security in the charts: TLS/mTLS from a Secret, probes on the plaintext
health port, each service's NATS user and password (from a Secret), NATS over TLS, and the
NATS servers' permissions equal to services/common/natsauth.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.common import natsauth
from tests.deploy.helm import CHARTS, GATEWAY, SERVICES, named, render, render_set


def settings_of(objects: list[dict[str, Any]], svc: str) -> dict[str, str]:
    return dict(named(objects, "ConfigMap", f"lianxin-{svc}-settings")["data"])


def pod_of(objects: list[dict[str, Any]], svc: str) -> dict[str, Any]:
    deployment = named(objects, "Deployment", f"lianxin-{svc}")
    return dict(deployment["spec"]["template"]["spec"])


def test_by_default_there_is_no_tls_and_no_nats_user() -> None:
    objects = render_set("defaults")
    for svc in (*SERVICES, GATEWAY):
        s = settings_of(objects, svc)
        assert not [k for k in s if "_TLS_" in k or k.endswith(("NATS_USER", "HEALTH_PORT"))]
        names = {v["name"] for v in pod_of(objects, svc)["volumes"]}
        assert not names & {"tls", "nats-tls"}


def test_production_runs_mtls_from_the_secret_with_probes_on_the_health_port() -> None:
    objects = render_set("production")
    for svc in SERVICES:
        s, p = settings_of(objects, svc), f"LIANXIN_{svc.upper()}_"
        assert s[p + "TLS_ENABLED"] == "true"
        assert s[p + "TLS_REQUIRE_CLIENT_CERT"] == "true"
        assert s[p + "TLS_CERT_FILE"] == "/etc/lianxin/tls/tls.crt"
        assert s[p + "TLS_KEY_FILE"] == "/etc/lianxin/tls/tls.key"
        assert s[p + "TLS_CA_FILE"] == "/etc/lianxin/tls/ca.crt"
        pod = pod_of(objects, svc)
        (c,) = pod["containers"]
        health = next(port["containerPort"] for port in c["ports"] if port["name"] == "health")
        assert s[p + "HEALTH_PORT"] == str(health)
        assert c["readinessProbe"]["grpc"]["port"] == health
        tls = next(v for v in pod["volumes"] if v["name"] == "tls")
        assert tls["secret"]["secretName"] == "lianxin-tls"
        assert {"name": "tls", "mountPath": "/etc/lianxin/tls", "readOnly": True} in c[
            "volumeMounts"
        ]
    # The gateway calls intake and routing with the same Secret's pair as its client cert.
    s = settings_of(objects, GATEWAY)
    assert s["LIANXIN_OPEN311_TLS_CLIENT_CERT_FILE"] == "/etc/lianxin/tls/tls.crt"
    assert "LIANXIN_OPEN311_TLS_CERT_FILE" not in s


def test_each_service_connects_to_nats_as_its_own_user_with_the_password_from_a_secret() -> None:
    objects = render_set("production")
    for svc in SERVICES:
        assert settings_of(objects, svc)[f"LIANXIN_{svc.upper()}_NATS_USER"] == svc
        (c,) = pod_of(objects, svc)["containers"]
        env = {e["name"]: e for e in c.get("env", [])}
        ref = env[f"LIANXIN_{svc.upper()}_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "lianxin-nats-auth", "key": f"{svc}-password"}
        assert not [k for k in settings_of(objects, svc) if "PASSWORD" in k]  # never inlined
    assert not [k for k in settings_of(objects, GATEWAY) if "NATS" in k]


def test_nats_over_tls_mounts_the_ca_and_the_client_certificate() -> None:
    objects = render(
        sets=["global.nats.tls.existingSecret=nats-client-tls", "global.nats.tls.clientCert=true"]
    )
    for svc in SERVICES:
        s, p = settings_of(objects, svc), f"LIANXIN_{svc.upper()}_"
        assert s[p + "NATS_TLS_CA_FILE"] == "/etc/lianxin/nats-tls/ca.crt"
        assert s[p + "NATS_TLS_CERT_FILE"] == "/etc/lianxin/nats-tls/tls.crt"
        vol = next(v for v in pod_of(objects, svc)["volumes"] if v["name"] == "nats-tls")
        assert vol["secret"]["secretName"] == "nats-client-tls"


def test_the_nats_servers_permissions_are_the_services_own() -> None:
    values = yaml.safe_load((CHARTS / "nats" / "values.yaml").read_text())
    users = values["config"]["merge"]["authorization"]["users"]
    assert [u["user"] for u in users] == list(natsauth.SERVICE_BUS)
    env = values["container"]["env"]
    for u in users:
        assert u["permissions"] == natsauth.permissions(u["user"]), u["user"]
        var = f"{u['user'].upper()}_PASSWORD"
        assert u["password"] == f"<< ${var} >>"
        assert env[var]["valueFrom"]["secretKeyRef"] == {
            "name": "lianxin-nats-auth",
            "key": f"{u['user']}-password",
        }


def test_tokens_are_checked_against_the_identity_providers_keys(tmp_path: Path) -> None:
    objects = render_set("production")
    for svc in (*SERVICES, GATEWAY):
        s, p = settings_of(objects, svc), f"LIANXIN_{svc.upper()}_"
        assert s[p + "AUTH_ISSUER"] == "https://auth.example.org/realms/lianxin"
        assert s[p + "AUTH_SERVICE_TOKEN_FILE"] == f"/etc/lianxin/auth-token/{svc}-token"
        if svc != GATEWAY:  # the gateway serves HTTP with API keys: it checks no tokens
            assert s[p + "AUTH_JWKS"].startswith("https://auth.example.org/")
        pod = pod_of(objects, svc)
        token = next(v for v in pod["volumes"] if v["name"] == "auth-token")
        assert token["secret"]["secretName"] == "lianxin-service-tokens"
    # A JWKS given inline is a ConfigMap of the chart, mounted where AUTH_JWKS points.
    jwks = '{"keys": []}'
    values = tmp_path / "auth.yaml"
    values.write_text(yaml.safe_dump({"global": {"auth": {"jwks": jwks}}}), encoding="utf-8")
    objects = render(values=[values])
    for svc in SERVICES:
        s = settings_of(objects, svc)
        assert s[f"LIANXIN_{svc.upper()}_AUTH_JWKS"] == "/etc/lianxin/auth-jwks/jwks.json"
        assert named(objects, "ConfigMap", f"lianxin-{svc}-jwks")["data"]["jwks.json"] == jwks
        (c,) = pod_of(objects, svc)["containers"]
        assert {"name": "auth-jwks", "mountPath": "/etc/lianxin/auth-jwks", "readOnly": True} in c[
            "volumeMounts"
        ]
