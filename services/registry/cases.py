"""What registry asks routing: open and overdue cases of a unit, the status of a case.

registry owns no cases. The counts come from routing's ListWorkQueue (open cases assigned
to the unit or any unit below it; `Case.overdue` marks the late ones), paged through. When
routing cannot be asked (down, slow, an error), the answer says so and the caller shows
the rest of its view: an area summary never fails because routing is away.

Note: ListWorkQueue selects by the unit a case is *assigned* to, so a case located in a
community but handled by the street or a district department counts for that street or
department (and the district), not for the community.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc

from lianxin.registry.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from lianxin.routing.v1.routing_service_pb2_grpc import RoutingServiceStub

log = logging.getLogger(__name__)

PAGE = 500
MAX_PAGES = 40  # 20,000 open cases; beyond that the counts say "at least"
SERVICE_ACTOR: tuple[tuple[str, str], ...] = ()  # the channel adds this service's token


class CaseDirectory:
    def __init__(self, channel: grpc.aio.Channel | None, *, timeout: float) -> None:
        self._stub = RoutingServiceStub(channel) if channel is not None else None
        self.timeout = timeout

    async def counts(self, unit_code: str) -> res.CaseCounts:
        if self._stub is None:
            return res.CaseCounts(available=False, unavailable_reason="routing is not configured")
        open_, overdue, token = 0, 0, ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            for _ in range(MAX_PAGES):
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError
                reply = await self._stub.ListWorkQueue(
                    routing_svc.ListWorkQueueRequest(
                        unit_code=unit_code, page_size=PAGE, page_token=token
                    ),
                    timeout=left,
                    metadata=SERVICE_ACTOR,
                )
                open_ += len(reply.cases)
                overdue += sum(1 for c in reply.cases if c.overdue)
                token = reply.next_page_token
                if not token:
                    break
        except grpc.aio.AioRpcError as exc:
            log.warning("routing ListWorkQueue(%s): %s", unit_code, exc.code().name)
            return res.CaseCounts(available=False, unavailable_reason=f"routing: {exc.code().name}")
        except TimeoutError:
            return res.CaseCounts(available=False, unavailable_reason="routing: timed out")
        return res.CaseCounts(available=True, open=open_, overdue=overdue)

    async def statuses(self, case_ids: Sequence[str]) -> dict[str, tuple[int, bool]] | None:
        """case id → (status, overdue) from routing; None when routing cannot be asked.
        A case routing does not know (yet) is left out."""
        if self._stub is None:
            return None
        stub = self._stub

        async def one(case_id: str) -> tuple[str, tuple[int, bool] | None]:
            try:
                reply = await stub.GetCase(
                    routing_svc.GetCaseRequest(case_id=case_id),
                    timeout=self.timeout,
                    metadata=SERVICE_ACTOR,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return case_id, None
                raise
            return case_id, (reply.case.status, reply.case.overdue)

        try:
            found = await asyncio.gather(*(one(c) for c in case_ids))
        except grpc.aio.AioRpcError as exc:
            log.warning("routing GetCase: %s", exc.code().name)
            return None
        return {cid: v for cid, v in found if v is not None}
