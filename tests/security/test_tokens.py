"""Bearer tokens against a real service: only a token signed by a trusted key, for this
issuer and audience, within its lifetime, gets through; every forgery is UNAUTHENTICATED."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from services.common import auth, tokens
from services.common.server import ServiceHost
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import error_details, running, settings_for


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, object], claims: dict[str, object], sign: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(sign)}"


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": tokens.DEV_ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "staff-admin",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "kind": "staff",
        "role": "admin",
        "unit": "370402",
        "scope": " ".join(auth.ALL_PERMISSIONS),
    }
    claims.update(over)
    return claims


@pytest.fixture
async def jwks(tmp_path: Path) -> Path:
    """A JWKS of its own for this test's service (so rotating it touches nothing else)."""
    path = tmp_path / "jwks.json"
    tokens.write_jwks([tokens.public_jwk(callers.SIGNER.key)], path)
    return path


@pytest.fixture
async def host(tmp_path: Path, nats_url: str, jwks: Path) -> AsyncIterator[ServiceHost]:
    settings = settings_for(IntakeSettings, tmp_path, nats_url, auth_jwks=str(jwks))
    async with running(create_server, settings) as h:
        yield h


async def _list(host: ServiceHost, token: str | None) -> grpc.StatusCode:
    async with callers.channel(host.address, token=None) as ch:
        stub = intake_service_pb2_grpc.IntakeServiceStub(ch)
        md = auth.call_metadata(token) if token is not None else ()
        try:
            await stub.ListCases(svc.ListCasesRequest(), metadata=md, timeout=10)
        except grpc.aio.AioRpcError as err:
            return err.code()
        return grpc.StatusCode.OK


async def test_a_good_token_passes_and_no_token_is_unauthenticated_but_health_is_open(
    host: ServiceHost,
) -> None:
    assert await _list(host, callers.ADMIN) == grpc.StatusCode.OK
    assert await _list(host, None) == grpc.StatusCode.UNAUTHENTICATED
    async with callers.channel(host.address, token=None) as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # The identity headers of before are not credentials any more.
        stub = intake_service_pb2_grpc.IntakeServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListCases(
                svc.ListCasesRequest(),
                metadata=(
                    ("x-lianxin-actor", "service:notify"),
                    ("x-lianxin-permissions", "pii:read,case:read"),
                    ("x-lianxin-jurisdiction", "3"),
                ),
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_details(caught.value)[0].reason == "NO_TOKEN"


async def test_every_forged_or_stale_token_is_unauthenticated(host: ServiceHost) -> None:
    signer = callers.SIGNER
    other = tokens.Signer(tokens.new_private_key())  # a key nobody trusts
    public_pem = (
        signer.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .strip()
    )
    good = signer.sign(
        "staff-admin", kind="staff", role="admin", unit="370402", scopes=["case:read"]
    )
    head, body, sig = good.split(".")
    tampered_claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    tampered_claims["scope"] = " ".join(auth.ALL_PERMISSIONS)
    hs_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': signer.kid}).encode())}." + _b64(
        json.dumps(_claims()).encode()
    )
    hs256 = hs_input + "." + _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    forged = {
        "expired": signer.sign("s", kind="staff", lifetime_seconds=-120),
        "not yet valid": signer.sign("s", kind="staff", not_before=time.time() + 600),
        "wrong issuer": tokens.Signer(signer.key, issuer="https://evil.example").sign(
            "s", kind="staff"
        ),
        "wrong audience": tokens.Signer(signer.key, audience="someone-else").sign(
            "s", kind="staff"
        ),
        "unknown key id": other.sign("s", kind="staff"),
        "alg none": _forge({"alg": "none", "kid": signer.kid}, _claims()),
        "HS256 with the public key as secret": hs256,
        "tampered payload": f"{head}.{_b64(json.dumps(tampered_claims).encode())}.{sig}",
        "not a JWT": "not-a-token",
        "too long": "a" * 6000,  # (past 8 KiB gRPC itself refuses the headers)
    }
    codes = {name: await _list(host, token) for name, token in forged.items()}
    assert codes == {name: grpc.StatusCode.UNAUTHENTICATED for name in forged}, codes
    assert await _list(host, good) == grpc.StatusCode.OK


async def test_a_rotated_key_keeps_old_tokens_valid_until_the_old_key_is_withdrawn(
    host: ServiceHost, jwks: Path
) -> None:
    old = callers.SIGNER.sign(
        "staff-admin", kind="staff", role="admin", unit="370402", scopes=["case:read"]
    )
    new_key = tokens.new_private_key()
    new = tokens.Signer(new_key).sign(
        "staff-admin", kind="staff", role="admin", unit="370402", scopes=["case:read"]
    )
    assert await _list(host, new) == grpc.StatusCode.UNAUTHENTICATED  # not published yet
    # Publish the new key next to the old one: both sign valid tokens.
    tokens.write_jwks([tokens.public_jwk(callers.SIGNER.key), tokens.public_jwk(new_key)], jwks)
    assert await _list(host, new) == grpc.StatusCode.OK
    assert await _list(host, old) == grpc.StatusCode.OK
    # Withdraw the old key: its tokens stop working, the new ones go on.
    tokens.write_jwks([tokens.public_jwk(new_key)], jwks)
    assert await _list(host, old) == grpc.StatusCode.UNAUTHENTICATED
    assert await _list(host, new) == grpc.StatusCode.OK


def test_dev_key_rotation_keeps_the_previous_public_key(tmp_path: Path) -> None:
    first = tokens.ensure_dev_keys(tmp_path)
    kid1 = json.loads(first.jwks.read_text())["keys"][0]["kid"]
    tokens.rotate_dev_key(tmp_path)
    kids = [k["kid"] for k in json.loads(first.jwks.read_text())["keys"]]
    assert kids[0] == kid1 and len(kids) == 2 and kids[1] != kid1
    assert tokens.Signer.from_file(first.private).kid == kids[1]
    assert oct(first.private.stat().st_mode & 0o777) == "0o600"
