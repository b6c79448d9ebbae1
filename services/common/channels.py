"""The one place that makes gRPC server ports and client channels, with TLS or without.

`tls=None` is the embedded default: plaintext on loopback. With a `TlsConfig`:

- **servers** (`add_port`) present `cert_file`/`key_file` and, with
  `require_client_cert`, accept only clients whose certificate `ca_file` signed (mTLS).
  The files are read again when they change: gRPC asks `_ServerFiles.fetch` at every new
  handshake, which compares the files' modification times and sizes and hands gRPC a new
  configuration when they differ. Connections already open keep the old certificate;
  new ones get the new one, without a restart (cert-manager or a Secret rotation simply
  replaces the files).
- **clients** (`aio_channel`, `sync_channel`) verify servers against `ca_file` and show
  `client_cert_file`/`client_key_file` (the server's pair when not given). An `aio_channel`
  with TLS is a `RenewingChannel`: before a call it looks (at most once a second) whether
  the files changed, and if so opens a new channel with them for the calls that follow and
  closes the old one after a grace period. A `sync_channel` (the CLI's, short-lived) reads
  the files once.

`interceptors` and `options` pass through unchanged on every factory (the sync one wraps
its channel with `grpc.intercept_channel`), so callers add their own (metrics, request
ids, bearer tokens) the same way with or without TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger(__name__)

Options = Sequence[tuple[str, Any]]
OLD_CHANNEL_GRACE_SECONDS = 30.0
CHECK_EVERY_SECONDS = 1.0


class TlsError(ValueError):
    """Certificate files missing, unreadable or incomplete (a configuration error)."""


@dataclass(frozen=True)
class TlsConfig:
    """Where a process's certificates are. `cert_file`/`key_file`: what a server presents
    (and, when no client pair is given, what its outgoing calls present); `ca_file`: who
    is trusted (servers called; with `require_client_cert`, clients)."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    require_client_cert: bool = False
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    server_name: str = ""  # the name expected in servers' certificates; "": the target's host

    @property
    def client_pair(self) -> tuple[Path, Path] | None:
        cert = self.client_cert_file or self.cert_file
        key = self.client_key_file or self.key_file
        return (cert, key) if cert and key else None

    def server_files(self) -> list[Path]:
        return [p for p in (self.cert_file, self.key_file, self.ca_file) if p]

    def client_files(self) -> list[Path]:
        return [p for p in (self.ca_file, *(self.client_pair or ())) if p]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsError(f"TLS: cannot read {path}: {exc.strerror}") from exc


