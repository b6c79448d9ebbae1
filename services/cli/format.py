"""Text output for the CLI."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from lianxin.intake.v1 import resources_pb2 as intake_res
from lianxin.notify.v1 import resources_pb2 as notify_res
from lianxin.routing.v1 import resources_pb2 as routing_res


def _local(ts: object) -> str:
    if not getattr(ts, "seconds", 0):
        return "-"
    return ts.ToDatetime().astimezone().strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]


def status_name(status: int) -> str:
    return routing_res.CaseStatus.Name(status).removeprefix("CASE_STATUS_")


def case_table(c: intake_res.Case, *, timeline: bool = False) -> str:
    lines = [
        f"  case      {c.id}",
        f"  channel   {intake_res.Channel.Name(c.channel).removeprefix('CHANNEL_').lower()}"
        f"  ref {c.external_ref}",
        f"  reporter  {c.reporter.name} {c.reporter.phone}".rstrip(),
        f"  where     {c.location.address} "
        f"({c.location.point.latitude:.5f}, {c.location.point.longitude:.5f})",
        f"  category  {c.category}",
        f"  says      {c.description}",
        f"  status    {status_name(c.status)}"
        + (f"  at {c.assigned_unit_name} ({c.assigned_unit_code})" if c.assigned_unit_code else "")
        + (f"  deadline {_local(c.deadline_time)}" if c.deadline_time.seconds else ""),
    ]
    if c.filing_error:
        lines.append(f"  problem   {c.filing_error}")
    if c.result:
        lines.append(f"  result    {c.result}")
    if timeline:
        lines.append("  timeline")
        for t in c.timeline:
            lines.append(
                f"    {_local(t.time)}  {status_name(t.status):<12} {t.unit_name:<10} {t.note}"
            )
    return "\n".join(lines)


def deliveries_table(deliveries: Iterable[notify_res.Delivery]) -> str:
    rows = [f"{'time':<20}{'event':<18}{'to':<26}{'via':<10}{'status':<8}{'text'}"]
    for d in deliveries:
        who = f"{d.recipient.kind}:{d.recipient.name or d.recipient.id}"
        rows.append(
            f"{_local(d.create_time):<20}{d.event_type.removeprefix('case.'):<18}{who:<26}"
            f"{notify_res.DeliveryChannel.Name(d.channel).removeprefix('DELIVERY_CHANNEL_').lower():<10}"
            f"{notify_res.DeliveryStatus.Name(d.status).removeprefix('DELIVERY_STATUS_').lower():<8}"
            f"{d.body}"
        )
    return "\n".join(rows)


def describe_error(err: grpc.RpcError) -> str:
    """An RPC error as a person reads it: code, message, and each field violation."""
    code = err.code().name if hasattr(err, "code") else "ERROR"  # type: ignore[union-attr]
    text = err.details() if hasattr(err, "details") else str(err)  # type: ignore[union-attr]
    lines = [f"error: {code}: {text}"]
    status = rpc_status.from_call(err) if isinstance(err, grpc.Call) else None
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)
