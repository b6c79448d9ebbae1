"""The article's table, played through the four real services and counted by GetStats.

`lianxin demo article-table` sends 258 requests through intake and walks each one through
routing's public API; `lianxin stats 龙山路街道` then prints the figures routing computes
from its stored history. Both run here as the CLI runs them, against the in-process
system's addresses.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.cli.main import main
from tests.routing.helpers import start_clock
from tests.system import running_system


@pytest.mark.slow
async def test_the_article_table_comes_out_of_the_running_system_and_its_history(
    tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_system(tmp_path, nats_url, clock=start_clock()) as system:
        targets = [f"--{name}={host.address}" for name, host in system.hosts.items()]

        played = await asyncio.to_thread(main, [*targets, "demo", "article-table"])
        demo_output = capsys.readouterr().out
        assert played == 0, demo_output
        assert "the system's figures are the article's" in demo_output

        reply = await system.routing.GetStats(routing_svc.GetStatsRequest(unit_code="370402003"))
        figures = {i.id: (i.numerator, i.denominator) for i in reply.indicators}
        assert figures["received"] == (258, 1)
        assert figures["handled_by_community"] == (66, 1)
        assert figures["handled_by_street"] == (68, 1)
        assert figures["handled_by_district"] == (58, 1)
        assert figures["closed"] == (192, 1)
        assert figures["closure_rate"] == (192, 258)
        assert round(100 * 192 / 258) == 74
        assert figures["satisfaction_rate"] == (157, 160)
        assert f"{100 * 157 / 160:.1f}" == "98.1"
        assert figures["explained"] == (6, 1)
        assert figures["rework_rate"] == (4, 192)
        assert figures["supervised"] == (8, 1)
        formulas = {i.id: i.formula_id for i in reply.indicators}
        assert formulas["closure_rate"] == "closed/received"
        assert formulas["closure_rate_due"] == "closed/due"

        shown = await asyncio.to_thread(main, [*targets, "stats", "龙山路街道"])
        table = capsys.readouterr().out
        assert shown == 0
        rows = {m.group(1): m.group(2) for m in re.finditer(r" ([a-z_]+) +(\S+)", table)}
        assert "龙山路街道 (370402003)" in table
        assert rows["received"] == "258"
        assert rows["handled_by_community"] == "66"
        assert rows["handled_by_street"] == "68"
        assert rows["handled_by_district"] == "58"
        assert rows["closed"] == "192"
        assert rows["closure_rate"] == "74.4%"
        assert rows["satisfaction_rate"] == "98.1%"
        assert "192/258" in table and "157/160" in table