def _stamp(paths: Sequence[Path]) -> tuple[tuple[int, int, int], ...]:
    """What changes when a file is replaced or rewritten (mtime, size, inode)."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((0, -1, 0))
    return tuple(out)


# --- servers -----------------------------------------------------------------------------


class _ServerFiles:
    """gRPC's certificate-configuration fetcher: a new configuration when the files
    changed since the last one, None (keep the current one) otherwise."""

    def __init__(self, tls: TlsConfig) -> None:
        if not tls.cert_file or not tls.key_file:
            raise TlsError("TLS: a server needs cert_file and key_file")
        if tls.require_client_cert and not tls.ca_file:
            raise TlsError("TLS: require_client_cert needs ca_file (who signs the clients)")
        self.tls = tls
        self.stamp = _stamp(tls.server_files())
        self.initial = self._config()
        self.reloads = 0

    def _config(self) -> Any:
        tls = self.tls
        assert tls.cert_file and tls.key_file
        return grpc.ssl_server_certificate_configuration(
            [(_read(tls.key_file), _read(tls.cert_file))],
            root_certificates=_read(tls.ca_file) if tls.ca_file else None,
        )

    def fetch(self) -> Any:
        stamp = _stamp(self.tls.server_files())
        if stamp == self.stamp:
            return None
        try:
            config = self._config()
        except Exception as exc:  # half-written files: keep serving the current ones
            log.warning("TLS: certificate files changed but cannot be loaded yet: %s", exc)
            return None
        self.stamp = stamp
        self.reloads += 1
        log.info("TLS: server certificate reloaded from %s", self.tls.cert_file)
        return config


def server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    """Credentials that follow the files (see the module docstring)."""
    files = _ServerFiles(tls)
    return grpc.dynamic_ssl_server_credentials(
        files.initial, files.fetch, require_client_authentication=tls.require_client_cert
    )


def add_port(server: grpc.aio.Server | grpc.Server, address: str, tls: TlsConfig | None) -> int:
    """Listen on `address` (plaintext when `tls` is None); the port bound, 0 on failure."""
    if tls is None:
        return int(server.add_insecure_port(address))
    return int(server.add_secure_port(address, server_credentials(tls)))


# --- clients -----------------------------------------------------------------------------


def channel_credentials(tls: TlsConfig) -> grpc.ChannelCredentials:
    """Client credentials from the files as they are now."""
    pair = tls.client_pair
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file) if tls.ca_file else None,
        private_key=_read(pair[1]) if pair else None,
        certificate_chain=_read(pair[0]) if pair else None,
    )


def _tls_options(tls: TlsConfig, options: Options) -> list[tuple[str, Any]]:
    out = list(options)
    if tls.server_name:
        out.append(("grpc.ssl_target_name_override", tls.server_name))
    return out


def sync_channel(
    target: str,
    tls: TlsConfig | None,
    *,
    interceptors: Sequence[Any] = (),
    options: Options = (),
) -> grpc.Channel:
    """A blocking channel (the CLI, health checks); the files are read now."""
    if tls is None:
        channel = grpc.insecure_channel(target, options=list(options))
    else:
        channel = grpc.secure_channel(
            target, channel_credentials(tls), options=_tls_options(tls, options)
        )
    return grpc.intercept_channel(channel, *interceptors) if interceptors else channel


def aio_channel(
    target: str,
    tls: TlsConfig | None,
    *,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    options: Options = (),
) -> grpc.aio.Channel:
    """An asyncio channel; with TLS one that follows its certificate files."""
    if tls is None:
        return grpc.aio.insecure_channel(
            target, interceptors=list(interceptors), options=list(options)
        )

    def make() -> grpc.aio.Channel:
        return grpc.aio.secure_channel(
            target,
            channel_credentials(tls),
            interceptors=list(interceptors),
            options=_tls_options(tls, options),
        )

    return RenewingChannel(make, tls.client_files())  # type: ignore[return-value]


class _Method:
    """A multicallable that asks the current channel at every call, so stubs made once
    keep working across a renewal."""

    def __init__(self, owner: RenewingChannel, kind: str, args: tuple[Any, ...], kw: Any) -> None:
        self.owner, self.kind, self.args, self.kw = owner, kind, args, kw

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.owner.current(), self.kind)(*self.args, **self.kw)
        return method(*args, **kwargs)


class RenewingChannel:
    """A `grpc.aio.Channel` look-alike that opens a new channel when its certificate
    files change (new connections show the new client certificate, trust the new CA)."""

    def __init__(self, make: Callable[[], grpc.aio.Channel], files: Sequence[Path]) -> None:
        self._make = make
        self._files = list(files)
        self._stamp = _stamp(self._files)
        self._channel = make()
        self._checked = time.monotonic()
        self._retired: dict[asyncio.Task[None], grpc.aio.Channel] = {}
        self.renewals = 0

    def current(self) -> grpc.aio.Channel:
        now = time.monotonic()
        if now - self._checked >= CHECK_EVERY_SECONDS:
            self._checked = now
            self.renew_if_changed()
        return self._channel

    def renew_if_changed(self) -> bool:
        stamp = _stamp(self._files)
        if stamp == self._stamp:
            return False
        try:
            fresh = self._make()
        except Exception as exc:
            log.warning("TLS: client certificate files changed but cannot be loaded: %s", exc)
            return False
        old, self._channel, self._stamp = self._channel, fresh, stamp
        self.renewals += 1
        log.info("TLS: client channel renewed with the changed certificate files")
        # Calls in flight on the old channel get a grace period, then it closes.
        task = asyncio.get_running_loop().create_task(old.close(OLD_CHANNEL_GRACE_SECONDS))
        self._retired[task] = old
        task.add_done_callback(lambda t: self._retired.pop(t, None))
        return True

    def unary_unary(self, *args: Any, **kw: Any) -> Any:
        return _Method(self, "unary_unary", args, kw)

    def unary_stream(self, *args: Any, **kw: Any) -> Any:
        return _Method(self, "unary_stream", args, kw)

    def stream_unary(self, *args: Any, **kw: Any) -> Any:
        return _Method(self, "stream_unary", args, kw)

    def stream_stream(self, *args: Any, **kw: Any) -> Any:
        return _Method(self, "stream_stream", args, kw)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.current().get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self.current().wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self.current().channel_ready()

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)
        for task, old in list(self._retired.items()):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await old.close(None)

    async def __aenter__(self) -> RenewingChannel:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close(None)
