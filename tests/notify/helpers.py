"""What notify's tests share: events as intake and routing publish them, a fake clock, and a
real local HTTP server that plays the SMS gateway or a hotline system's webhook receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nats.js import JetStreamContext

from lianxin.events.v1 import event_pb2
from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import notify_service_pb2 as svc
from lianxin.notify.v1 import notify_service_pb2_grpc
from lianxin.notify.v1 import resources_pb2 as res
from lianxin.routing.v1 import resources_pb2 as routing_res
from services.common import bus
from services.notify import webhooks
from services.notify.audiences import LOCAL_TZ

GRID = "370402003001001"
COMMUNITY = "370402003001"
STREET = "370402003"
ELECTRICIAN = "staff-xinzhuang-electrician"
ELECTRICIAN_PHONE = "15626924494"
GRID_MANAGER = "staff-hanliyuan"
GRID_MANAGER_PHONE = "18544909739"
STREET_CENTRE = "staff-cc-370402003"  # 孙明亮, command centre of 龙山路街道
CITIZEN_PHONE = "13805381234"
RESULT = "已更换空气开关，恢复供电"
SENT = res.DELIVERY_STATUS_SENT


# --- events ------------------------------------------------------------------------------


def received(case_id: str, channel: int = intake_res.CHANNEL_MAYOR_HOTLINE) -> event_pb2.Event:
    case = intake_res.Case(
        id=case_id,
        channel=channel,
        external_ref=f"12345-{case_id[-6:]}",
        reporter=intake_res.Reporter(name="张胜起", phone=CITIZEN_PHONE),
        location=intake_res.Location(address="辛庄社区3号楼2单元"),
        category="household_electrical",
        description="家里突然断电，老人一个人在家",
        status=routing_res.CASE_STATUS_RECEIVED,
    )
    return bus.new_event(
        "case.received",
        source="lianxin/intake",
        case_id=case_id,
        case_received=event_pb2.CaseReceived(case=case),
    )


STATUS_AFTER = {
    "filed": routing_res.CASE_STATUS_FILED,
    "dispatched": routing_res.CASE_STATUS_DISPATCHED,
    "redispatched": routing_res.CASE_STATUS_DISPATCHED,
    "accepted": routing_res.CASE_STATUS_IN_PROGRESS,
    "resolved": routing_res.CASE_STATUS_RESOLVED,
    "closed": routing_res.CASE_STATUS_CLOSED,
    "explained": routing_res.CASE_STATUS_EXPLAINED,
    "returned": routing_res.CASE_STATUS_RETURNED,
    "merged": routing_res.CASE_STATUS_MERGED,
}


def step(
    case_id: str, name: str, version: int, *, note: str = "", assignee: str = ELECTRICIAN
) -> event_pb2.Event:
    """A routing transition `case.<name>` with the case snapshot after it."""
    transition = routing_res.Transition.Value("TRANSITION_" + name.upper())
    status = STATUS_AFTER.get(name, routing_res.CASE_STATUS_IN_PROGRESS)
    case = routing_res.Case(
        id=case_id,
        status=status,
        level=routing_res.LEVEL_COMMUNITY,
        category="household_electrical",
        grid_code=GRID,
        community_code=COMMUNITY,
        street_code=STREET,
        district_code="370402",
        assigned_unit_code=COMMUNITY,
        assigned_unit_name="辛庄社区",
        assignee_staff_id=assignee,
        result=RESULT if name in ("resolved", "closed") else "",
        version=version,
        overdue=name == "overdue",
        supervised=name == "supervised",
    )
    case.deadline_time.FromDatetime(datetime(2014, 11, 5, 7, 30, tzinfo=UTC))
    entry = routing_res.HistoryEntry(
        sequence=version,
        transition=transition,
        to_status=status,
        actor="system",
        note=note,
        unit_code=COMMUNITY,
    )
    entry.time.GetCurrentTime()
    return bus.new_event(
        f"case.{name}",
        source="lianxin/routing",
        case_id=case_id,
        case_transitioned=event_pb2.CaseTransitioned(entry=entry, case=case),
    )


async def publish(js: JetStreamContext, event: event_pb2.Event, msg_id: str = "") -> None:
    await js.publish(
        bus.SUBJECT_PREFIX + event.type,
        event.SerializeToString(),
        headers={"Nats-Msg-Id": msg_id or event.id},
    )


# --- time --------------------------------------------------------------------------------


class FakeClock:
    """Notify's clock in tests: moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        self.now = when


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the district (UTC+8), as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


# --- a real HTTP server ------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class HttpReceiver:
    """A local HTTP server in a thread: the SMS gateway or a hotline's webhook endpoint.

    `status` is what it answers (change it to make the gateway fail or recover); with a
    `verifier` it checks webhook signatures like a hotline system would and answers 401 to
    a bad signature or a stale timestamp and 409 to a replay. `accepted` holds what it
    took, `rejected` the reasons it refused.
    """

    status: int = 200
    verifier: webhooks.Verifier | None = None
    token: str = ""
    accepted: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                code = receiver._handle(self.path, dict(self.headers.items()), body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests += 1
            if self.token and headers.get("Authorization") != f"Bearer {self.token}":
                self.rejected.append("unauthorized")
                return 401
            if self.status >= 300:
                return self.status
            if self.verifier is not None:
                try:
                    self.verifier.verify(headers, body)
                except webhooks.Replayed:
                    self.rejected.append("replayed")
                    return 409
                except webhooks.VerificationError as exc:
                    self.rejected.append(exc.reason)
                    return 401
            self.accepted.append(Received(path, headers, body))
            return 200

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json for r in self.accepted]


# --- the API -----------------------------------------------------------------------------


async def all_deliveries(
    api: notify_service_pb2_grpc.NotifyServiceStub, **filters: Any
) -> list[res.Delivery]:
    out: list[res.Delivery] = []
    token = ""
    for _ in range(100):
        resp = await api.ListDeliveries(svc.ListDeliveriesRequest(page_token=token, **filters))
        out.extend(resp.deliveries)
        token = resp.next_page_token
        if not token:
            return out
    raise AssertionError("ListDeliveries never ended")


async def wait_until(
    probe: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition"
) -> Any:
    """Poll `probe` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s; last value: {last!r}")
