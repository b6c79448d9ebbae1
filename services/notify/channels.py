"""How deliveries leave notify: the `Channel` interface and its four implementations (the
`Sender` loop that sends what the event handler recorded is in `sender`).

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
delivery again after the restart (only the ones in flight at that moment); every channel
carries the delivery id — over HTTP also as the `Idempotency-Key` header — so the receiver
can drop the repeat.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from nats.aio.client import Client as NATS

from services.common.db import Database
from services.common.pii import mask_phone
from services.common.timeutil import aware, utcnow
from services.notify import audiences, subscription_store, webhooks

log = logging.getLogger(__name__)

SOURCE = "lianxin/notify"
PUSH_SUBJECT_PREFIX = "lianxin.push.staff."
# The header every HTTP delivery carries: the delivery id, the same on every attempt, so a
# receiver drops a repeat (the IETF httpapi draft's name, as Stripe and others use it).
IDEMPOTENCY_KEY = "Idempotency-Key"

Clock = Callable[[], datetime]


class PermanentError(Exception):
    """Trying again cannot help (bad number, gone subscription): the delivery goes DEAD."""


class Channel(Protocol):
    """A way to deliver a message. `name` is the channel's label, e.g. "file", "sms"."""

    name: str

    async def send(self, delivery: audiences.Outgoing) -> None:
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

    async def send(self, delivery: audiences.Outgoing) -> None:
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
        detail = audiences.mask_phones(exc.read(300).decode("utf-8", "replace").strip())
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

    async def send(self, delivery: audiences.Outgoing) -> None:
        to = delivery.recipient.address
        if not to:
            raise PermanentError("recipient has no phone number")
        payload = {"id": delivery.id, "to": to, "text": delivery.body}
        headers = {**self.headers, IDEMPOTENCY_KEY: delivery.id}
        await post_json(self.url, payload, headers, self.timeout)
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

    async def send(self, delivery: audiences.Outgoing) -> None:
        if delivery.recipient.kind != audiences.STAFF:
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

    async def send(self, delivery: audiences.Outgoing) -> None:
        sub_id = delivery.recipient.subscription_id
        sub = await self.db.read(
            lambda c: subscription_store.get_subscription(c, subscription_id=sub_id)
        )
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
        headers[IDEMPOTENCY_KEY] = delivery.id
        await post_bytes(sub.webhook_url, body, headers, self.timeout)
