"""How deliveries leave notify: the `Channel` interface, its four implementations, and the
`Sender` loop that sends what the event handler recorded.

| channel   | how                                                                        |
|-----------|----------------------------------------------------------------------------|
| FileSink  | one JSON line per delivery in a local file (the embedded default)          |
| SmsGateway| HTTP POST {"id", "to", "text"} as JSON, Bearer or Basic auth; 2xx = taken  |
| AppPush   | a JSON message on core NATS subject `lianxin.push.staff.<staff id>`        |
| Webhook   | HTTP POST of JSON, HMAC-signed (see `webhooks`), to the subscription's URL |

A channel raises on failure: `PermanentError` (e.g. HTTP 400, a deleted subscription)
makes the delivery DEAD at once; anything else is retried with back-off.

Deliveries are recorded inside the event's transaction (so each exists once); they are
sent afterwards, by the sender, so a slow or broken channel never holds an event up. The
sender is at-least-once: a crash between the send and the status update sends that
delivery again after the restart; every channel carries the delivery id so the receiver
can drop the repeat.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from sqlalchemy import Connection

from lianxin.events.v1 import event_pb2
from lianxin.notify.v1 import resources_pb2 as res
from services.common import bus
from services.common.bus import wait_any
from services.common.db import Database
from services.common.pii import mask_phone
from services.common.timeutil import aware, utcnow
from services.notify import domain, metrics, store, webhooks

log = logging.getLogger(__name__)

SOURCE = "lianxin/notify"
PUSH_SUBJECT_PREFIX = "lianxin.push.staff."

Clock = Callable[[], datetime]


class PermanentError(Exception):
    """Trying again cannot help (bad number, gone subscription): the delivery goes DEAD."""


class Channel(Protocol):
    """A way to deliver a message. `name` is the channel's label, e.g. "file", "sms"."""

    name: str

    async def send(self, delivery: domain.Outgoing) -> None:
        """Hand the message over; raise when it could not be."""
        ...


# --- file --------------------------------------------------------------------------------


