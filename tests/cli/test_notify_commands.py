"""`lianxin demo` against the whole system (four real services in this process), then the
notify area's commands: every party of the story is told once per step, the hotline too."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

from lianxin.notify.v1 import notify_service_pb2 as notify_svc
from lianxin.notify.v1 import resources_pb2 as notify_res
from services.cli.main import main
from tests.conftest import eventually
from tests.system import running_system


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The CLI in a thread (it blocks on gRPC while the servers run on this loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


async def test_after_the_demo_deliveries_list_shows_each_party_of_the_story_once_per_step(
    tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        targets: list[str] = []
        for name, host in system.hosts.items():
            targets += [f"--{name}", host.address]
        code, story = await run(capsys, *targets, "demo")
        assert code == 0, story
        case_id = re.search(r"intake received case (\S+)", story).group(1)  # type: ignore[union-attr]

        async def all_sent() -> bool:
            # The demo ends once the citizen's closure is recorded; the rest may still be
            # on their way (the hotline's closure, the sender's last round).
            ds = (
                await system.notify.ListDeliveries(
                    notify_svc.ListDeliveriesRequest(case_id=case_id, page_size=100)
                )
            ).deliveries
            return len(ds) == 10 and all(d.status == notify_res.DELIVERY_STATUS_SENT for d in ds)

        await eventually(all_sent)
        code, listed = await run(capsys, *targets, "deliveries", "list")
        assert code == 0, listed
        rows = [line.split() for line in listed.splitlines()[1:]]
        _, subs = await run(capsys, *targets, "subscriptions", "list")
        some = (await system.notify.ListDeliveries(notify_svc.ListDeliveriesRequest())).deliveries
        _, detail = await run(capsys, *targets, "deliveries", "get", some[0].id)
        _, resend = await run(capsys, *targets, "deliveries", "retry", some[0].id)
        _, watched = await run(capsys, *targets, "watch", "--count", "5")
        _, made = await run(
            capsys,
            *targets,
            "subscriptions",
            "create",
            "--hotline",
            "convenience_hotline",
            "--url",
            "https://96361.example/hooks",
            "--unit",
            "370402003",
            "--event",
            "case.closed",
        )
        sub_id = made.split()[0]
        _, rotated = await run(capsys, *targets, "subscriptions", "rotate-secret", sub_id)
        _, deleted = await run(capsys, *targets, "subscriptions", "delete", sub_id)
        _, bad = await run(capsys, *targets, "subscriptions", "create", "--hotline", "grid_app")

    # Columns: time (two words), event, to (kind:name), via, status, text.
    told = Counter((row[2], row[3]) for row in rows)
    assert told == Counter(
        {
            ("filed", "hotline:12345市长热线"): 1,
            ("dispatched", "staff:王建国"): 1,  # the electrician
            ("dispatched", "staff:韩丽源"): 1,  # the grid manager
            ("dispatched", "hotline:12345市长热线"): 1,
            ("accepted", "hotline:12345市长热线"): 1,
            ("resolved", "citizen:张胜起"): 1,
            ("resolved", "staff:韩丽源"): 1,  # she checks the result
            ("resolved", "hotline:12345市长热线"): 1,
            ("closed", "citizen:张胜起"): 1,
            ("closed", "hotline:12345市长热线"): 1,
        }
    )
    assert all(row[5] == "sent" for row in rows)
    assert "who notify told" in story and "韩丽源 (staff)" in story
    assert "mayor_hotline" in subs and "unit 370402 " in subs and "(file sink)" in subs
    assert f"delivery  {some[0].id}" in detail and "#1" in detail
    assert "FAILED_PRECONDITION" in resend  # it was sent: nothing to retry
    changes = [line for line in watched.splitlines() if case_id in line]
    assert [line.split()[4] for line in changes] == [
        "FILED",
        "DISPATCHED",
        "IN_PROGRESS",
        "RESOLVED",
        "CLOSED",
    ]
    assert watched.splitlines()[-1].startswith("cursor ")
    secret = re.search(r"^secret (\S+)", made, re.M).group(1)  # type: ignore[union-attr]
    new_secret = re.search(r"^secret (\S+)", rotated, re.M).group(1)  # type: ignore[union-attr]
    assert "convenience_hotline" in made and "events case.closed" in made
    assert secret.startswith("lxs_") and new_secret.startswith("lxs_") and secret != new_secret
    assert deleted.strip() == f"deleted {sub_id}"
    assert "INVALID_ARGUMENT" in bad and "subscription.hotline:" in bad
