"""The outbox: an acknowledged case is not lost when NATS is down, and reaches routing
once NATS is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.routing.v1 import resources_pb2 as routing_res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common.natsserver import NatsServer
from tests.conftest import eventually
from tests.system import running_system, story_submission


@pytest.mark.slow
async def test_a_case_taken_in_while_nats_is_down_is_filed_once_nats_is_back(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    async with running_system(tmp_path, nats_server.url) as system:
        nats_server.stop()
        created = await system.intake.SubmitCase(story_submission("while-down"))
        assert created.created  # acknowledged: committed with its outbox row
        nats_server.start()

        async def dispatched() -> bool:
            case = (
                await system.intake.GetCase(intake_svc.GetCaseRequest(case_id=created.case.id))
            ).case
            return case.status == routing_res.CASE_STATUS_DISPATCHED

        await eventually(dispatched, timeout=60)
        history = (
            await system.routing.GetCase(routing_svc.GetCaseRequest(case_id=created.case.id))
        ).case.history
        assert [h.transition for h in history].count(routing_res.TRANSITION_FILED) == 1
