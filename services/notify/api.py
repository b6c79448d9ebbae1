"""notify's gRPC servicer: deliveries for operators, hotline subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from typing import Any

import grpc
from sqlalchemy import Connection

from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from services.common import auth, paging
from services.common.db import Database
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.notify import (
    audiences,
    domain,
    policies,
    scope,
    store,
    subscription_store,
    subscriptions,
)
from services.notify.channels import Clock


def _required(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument([(field, "is required")])
    if len(value) > 36:
        raise InvalidArgument([(field, "must be at most 36 characters")])


class NotifyServicer(notify_service_pb2_grpc.NotifyServiceServicer):
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        quiet: tuple[time, time] | None = None,
        file_sink: bool = True,
        secret_grace: timedelta = timedelta(days=1),
        on_retry: Callable[[], None] | None = None,
        on_subscriptions_changed: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.quiet = quiet
        self.file_sink = file_sink
        self.secret_grace = secret_grace
        self.on_retry = on_retry
        self.on_subscriptions_changed = on_subscriptions_changed or (lambda: None)

    # --- deliveries --------------------------------------------------------------------

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
        after = paging.read_token(request.page_token, {"after": str})["after"]
        within = scope.deliveries(auth.current())

        def load(conn: Connection) -> tuple[list[Any], bool]:
            rows = store.list_deliveries(
                conn,
                case_id=request.case_id,
                status=request.status,
                after_id=after,
                limit=size + 1,
                case_channel=within.case_channel,
                recipient_id=within.recipient_id,
            )
            return [domain.delivery_to_proto(r) for r in rows[:size]], len(rows) > size

        deliveries, more = await self.db.read(load)
        token = paging.encode_token({"after": deliveries[-1].id}) if more else ""
        return svc.ListDeliveriesResponse(deliveries=deliveries, next_page_token=token)

    async def GetDelivery(
        self, request: svc.GetDeliveryRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetDeliveryResponse:
        _required(request.delivery_id, "delivery_id")
        within = scope.deliveries(auth.current())
        delivery = await self.db.read(lambda c: _load_delivery(c, request.delivery_id, within))
        if delivery is None:
            raise _delivery_not_found(request.delivery_id)
        return svc.GetDeliveryResponse(delivery=delivery)

    async def RetryDelivery(
        self, request: svc.RetryDeliveryRequest, context: grpc.aio.ServicerContext
    ) -> svc.RetryDeliveryResponse:
        _required(request.delivery_id, "delivery_id")
        now = self.clock()

        def retry(conn: Connection) -> tuple[res.Delivery | None, bool]:
            row = store.get_delivery(conn, delivery_id=request.delivery_id)
            if row is None:
                return None, False
            at = policies.not_before(
                now, channel=row.channel, urgent=bool(row.urgent), quiet=self.quiet
            )
            revived = store.revive(conn, delivery_id=row.id, at=at)
            return _load_delivery(conn, row.id), revived

        delivery, revived = await self.db.write(retry)
        if delivery is None:
            raise _delivery_not_found(request.delivery_id)
        if delivery.status == res.DELIVERY_STATUS_SENT:
            raise FailedPrecondition(
                f"delivery {delivery.id} was already sent; there is nothing to retry",
                reason="ALREADY_SENT",
                metadata={"delivery_id": delivery.id},
            )
        if revived and self.on_retry is not None:
            self.on_retry()
        return svc.RetryDeliveryResponse(delivery=delivery)

    # --- subscriptions -----------------------------------------------------------------

    async def CreateSubscription(
        self, request: svc.CreateSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> svc.CreateSubscriptionResponse:
        v = Violations()
        if not request.HasField("subscription"):
            v.add("subscription", "is required")
            v.raise_if_any()
        subscriptions.validate(
            request.subscription, request_id=request.request_id, file_sink=self.file_sink, v=v
        )
        own = scope.subscription_hotline(auth.current())
        if own and request.subscription.hotline != own:
            raise PermissionDenied(
                "a hotline subscribes for its own channel only", reason="WRONG_CHANNEL"
            )
        row = subscriptions.new_row(
            request.subscription, request_id=request.request_id, now=self.clock()
        )
        stored, _created = await self.db.write(
            lambda conn: subscription_store.create_subscription(conn, row=row)
        )
        self.on_subscriptions_changed()
        return svc.CreateSubscriptionResponse(
            subscription=subscriptions.to_proto(stored, with_secret=True)
        )

    async def ListSubscriptions(
        self, request: svc.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListSubscriptionsResponse:
        if request.hotline and request.hotline not in audiences.HOTLINES:
            raise InvalidArgument([("hotline", "must be a hotline channel, or unset for all")])
        own = scope.subscription_hotline(auth.current())
        if own and request.hotline and request.hotline != own:
            raise PermissionDenied(
                "a hotline lists its own channel's subscriptions", reason="WRONG_CHANNEL"
            )
        hotline = own or request.hotline
        size = paging.page_size(request.page_size)
        after = paging.read_token(request.page_token, {"after": str})["after"]
        rows = await self.db.read(
            lambda c: subscription_store.list_subscriptions(
                c, hotline=hotline, after_id=after, limit=size + 1
            )
        )
        page = [subscriptions.to_proto(r) for r in rows[:size]]
        token = paging.encode_token({"after": page[-1].id}) if len(rows) > size else ""
        return svc.ListSubscriptionsResponse(subscriptions=page, next_page_token=token)

    async def DeleteSubscription(
        self, request: svc.DeleteSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> svc.DeleteSubscriptionResponse:
        _required(request.subscription_id, "subscription_id")
        now = self.clock()
        own = scope.subscription_hotline(auth.current())

        def delete(c: Connection) -> bool:
            if not _managed(c, request.subscription_id, own):
                return False
            return subscription_store.delete_subscription(
                c, subscription_id=request.subscription_id, now=now
            )

        deleted = await self.db.write(delete)
        self.on_subscriptions_changed()
        if not deleted:
            raise _subscription_not_found(request.subscription_id)
        return svc.DeleteSubscriptionResponse()

    async def RotateSubscriptionSecret(
        self, request: svc.RotateSubscriptionSecretRequest, context: grpc.aio.ServicerContext
    ) -> svc.RotateSubscriptionSecretResponse:
        _required(request.subscription_id, "subscription_id")
        now = self.clock()
        secret = subscriptions.new_secret()
        own = scope.subscription_hotline(auth.current())

        def rotate(c: Connection) -> Any:
            if not _managed(c, request.subscription_id, own):
                return None
            return subscription_store.rotate_secret(
                c,
                subscription_id=request.subscription_id,
                secret=secret,
                now=now,
                grace_until=now + self.secret_grace,
            )

        row = await self.db.write(rotate)
        self.on_subscriptions_changed()
        if row is None:
            raise _subscription_not_found(request.subscription_id)
        return svc.RotateSubscriptionSecretResponse(
            subscription=subscriptions.to_proto(row, with_secret=True)
        )


def _load_delivery(
    conn: Connection, delivery_id: str, within: scope.DeliveryScope | None = None
) -> res.Delivery | None:
    row = store.get_delivery(conn, delivery_id=delivery_id)
    if row is None:
        return None
    if within is not None and not within.covers(
        row, store.case_channel(conn, case_id=row.case_id) if within.case_channel else None
    ):
        return None
    return domain.delivery_to_proto(row, store.get_attempts(conn, delivery_id=delivery_id))


def _managed(conn: Connection, subscription_id: str, hotline: int) -> bool:
    """Whether the caller manages this subscription (0: every hotline's)."""
    if not hotline:
        return True
    row = subscription_store.get_subscription(conn, subscription_id=subscription_id)
    return row is not None and row.hotline == hotline


def _delivery_not_found(delivery_id: str) -> NotFound:
    return NotFound(f"delivery {delivery_id} not found", metadata={"delivery_id": delivery_id})


def _subscription_not_found(subscription_id: str) -> NotFound:
    return NotFound(
        f"subscription {subscription_id} not found",
        metadata={"subscription_id": subscription_id},
    )
