"""The texts notify sends, in Chinese, per event type and audience, each versioned.

An audience is why someone hears about a case: `unit` (the unit that must act), `grid`
(the grid manager, who reported or checks it), `above` (the level above the unit: its
command centre), `citizen`, `hotline` (the hotline system that handed the case over) and
`subscriber` (a hotline system subscribed to the case's area).

Change a text → bump its version: every delivery row stores the version it was rendered
with, so a complaint about a message can be traced to the exact wording. Values come
from `domain.fields()`; an empty value gets its stand-in, so no text reads "…已办结：。".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    text: str
    version: str


def _t(text: str, version: str = "2026.12-1") -> Template:
    return Template(text, version)


# Transition names as the district says them, for the subscribers' generic texts.
TRANSITION_NAMES: dict[str, str] = {
    "case.filed": "已立案",
    "case.filing_failed": "待人工立案",
    "case.dispatched": "已交办",
    "case.accepted": "已受理办理",
    "case.resolved": "已处置",
    "case.closed": "已办结",
    "case.returned": "被退回",
    "case.escalated": "已上报",
    "case.extension_requested": "申请延期",
    "case.extension_approved": "延期已批准",
    "case.extension_refused": "延期未获批准",
    "case.explained": "已解释说明",
    "case.reworked": "返工办理",
    "case.rated": "已回访",
    "case.reopened": "重新办理",
    "case.merged": "已并单",
    "case.reminded": "被催办",
    "case.overdue": "已超时",
    "case.supervised": "被督办",
    "case.redispatched": "已重新派单",
    "case.voided": "已作为无效工单办结",
    "case.transferred": "已转办",
}

_NEW_CASE = "【连心网】新案件{case_id_short}：{category_name}，{address}，请于{deadline}前处理。"

TEMPLATES: dict[tuple[str, str], Template] = {
    # 交办 / 派单: the unit must act; the grid manager follows her grid's case.
    ("case.dispatched", "unit"): _t(_NEW_CASE, "2026.11-1"),
    ("case.dispatched", "grid"): _t(_NEW_CASE, "2026.11-1"),
    ("case.redispatched", "unit"): _t(
        "【连心网】案件{case_id_short}改派贵单位：{category_name}，{address}，"
        "请于{deadline}前处理。"
    ),
    ("case.redispatched", "grid"): _t(
        "【连心网】案件{case_id_short}（{category_name}，{address}）已改派{unit_name}。"
    ),
    ("case.escalated", "unit"): _t(
        "【连心网】上报案件{case_id_short}：{category_name}，{address}，请于{deadline}前处理。"
    ),
    # 处置反馈, 核查结案, 解释说明: the citizen and the hotline hear back.
    ("case.resolved", "citizen"): _t(
        "【连心网】您反映的问题已处理：{result}。我们将尽快核实，如有意见请回复。", "2026.11-1"
    ),
    ("case.resolved", "grid"): _t(
        "【连心网】案件{case_id_short}（{category_name}，{address}）已处置：{result}。请核查。",
        "2026.11-1",
    ),
    ("case.resolved", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）已处置：{result}。待核查后办结。"
    ),
    ("case.closed", "citizen"): _t(
        "【连心网】您反映的问题已办结：{result}。如有意见请回复。", "2026.11-1"
    ),
    ("case.closed", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）已办结：{result}。", "2026.11-1"
    ),
    ("case.voided", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）作为无效工单办结：{result}。"
    ),
    ("case.transferred", "citizen"): _t(
        "【连心网】您反映的{category_name}问题不属本区办理，{result}。"
    ),
    ("case.transferred", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）已转办：{result}。"
    ),
    ("case.explained", "citizen"): _t(
        "【连心网】关于您反映的{category_name}问题：{result}。感谢您的理解和支持。"
    ),
    ("case.explained", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）已解释说明：{result}。"
    ),
    ("case.merged", "citizen"): _t(
        "【连心网】您反映的{category_name}问题已与同一问题并单办理，办结后将告知您结果。"
    ),
    ("case.merged", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）已与同一问题并单办理。"
    ),
    ("case.filing_failed", "hotline"): _t(
        "【连心网】工单{external_ref}（案件{case_id_short}）未能自动定位到网格，已转人工立案。"
    ),
    # 退回, 延期: the level above decides.
    ("case.returned", "above"): _t(
        "【连心网】案件{case_id_short}（{category_name}，{address}）被退回：{note}。请重新派单。"
    ),
    ("case.extension_requested", "above"): _t(
        "【连心网】{unit_name}申请案件{case_id_short}（{category_name}）延期：{note}。请审批。"
    ),
    ("case.extension_approved", "unit"): _t(
        "【连心网】案件{case_id_short}延期已批准，新的办理时限为{deadline}。"
    ),
    ("case.extension_refused", "unit"): _t(
        "【连心网】案件{case_id_short}延期申请未获批准：{note}。请于{deadline}前办结。"
    ),
    # 返工, 重新打开: back to the unit.
    ("case.reworked", "unit"): _t(
        "【连心网】返工：案件{case_id_short}（{category_name}，{address}）核查未通过：{note}。"
        "请于{deadline}前重新处理。"
    ),
    ("case.reopened", "unit"): _t(
        "【连心网】案件{case_id_short}（{category_name}，{address}）因群众不满意重新办理，"
        "请于{deadline}前办结。"
    ),
    # 催办, 超时, 督办.
    ("case.reminded", "unit"): _t(
        "【连心网】催办：案件{case_id_short}（{category_name}，{address}）将于{deadline}到期，"
        "请抓紧办理。"
    ),
    ("case.reminded", "above"): _t(
        "【连心网】催办：{unit_name}的案件{case_id_short}（{category_name}）将于{deadline}到期，"
        "请督促办理。"
    ),
    ("case.overdue", "unit"): _t(
        "【连心网】超时：案件{case_id_short}（{category_name}，{address}）已超过办理时限"
        "{deadline}，请立即办理。"
    ),
    ("case.overdue", "above"): _t(
        "【连心网】超时：{unit_name}的案件{case_id_short}（{category_name}）已超过办理时限"
        "{deadline}，请督办。"
    ),
    ("case.supervised", "unit"): _t(
        "【连心网】督办：案件{case_id_short}（{category_name}，{address}）：{note}。"
        "请于{deadline}前办结。"
    ),
}

# Subscribed hotline systems hear every transition, in one shape per event type.
for _type, _name in TRANSITION_NAMES.items():
    TEMPLATES[(_type, "subscriber")] = _t(
        "【连心网】案件{case_id_short}（{category_name}，{address}）" + _name + "{handled_by}。"
    )

# Stand-ins when a field is unknown.
FALLBACKS: dict[str, str] = {
    "address": "地址见案件详情",
    "category_name": "市民诉求",
    "deadline": "规定时限",
    "result": "已按要求处理",
    "external_ref": "（无编号）",
    "unit_name": "承办单位",
    "note": "详见案件记录",
}


class MissingTemplate(KeyError):
    """No text for this event type and audience."""


def template(event_type: str, audience: str) -> Template:
    try:
        return TEMPLATES[(event_type, audience)]
    except KeyError as exc:
        raise MissingTemplate(f"no template for {event_type} / {audience}") from exc


def render(event_type: str, audience: str, fields: dict[str, str]) -> str:
    """The text for one audience; empty fields get their stand-ins."""
    text = template(event_type, audience).text
    values = {k: (v or FALLBACKS.get(k, "")) for k, v in fields.items()}
    for k, v in FALLBACKS.items():
        values.setdefault(k, v)
    return text.format(**values)
