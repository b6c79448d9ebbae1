"""The image, built and run here: buildah builds deploy/image/Containerfile (chroot
isolation) on a local debootstrap base (no registry is reachable; the base is made once
and kept in buildah's image store), then `lianxin migrate` and `lianxin serve registry`
run from it exactly as the chart's containers do: migrate is idempotent, the service
answers gRPC health SERVING, runs as a non-root user, writes only to /data and /tmp, and
stops cleanly when PID 1 (dumb-init) gets SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from services.cli.up import wait_serving
from services.common.natsserver import NatsServer, free_port
from tests.deploy.helm import ROOT

BASE = "localhost/lianxin-base:bookworm"
IMAGE = "localhost/lianxin:test"
IMAGE_CA = "/etc/ssl/certs/ca-certificates.crt"
ENTRY = ["/opt/lianxin/bin/dumb-init", "--", "lianxin"]

# The first run on a machine makes the base (~70 s) and builds from nothing (~40 s).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(*argv: str, timeout: float = 900, **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,  # type: ignore[call-overload]
    )
    assert result.returncode == 0, (
        f"{' '.join(argv)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result


def host_ca_bundle() -> str:
    """The host's system CA bundle: pip in the build trusts what the host trusts."""
    cafile = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    assert Path(cafile).exists(), f"no CA bundle at {cafile}"
    return cafile


@pytest.fixture(scope="module")
def image() -> str:
    if os.geteuid() != 0 or not shutil.which("buildah") or not shutil.which("debootstrap"):
        pytest.fail("building the image needs root, buildah and debootstrap: make image-tools")
    started = time.monotonic()
    run(str(ROOT / "deploy/image/debootstrap-base.sh"), BASE)
    based = time.monotonic()
    env = {
        **os.environ,
        "BUILDER": "buildah",
        "BASE_IMAGE": BASE,
        "BUILD_ARGS": f"-v {host_ca_bundle()}:{IMAGE_CA}:ro",
    }
    run(str(ROOT / "deploy/image/build.sh"), IMAGE, env=env)
    print(f"\nimage: base {based - started:.0f} s, build {time.monotonic() - based:.0f} s")
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = run("buildah", "from", "--pull-never", image).stdout.strip()
    try:
        yield name
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True)


def in_image(ctr: str, env: dict[str, str], *argv: str, flags: Sequence[str] = ()) -> list[str]:
    envs = [f"--env={k}={v}" for k, v in env.items()]
    return ["buildah", "run", "--isolation", "chroot", *envs, *flags, ctr, "--", *argv]


def config(image: str) -> dict[str, Any]:
    """The image's OCI config (User, Entrypoint, Labels, …)."""
    inspected = json.loads(run("buildah", "inspect", "--type", "image", image).stdout)
    return dict(inspected["OCIv1"]["config"])


def test_the_image_runs_as_a_numeric_non_root_user_with_an_init_and_labels(image: str) -> None:
    cfg = config(image)
    assert cfg["User"] == "10001:10001"
    assert cfg["Entrypoint"] == ["/opt/lianxin/bin/dumb-init", "--"]
    labels = cfg["Labels"]
    for key in ("source", "version", "revision"):
        assert labels[f"org.opencontainers.image.{key}"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"


def test_the_final_stage_has_no_compilers_no_pip_and_no_build_context(container: str) -> None:
    root = Path(run("buildah", "mount", container).stdout.strip())
    try:
        for tool in ("gcc", "cc", "c++", "x86_64-linux-gnu-gcc", "make"):
            assert not (root / "usr/bin" / tool).exists(), tool
        assert not (root / "opt/lianxin/bin/pip").exists()
        assert not (root / "src").exists()
        assert (root / "opt/lianxin/bin/lianxin").exists()
    finally:
        run("buildah", "umount", container)


def changed_outside_data_and_tmp(root: Path, since: float) -> list[str]:
    """Files in the container's root filesystem modified after `since`, but /data, /tmp
    and what `buildah run` itself sets up (resolv.conf, hosts, /run, /dev, /proc)."""
    skip = {"data", "tmp", "proc", "dev", "sys", "run"}
    changed = []
    for top in root.iterdir():
        if top.name in skip:
            continue
        paths = [top] if not top.is_dir() or top.is_symlink() else top.rglob("*")
        for p in paths:
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            if st.st_mtime > since and p.name not in ("resolv.conf", "hosts", "hostname"):
                changed.append(str(p.relative_to(root)))
    return changed


def test_lianxin_serve_registry_in_the_image_is_serving_non_root_read_only_and_stops_on_sigterm(
    container: str, tmp_path: Path
) -> None:
    nats = NatsServer(tmp_path / "nats", port=free_port())
    nats.start()
    port = free_port()
    env = {
        "LIANXIN_REGISTRY_HOST": "127.0.0.1",
        "LIANXIN_REGISTRY_GRPC_PORT": str(port),
        "LIANXIN_REGISTRY_METRICS_PORT": "off",
        "LIANXIN_REGISTRY_DATA_DIR": "/data",
        "LIANXIN_REGISTRY_NATS_URL": nats.url,
        "LIANXIN_REGISTRY_ROUTING_TARGET": "",
        "LIANXIN_REGISTRY_MIGRATE_ON_START": "false",
    }
    # As the chart runs it: the image's own filesystem read-only (its top directories
    # mounted read-only over themselves), /data and /tmp writable volumes.
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    for d in (data, tmp):
        d.mkdir()
        os.chown(d, 10001, 10001)
    root = Path(run("buildah", "mount", container).stdout.strip())
    mounts = [f"--volume={root / d}:/{d}:ro" for d in ("usr", "opt", "etc", "var")]
    mounts += [f"--volume={data}:/data", f"--volume={tmp}:/tmp"]
    since = time.time() - 1
    proc = None
    log = tmp_path / "registry.log"
    try:
        first = run(*in_image(container, env, *ENTRY, "migrate", "registry", flags=mounts))
        again = run(*in_image(container, env, *ENTRY, "migrate", "registry", flags=mounts))
        assert "migrated from empty to" in first.stdout
        assert "already at" in again.stdout
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                in_image(container, env, *ENTRY, "serve", "registry", flags=mounts),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        serving = wait_serving(f"127.0.0.1:{port}", timeout=90)
        assert serving, f"registry in the image not SERVING:\n{log.read_text()[-3000:]}"
        init, service = pids_of(["dumb-init", "serve registry"])
        assert uid_of(init) == uid_of(service) == 10001
        os.kill(init, signal.SIGTERM)  # as the kubelet does to PID 1
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        assert (data / "registry.db").exists()
        assert changed_outside_data_and_tmp(root, since) == []
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["buildah", "umount", container], capture_output=True)
        nats.stop()


def pids_of(needles: list[str]) -> list[int]:
    """The pid of the newest process whose command line contains each needle."""
    found = []
    for needle in needles:
        matches = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if needle in cmd and "buildah" not in cmd:
                matches.append(int(entry.name))
        assert matches, f"no process with {needle!r}"
        found.append(max(matches))
    return found


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid for {pid}")
