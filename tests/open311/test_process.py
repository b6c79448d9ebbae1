"""`python -m services.open311` (what `lianxin up` and `lianxin serve open311` run): it
reads its LIANXIN_OPEN311_* settings, becomes ready once intake and routing serve, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from services.common.natsserver import free_port
from tests.conftest import eventually
from tests.open311.conftest import Setup


async def test_the_gateway_process_gets_ready_serves_and_stops_on_sigterm(
    o311: Setup, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LIANXIN_OPEN311_HTTP_PORT": str(port),
        "LIANXIN_OPEN311_DATA_DIR": str(tmp_path),
        "LIANXIN_OPEN311_INTAKE_TARGET": o311.system.hosts["intake"].address,
        "LIANXIN_OPEN311_ROUTING_TARGET": o311.system.hosts["routing"].address,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.open311",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=30)
            services = (await http.get("/services.json")).json()
            assert services[0]["service_name"] == "家庭电路故障"
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
        code, output = proc.returncode, out.decode()
        assert code == 0, output
        assert "open311 gateway listening" in output
        assert (tmp_path / "open311.db").exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
