"""Bearer tokens: signed JWTs, verified against a JWKS, minted by the CLI in embedded mode.

Only asymmetric algorithms are accepted (EdDSA with Ed25519 keys, ES256), so the keys a
service trusts can be published: a JWKS file (`AUTH_JWKS=/path/jwks.json`, re-read when it
changes) or URL (`AUTH_JWKS=https://…/jwks.json`, fetched through PyJWT's `PyJWKClient`,
cached and refetched for an unknown key id). A token names its key with `kid`, so keys
rotate by publishing the new key next to the old one: tokens signed by the old key stay
valid until they expire, then the old key is removed.

The claims (`Claims`):
    iss, aud, sub, iat, nbf, exp   checked: issuer and audience from settings, times with
                                   a small leeway
    kind                           hotline | staff | service
    scope                          space-separated permissions (OAuth 2.0 style)
    channel                        hotline: the intake channel it is bound to, e.g.
                                   CHANNEL_MAYOR_HOTLINE
    role, unit                     staff: grid_worker | operator | supervisor | admin, and
                                   the unit code they act for (a grid, community, street
                                   or the district; its prefix is their jurisdiction)

In embedded mode `lianxin up` makes a development key pair under `<data dir>/auth/`
(`ensure_dev_keys`): the services trust its JWKS, and the CLI (`lianxin token issue`) and
each service (for its own calls to the others) sign with its private key.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

ALGORITHMS = ("EdDSA", "ES256")
DEV_ISSUER = "https://auth.lianxin.local/dev"
AUDIENCE = "lianxin"
LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 4096

KINDS = ("hotline", "staff", "service")


class TokenError(Exception):
    """A token that cannot be trusted; the message says why (never the token itself)."""


# --- keys ------------------------------------------------------------------------------


def _kid_for(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint-like key id: stable for the same public key."""
    import base64
    import hashlib

    members = {k: public_jwk[k] for k in sorted(public_jwk) if k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:16]


def new_private_key(alg: str = "EdDSA") -> Any:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported signing algorithm {alg!r}; use one of {ALGORITHMS}")


def public_jwk(private_key: Any) -> dict[str, Any]:
    """The public half of `private_key` as a JWK with `kid`, `alg` and `use`."""
    public = private_key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))
        alg = "EdDSA"
    else:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        alg = "ES256"
    jwk = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
    jwk.update(kid=_kid_for(jwk), alg=alg, use="sig")
    return jwk


def write_private_key(private_key: Any, path: Path) -> None:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def read_private_key(path: Path) -> Any:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise TokenError(f"{path}: only Ed25519 or P-256 signing keys are used")
    return key


def write_jwks(keys: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": keys}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class DevKeys:
    """The embedded mode's key pair: `private` signs, `jwks` lists the public key."""

    private: Path
    jwks: Path


def dev_key_paths(data_dir: Path) -> DevKeys:
    auth = Path(data_dir) / "auth"
    return DevKeys(private=auth / "signing-key.pem", jwks=auth / "jwks.json")


def ensure_dev_keys(data_dir: Path) -> DevKeys:
    """The development key pair under `<data_dir>/auth/`, made on first use."""
    paths = dev_key_paths(data_dir)
    if paths.private.exists() and paths.jwks.exists():
        return paths
    key = new_private_key()
    write_private_key(key, paths.private)
    write_jwks([public_jwk(key)], paths.jwks)
    return paths


def rotate_dev_key(data_dir: Path, *, keep: int = 2) -> DevKeys:
    """A new development signing key: it signs from now on, and the newest `keep` public
    keys stay in the JWKS, so tokens signed by the previous key live until they expire."""
    paths = ensure_dev_keys(data_dir)
    old = json.loads(paths.jwks.read_text(encoding="utf-8")).get("keys", [])
    key = new_private_key()
    write_private_key(key, paths.private)
    write_jwks([*old, public_jwk(key)][-max(1, keep) :], paths.jwks)
    return paths


# --- signing ---------------------------------------------------------------------------


class Signer:
    """Signs tokens with one private key (its `kid` from the public half)."""

    def __init__(self, private_key: Any, *, issuer: str = DEV_ISSUER, audience: str = AUDIENCE):
        self.key = private_key
        jwk = public_jwk(private_key)
        self.kid, self.alg = jwk["kid"], jwk["alg"]
        self.issuer, self.audience = issuer, audience

    @classmethod
    def from_file(cls, path: Path, **kw: Any) -> Signer:
        return cls(read_private_key(path), **kw)

    def sign(
        self,
        subject: str,
        *,
        kind: str,
        scopes: list[str] | tuple[str, ...] | frozenset[str] = (),
        lifetime_seconds: float = 3600,
        not_before: float | None = None,
        **claims: Any,
    ) -> str:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": int(not_before) if not_before is not None else now,
            "exp": now + int(lifetime_seconds),
            "kind": kind,
            "scope": " ".join(sorted(scopes)),
        }
        payload.update({k: v for k, v in claims.items() if v not in (None, "")})
        return jwt.encode(payload, self.key, algorithm=self.alg, headers={"kid": self.kid})


# --- verifying -------------------------------------------------------------------------


