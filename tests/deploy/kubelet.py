"""Run what a rendered chart says, on this machine: a tiny stand-in for a cluster.

From the rendered objects it takes each pod template's container command, args and env
(resolving envFrom/valueFrom against the rendered ConfigMaps and the Secrets the operator
made), its volume mounts (ConfigMap volumes become files, others empty directories) and
its ports; it maps each Service's DNS name and port to the local port of the pod the
Service selects. Nothing is taken from anywhere else, so a wrong env name, target, port,
selector or mount in the chart shows up as a process that fails.

The only translations are the ones a cluster does: pod ports → free local ports, Service
names → 127.0.0.1, mount paths → local directories, the image's venv → this venv.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.natsserver import free_port

IMAGE_VENV = "/opt/lianxin/bin/"
LOCAL_BIN = str(Path(sys.executable).parent) + "/"


@dataclass
class Pod:
    name: str
    labels: dict[str, str]
    container: dict[str, Any]
    volumes: list[dict[str, Any]]
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → (pod, local)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None


class Cluster:
    def __init__(
        self,
        objects: list[dict[str, Any]],
        *,
        root: Path,
        namespace: str,
        secrets: dict[str, dict[str, str]],
        external: dict[str, str],
    ) -> None:
        """`external`: "host:port" of things outside the chart (NATS) → local "host:port"."""
        self.objects = objects
        self.root = root
        self.namespace = namespace
        self.secrets = secrets
        self.configmaps = {
            o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"
        }
        self.addresses: dict[str, str] = dict(external)
        self.pods = [self._pod(o) for o in objects if o["kind"] == "Deployment"]
        self.jobs = [self._pod(o) for o in objects if o["kind"] == "Job"]
        self._route_services()

    # --- building -----------------------------------------------------------------------

    def _pod(self, obj: dict[str, Any]) -> Pod:
        template = obj["spec"]["template"]
        (container,) = template["spec"]["containers"]
        pod = Pod(
            name=obj["metadata"]["name"],
            labels=template["metadata"]["labels"],
            container=container,
            volumes=template["spec"].get("volumes", []),
        )
        for port in container.get("ports", []):
            pod.ports[port["name"]] = (port["containerPort"], free_port())
        return pod

    def _route_services(self) -> None:
        for svc in (o for o in self.objects if o["kind"] == "Service"):
            selector = svc["spec"]["selector"]
            targets = [p for p in self.pods if selector.items() <= p.labels.items()]
            assert len(targets) == 1, f"Service {svc['metadata']['name']} selects {targets}"
            (pod,) = targets
            name = svc["metadata"]["name"]
            for port in svc["spec"]["ports"]:
                target = port["targetPort"]
                assert target in pod.ports, f"{name}: targetPort {target} not on {pod.name}"
                local = f"127.0.0.1:{pod.ports[target][1]}"
                for host in (
                    name,
                    f"{name}.{self.namespace}",
                    f"{name}.{self.namespace}.svc",
                    f"{name}.{self.namespace}.svc.cluster.local",
                ):
                    self.addresses[f"{host}:{port['port']}"] = local

    # --- a container's process --------------------------------------------------------

    def env(self, pod: Pod) -> dict[str, str]:
        c = pod.container
        env: dict[str, str] = {}
        for source in c.get("envFrom", []):
            ref = source["configMapRef"]["name"]
            assert ref in self.configmaps, f"{pod.name}: envFrom ConfigMap {ref} not rendered"
            env.update(self.configmaps[ref])
        for entry in c.get("env", []):
            if "value" in entry:
                env[entry["name"]] = str(entry["value"])
                continue
            ref = entry["valueFrom"]
            if "secretKeyRef" in ref:
                s = ref["secretKeyRef"]
                assert s["name"] in self.secrets, f"{pod.name}: Secret {s['name']} missing"
                env[entry["name"]] = self.secrets[s["name"]][s["key"]]
            else:
                m = ref["configMapKeyRef"]
                env[entry["name"]] = self.configmaps[m["name"]][m["key"]]
        return {k: self._translate(pod, v) for k, v in env.items()}

    def _mounts(self, pod: Pod) -> dict[str, Path]:
        """mountPath → a local directory holding what the volume holds."""
        volumes = {v["name"]: v for v in pod.volumes}
        mounts: dict[str, Path] = {}
        for m in pod.container.get("volumeMounts", []):
            local = self.root / pod.name / m["name"]
            local.mkdir(parents=True, exist_ok=True)
            volume = volumes[m["name"]]
            if "configMap" in volume:
                ref = volume["configMap"]["name"]
                assert ref in self.configmaps, f"{pod.name}: volume ConfigMap {ref} not rendered"
                for key, text in self.configmaps[ref].items():
                    (local / key).write_text(text, encoding="utf-8")
            elif "secret" in volume:
                ref = volume["secret"]["secretName"]
                assert ref in self.secrets, f"{pod.name}: volume Secret {ref} missing"
                for key, text in self.secrets[ref].items():
                    (local / key).write_text(text, encoding="utf-8")
            mounts[m["mountPath"]] = local
        return mounts

    def _translate(self, pod: Pod, value: str) -> str:
        for pod_port, local in pod.ports.values():
            if value == str(pod_port):
                return str(local)
        if value == "0.0.0.0":
            return "127.0.0.1"
        for address, local in self.addresses.items():
            value = value.replace(address, local)
        for mount, local in self._mounts(pod).items():
            if value == mount or value.startswith(mount + "/"):
                value = str(local) + value[len(mount) :]
        return value

    def argv(self, pod: Pod) -> list[str]:
        argv = [*pod.container.get("command", []), *pod.container.get("args", [])]
        assert argv, f"{pod.name}: no command"
        return [
            LOCAL_BIN + a.removeprefix(IMAGE_VENV) if a.startswith(IMAGE_VENV) else a for a in argv
        ]

    def process_env(self, pod: Pod) -> dict[str, str]:
        tmp = self._mounts(pod).get("/tmp", self.root / pod.name / "tmp")
        return {
            # What the image sets (deploy/image/Containerfile), then the pod's env.
            "PATH": LOCAL_BIN.rstrip("/") + os.pathsep + os.environ.get("PATH", ""),
            "HOME": str(tmp),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **self.env(pod),
        }

    def cwd(self, pod: Pod) -> Path:
        return self._mounts(pod).get("/data", self.root / pod.name)

    def run_job(self, job: Pod, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(job),
            env=self.process_env(job),
            cwd=self.cwd(job),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, pod: Pod) -> None:
        pod.log = self.root / f"{pod.name}.log"
        out = open(pod.log, "wb")  # noqa: SIM115 - lives with the process
        pod.proc = subprocess.Popen(
            self.argv(pod),
            env=self.process_env(pod),
            cwd=self.cwd(pod),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def local(self, pod: Pod, port: str) -> str:
        return f"127.0.0.1:{pod.ports[port][1]}"

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every pod (as the kubelet does), then wait; their exit codes."""
        codes: dict[str, int | None] = {}
        for pod in self.pods:
            if pod.proc and pod.proc.poll() is None:
                pod.proc.send_signal(signal.SIGTERM)
        for pod in self.pods:
            if pod.proc is None:
                continue
            try:
                codes[pod.name] = pod.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pod.proc.kill()
                codes[pod.name] = pod.proc.wait()
        return codes
