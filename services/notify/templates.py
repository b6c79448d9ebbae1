"""The texts notify sends, per event type and recipient kind.

Bump TEMPLATE_VERSION whenever a text changes: every delivery row stores the version it
was rendered with, so a complaint about a message can be traced to the exact wording.
"""

from __future__ import annotations

TEMPLATE_VERSION = "2026.11-1"

TEMPLATES: dict[tuple[str, str], str] = {
    ("case.dispatched", "staff"): (
        "【连心网】新案件{case_id_short}：{category_name}，{address}，请于{deadline}前处理。"
    ),
    ("case.resolved", "citizen"): (
        "【连心网】您反映的问题已处理：{result}。我们将尽快核实，如有意见请回复。"
    ),
    ("case.resolved", "staff"): (
        "【连心网】案件{case_id_short}（{category_name}，{address}）已处置：{result}。请核查。"
    ),
    ("case.closed", "citizen"): "【连心网】您反映的问题已办结：{result}。如有意见请回复。",
    ("case.closed", "staff"): (
        "【连心网】案件{case_id_short}（{category_name}，{address}）已结案：{result}。"
    ),
    (
        "case.closed",
        "hotline",
    ): "【连心网】工单{external_ref}（案件{case_id_short}）已办结：{result}。",
}

# Stand-ins when a field is unknown, so no message reads "…已办结：。".
FALLBACKS: dict[str, str] = {
    "address": "地址见案件详情",
    "category_name": "市民诉求",
    "deadline": "规定时限",
    "result": "已按要求处理",
    "external_ref": "（无编号）",
}


class MissingTemplate(KeyError):
    """No text for this event type and recipient kind."""


def render(event_type: str, kind: str, fields: dict[str, str]) -> str:
    """The text for one recipient; empty fields get their stand-ins."""
    try:
        text = TEMPLATES[(event_type, kind)]
    except KeyError as exc:
        raise MissingTemplate(f"no template for {event_type} / {kind}") from exc
    values = {k: (v or FALLBACKS.get(k, "")) for k, v in fields.items()}
    for k, v in FALLBACKS.items():
        values.setdefault(k, v)
    return text.format(**values)