class FileSink:
    """The embedded channel: one JSON line per delivery, appended to a file.

    Phones are masked in the line; the file is for people watching a local system, not
    a gateway, and must not become a second copy of personal data.
    """

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, delivery: domain.Outgoing) -> None:
        r = delivery.recipient
        record: dict[str, Any] = {
            "id": delivery.id,
            "time": utcnow().isoformat(),
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "case_id": delivery.case_id,
            "recipient": {"kind": r.kind, "id": r.id, "name": r.name, "address": r.masked_address},
            "channel": self.name,
            "template_version": delivery.template_version,
            "body": delivery.body,
        }
        if delivery.data:
            record["data"] = delivery.data
        line = json.dumps(record, ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


# --- HTTP --------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A POST that is redirected is a misconfiguration, not something to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post_sync(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(4096)
    except urllib.error.HTTPError as exc:
        detail = domain.mask_phones(exc.read(300).decode("utf-8", "replace").strip())
        message = f"HTTP {exc.code} from {_origin(url)}" + (f": {detail}" if detail else "")
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise ConnectionError(message) from None
        raise PermanentError(message) from None
    except urllib.error.URLError as exc:
        raise ConnectionError(f"{_origin(url)}: {exc.reason}") from None


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL: enough to name it in an error; no credentials, path
    or query (they may hold tokens)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


async def post_json(
    url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float
) -> None:
    """POST JSON; returns on 2xx. 408/425/429/5xx and network errors raise ConnectionError
    (retried), other statuses PermanentError."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    await post_bytes(url, body, headers, timeout)


async def post_bytes(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    all_headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    await asyncio.to_thread(_post_sync, url, body, all_headers, timeout)


# --- SMS ---------------------------------------------------------------------------------


class SmsGateway:
    """SMS through the district's HTTP gateway.

    Protocol: `POST <url>` with `Authorization: Bearer <token>` (or Basic) and the JSON
    `{"id": "<delivery id>", "to": "<mobile number>", "text": "<message>"}`. Any 2xx means
    the gateway took the message; `id` lets it drop a repeat. The per-number rate limit is
    kept by the sender (it is durable there: counted from the deliveries table).
    """

    name = "sms"

    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.headers: dict[str, str] = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif username:
            basic = base64.b64encode(f"{username}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {basic}"

    async def send(self, delivery: domain.Outgoing) -> None:
        to = delivery.recipient.address
        if not to:
            raise PermanentError("recipient has no phone number")
        payload = {"id": delivery.id, "to": to, "text": delivery.body}
        await post_json(self.url, payload, self.headers, self.timeout)
        log.debug("sms %s to %s taken by the gateway", delivery.id, mask_phone(to))


# --- app push ----------------------------------------------------------------------------


def push_subject(staff_id: str) -> str:
    """The core NATS subject a staff member's app listens on."""
    return PUSH_SUBJECT_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", staff_id)


class AppPush:
    """App push: a JSON message on core NATS (not JetStream), `lianxin.push.staff.<id>`.

    A flush after the publish makes sure the server has it; the app's own connection
    gets it from there. The message carries the delivery id for dedupe.
    """

    name = "app_push"

    def __init__(self, nc: NATS, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.timeout = timeout

    async def send(self, delivery: domain.Outgoing) -> None:
        if delivery.recipient.kind != domain.STAFF:
            raise PermanentError("app push goes to staff only")
        message = {
            "id": delivery.id,
            "event_type": delivery.event_type,
            "case_id": delivery.case_id,
            "title": "连心网",
            "text": delivery.body,
        }
        await self.nc.publish(
            push_subject(delivery.recipient.id), json.dumps(message, ensure_ascii=False).encode()
        )
        await self.nc.flush(timeout=self.timeout)


# --- webhooks ----------------------------------------------------------------------------


class WebhookChannel:
    """Signed webhooks to hotline systems, through their subscriptions.

    The subscription is read at send time: a rotated secret signs pending deliveries too
    (with the previous secret alongside during its grace period), and a deleted
    subscription makes its undelivered webhooks DEAD.
    """

    name = "webhook"

    def __init__(
        self,
        db: Database,
        *,
        timeout: float = 10.0,
        clock: Clock = utcnow,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.timeout = timeout
        self.clock = clock
        self.wall = wall

    async def send(self, delivery: domain.Outgoing) -> None:
        sub_id = delivery.recipient.subscription_id
        sub = await self.db.read(lambda c: store.get_subscription(c, subscription_id=sub_id))
        if sub is None:
            raise PermanentError(f"subscription {sub_id or '-'} was deleted")
        if not sub.webhook_url:
            raise PermanentError(f"subscription {sub_id} has no webhook URL")
        secrets = [sub.secret]
        until = sub.previous_secret_until
        if sub.previous_secret and until is not None and aware(until) > self.clock():
            secrets.append(sub.previous_secret)
        payload = {
            "id": delivery.id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "case_id": delivery.case_id,
            "hotline": delivery.recipient.id,
            "subscription_id": sub_id,
            "text": delivery.body,
            "template_version": delivery.template_version,
            "case": delivery.data,
        }
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = webhooks.sign(
            body, delivery_id=delivery.id, secrets=secrets, timestamp=int(self.wall())
        )
        await post_bytes(sub.webhook_url, body, headers, self.timeout)


# --- the sender --------------------------------------------------------------------------


class Sender:
    """Sends due deliveries (PENDING, or FAILED whose back-off has passed) and records the
    outcome: SENT, FAILED with the error and the next attempt (exponential back-off with
    full jitter), or DEAD — the dead letter, with its reason — after the retry budget or a
    permanent error. Non-urgent SMS wait out the quiet hours and SMS keep to the
    per-number rate limit; both postpone a delivery without counting an attempt. Each SENT
    and DEAD is published as `notify.delivered` / `notify.dead` through the outbox."""

    def __init__(
        self,
        *,
        db: Database,
        channels: Mapping[int, Channel],
        batch: int = 100,
        poll_seconds: float = 1.0,
        max_attempts: int | None = None,
        retry: domain.RetryPolicy | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        quiet: tuple[dt_time, dt_time] | None = None,
        sms_limit: int = 0,
        sms_window: timedelta = timedelta(hours=1),
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.batch = batch
        self.poll_seconds = poll_seconds
        retry = retry or domain.RetryPolicy()
        if max_attempts is not None:
            retry = domain.RetryPolicy(max_attempts, retry.base_seconds, retry.max_seconds)
        self.retry = retry
        self.clock = clock
        self.rng = rng or random.Random()
        self.quiet = quiet
        self.sms_limit = sms_limit
        self.sms_window = sms_window
        self.on_recorded = on_recorded
        self._wake = asyncio.Event()

    @property
    def available(self) -> frozenset[int]:
        return frozenset(self.channels)

    def kick(self) -> None:
        """Something new was recorded (called after the event's commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                done = await self.send_due()
            except Exception as exc:
                log.warning("notify sender: round failed (%s); will retry", exc)
                done = 0
            if done >= self.batch:
                continue
            await wait_any(self._wake, stop, timeout=self.poll_seconds)

    async def send_due(self) -> int:
        """One round: take up to `batch` due deliveries; returns how many were taken."""
        now = self.clock()
        rows = await self.db.read(lambda c: store.due_deliveries(c, now=now, limit=self.batch))
        if not rows:
            return 0
        later: dict[str, datetime] = {}
        for r in rows:
            at = domain.not_before(now, channel=r.channel, urgent=bool(r.urgent), quiet=self.quiet)
            if at > now:
                later[r.id] = at
        sms = [r for r in rows if r.channel == res.DELIVERY_CHANNEL_SMS and r.id not in later]
        if sms and self.sms_limit > 0:
            addresses = sorted({r.address for r in sms})
            since = now - self.sms_window
            sent = await self.db.read(
                lambda c: store.sms_sent_since(c, addresses=addresses, since=since)
            )
            later.update(
                domain.rate_limited(
                    sms, sent, limit=self.sms_limit, window=self.sms_window, now=now
                )
            )
        go = [r for r in rows if r.id not in later]
        outcomes = await asyncio.gather(*(self._attempt(r) for r in go))
        results = await self.db.write(lambda conn: self._record(conn, go, outcomes, later))
        metrics.record_attempts(go, outcomes, self.clock())
        for row, (status, recorded) in zip(go, results, strict=True):
            if recorded:
                metrics.DELIVERIES.labels(
                    domain.channel_label(row.channel), domain.status_label(status)
                ).inc()
        if go and self.on_recorded is not None:
            self.on_recorded()
        return len(rows)

    async def _attempt(self, row: Any) -> tuple[str | None, bool]:
        """(None, _) when sent, else (the error, whether it is permanent)."""
        channel = self.channels.get(row.channel)
        if channel is None:
            return f"no {domain.channel_label(row.channel)} channel is configured", True
        try:
            await channel.send(domain.outgoing(row))
        except PermanentError as exc:
            error, permanent = str(exc), True
        except Exception as exc:
            error, permanent = f"{type(exc).__name__}: {exc}", False
        else:
            return None, False
        error = domain.mask_phones(error)
        log.warning(
            "delivery %s to %s over %s failed: %s",
            row.id,
            domain.mask_address(row.recipient_kind, row.address),
            channel.name,
            error,
        )
        return error, permanent

    def _record(
        self,
        conn: Connection,
        rows: list[Any],
        outcomes: list[tuple[str | None, bool]],
        later: dict[str, datetime],
    ) -> list[tuple[int, bool]]:
        now = self.clock()
        for delivery_id, at in later.items():
            store.postpone(conn, delivery_id=delivery_id, until=at)
        out: list[tuple[int, bool]] = []
        events: list[bus.Staged] = []
        for row, (error, permanent) in zip(rows, outcomes, strict=True):
            if error is None:
                ok = store.mark_sent(conn, delivery_id=row.id, now=now)
                out.append((res.DELIVERY_STATUS_SENT, ok))
                if ok:
                    events.append(self._result(conn, "notify.delivered", row.id))
                continue
            attempts = row.attempts + 1
            dead = permanent or self.retry.exhausted(attempts - row.retry_base)
            retry_at = domain.not_before(
                now + self.retry.delay(attempts - row.retry_base, self.rng),
                channel=row.channel,
                urgent=bool(row.urgent),
                quiet=self.quiet,
            )
            ok = store.mark_failed(
                conn,
                delivery_id=row.id,
                error=error,
                next_attempt_at=retry_at,
                dead=dead,
                now=now,
            )
            out.append((res.DELIVERY_STATUS_DEAD if dead else res.DELIVERY_STATUS_FAILED, ok))
            if ok and dead:
                events.append(self._result(conn, "notify.dead", row.id))
        bus.stage(conn, store.outbox, events)
        return out

    @staticmethod
    def _result(conn: Connection, event_type: str, delivery_id: str) -> bus.Staged:
        row = store.get_delivery(conn, delivery_id=delivery_id)
        event = bus.new_event(
            event_type,
            source=SOURCE,
            case_id=row.case_id,
            delivery_result=event_pb2.DeliveryResult(delivery=domain.delivery_to_proto(row)),
        )
        return bus.Staged(event, None)
