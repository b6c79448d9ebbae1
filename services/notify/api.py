"""notify's gRPC servicer."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from services.common import paging
from services.common.db import Database
from services.common.errors import Violations
from services.notify import domain, store


class NotifyServicer(notify_service_pb2_grpc.NotifyServiceServicer):
    def __init__(self, *, db: Database) -> None:
        self.db = db

    async def ListDeliveries(
        self, request: svc.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListDeliveriesResponse:
        v = Violations()
        v.check(
            request.status in res.DeliveryStatus.values(),
            "status",
            f"must be one of {', '.join(res.DeliveryStatus.keys()[1:])}",
        )
        v.check(len(request.case_id) <= 36, "case_id", "must be at most 36 characters")
        v.raise_if_any()
        size = paging.page_size(request.page_size)
        after = str(paging.decode_token(request.page_token).get("after", ""))

        def load(conn: Connection) -> tuple[list[Any], bool]:
            rows = store.list_deliveries(
                conn,
                case_id=request.case_id,
                status=request.status,
                after_id=after,
                limit=size + 1,
            )
            return [domain.delivery_to_proto(r) for r in rows[:size]], len(rows) > size

        deliveries, more = await self.db.read(load)
        token = paging.encode_token({"after": deliveries[-1].id}) if more else ""
        return svc.ListDeliveriesResponse(deliveries=deliveries, next_page_token=token)