class KeySet:
    """The public keys a service trusts, by key id, from a JWKS file or URL."""

    def __init__(self, source: str, *, refresh_seconds: float = 300.0) -> None:
        self.source = source
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._client: jwt.PyJWKClient | None = None
        if source.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(source, cache_keys=True, lifespan=int(refresh_seconds))
        else:
            self._load_file()
            if not self._keys:
                raise TokenError(f"{source}: no usable signing keys (EdDSA or ES256)")

    def _load_file(self) -> None:
        path = Path(self.source)
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        data = json.loads(path.read_text(encoding="utf-8"))
        keys: dict[str, jwt.PyJWK] = {}
        for entry in data.get("keys", []):
            if entry.get("alg") not in ALGORITHMS or not entry.get("kid"):
                continue  # symmetric or unnamed keys are never trusted
            keys[entry["kid"]] = jwt.PyJWK(entry)
        self._keys, self._stamp = keys, stamp

    def stamp(self) -> tuple[int, int, int] | None:
        """What the trusted keys are now (a changed file has a new stamp); None for a URL."""
        if self._client is not None:
            return None
        try:
            st = Path(self.source).stat()
        except OSError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def key(self, kid: str) -> jwt.PyJWK:
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientError as exc:
                raise TokenError(f"unknown key id {kid[:40]!r}") from exc
        with self._lock:
            try:
                self._load_file()  # rotation: a changed file is re-read
            except (OSError, ValueError) as exc:
                if not self._keys:
                    raise TokenError(f"cannot read the trusted keys: {exc}") from exc
            found = self._keys.get(kid)
        if found is None:
            raise TokenError(f"unknown key id {kid[:40]!r}")
        return found


class Verifier:
    """Checks a bearer token: signature by a trusted key, algorithm, issuer, audience,
    expiry and not-before; returns its claims.

    A signature check costs about a millisecond, and a caller sends the same token with
    every call, so a verified token is remembered (by its exact text) until it expires, for
    at most `CACHE_SECONDS`, and only while the trusted keys are unchanged: publishing or
    withdrawing a key re-checks every token at its next use."""

    CACHE_SECONDS = 300.0
    CACHE_SIZE = 4096

    def __init__(self, keys: KeySet, *, issuer: str, audience: str = AUDIENCE) -> None:
        self.keys, self.issuer, self.audience = keys, issuer, audience
        self._cache: dict[str, tuple[dict[str, Any], float, Any]] = {}

    def verify(self, token: str) -> dict[str, Any]:
        now = time.time()
        stamp = self.keys.stamp()
        hit = self._cache.get(token)
        if hit is not None and now < hit[1] and hit[2] == stamp:
            return hit[0]
        claims = self._verify(token)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        until = min(float(claims["exp"]), now + self.CACHE_SECONDS)
        self._cache[token] = (claims, until, stamp)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("the token is not a JWT") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise TokenError(f"algorithm {str(alg)[:20]!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise TokenError("the token names no key id (kid)")
        key = self.keys.key(kid)
        if key.algorithm_name != alg:
            raise TokenError("the token's algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenError("the token is not valid yet") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("the token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("the token is from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"the token is invalid: {type(exc).__name__}") from exc
        if claims.get("kind") not in KINDS:
            raise TokenError("the token has no valid kind (hotline, staff or service)")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenError("the token has no subject")
        return claims


class TokenSource:
    """A service's own token for its calls to the other services.

    From a file the platform mounts and rotates (`AUTH_SERVICE_TOKEN_FILE`, re-read when it
    changes), or minted with a signing key (`AUTH_SIGNING_KEY_FILE`, embedded mode), short
    lived and renewed before it expires."""

    LIFETIME = 900.0

    def __init__(
        self,
        service: str,
        *,
        token_file: Path | None = None,
        signer: Signer | None = None,
        scopes: tuple[str, ...] = (),
    ) -> None:
        self.subject = f"service:{service}"
        self.token_file, self.signer, self.scopes = token_file, signer, scopes
        self._token = ""
        self._until = 0.0
        self._stamp: tuple[int, int, int] | None = None

    def token(self) -> str:
        now = time.time()
        if self.token_file is not None:
            st = self.token_file.stat()
            if (st.st_mtime_ns, st.st_size, st.st_ino) != self._stamp:
                self._token = self.token_file.read_text(encoding="utf-8").strip()
                self._stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            return self._token
        if self.signer is None:
            return ""
        if now > self._until:
            self._token = self.signer.sign(
                self.subject, kind="service", scopes=self.scopes, lifetime_seconds=self.LIFETIME
            )
            self._until = now + self.LIFETIME / 2
        return self._token


def service_token_source(
    name: str,
    *,
    data_dir: Path,
    issuer: str,
    audience: str,
    token_file: Path | None,
    signing_key_file: Path | None,
    scopes: tuple[str, ...],
) -> TokenSource:
    """A service's own token: from `token_file` (mounted by the platform), else minted
    with `signing_key_file` or the development key under `data_dir` when there is one;
    else no token (its calls to other services are refused, and say so)."""
    if token_file is not None:
        return TokenSource(name, token_file=token_file)
    key_file = signing_key_file or dev_key_paths(data_dir).private
    signer = None
    if key_file.exists():
        signer = Signer.from_file(key_file, issuer=issuer, audience=audience)
    return TokenSource(name, signer=signer, scopes=scopes)
