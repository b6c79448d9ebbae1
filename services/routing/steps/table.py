"""The table: every step RPC of routing, declared once."""

from __future__ import annotations

from lianxin.routing.v1 import resources_pb2 as res
from lianxin.routing.v1 import routing_service_pb2 as svc
from services.routing import final
from services.routing.steps.base import Acting, StepRule, optional, required
from services.routing.steps.checks import (
    check_extension,
    check_file,
    check_final,
    check_rate,
    check_redispatch,
    check_resolve,
    check_supervise,
)
from services.routing.steps.plans import (
    plan_accept,
    plan_approve,
    plan_close,
    plan_escalate,
    plan_explain,
    plan_extension,
    plan_file,
    plan_final,
    plan_rate,
    plan_redispatch,
    plan_refuse,
    plan_resolve,
    plan_return,
    plan_rework,
    plan_supervise,
    prepare_escalate,
    prepare_file,
    prepare_rate,
    prepare_redispatch,
    prepare_resolve,
)

S = res

RULES: dict[str, StepRule] = {
    # The unit's steps.
    "AcceptCase": StepRule(
        S.TRANSITION_ACCEPTED, svc.AcceptCaseResponse, plan_accept, optional("note")
    ),
    "ResolveCase": StepRule(
        S.TRANSITION_RESOLVED,
        svc.ResolveCaseResponse,
        plan_resolve,
        check_resolve,
        acting=Acting.IF_GIVEN,
        prepare=prepare_resolve,
    ),
    "ReturnCase": StepRule(
        S.TRANSITION_RETURNED, svc.ReturnCaseResponse, plan_return, required("reason")
    ),
    "EscalateCase": StepRule(
        S.TRANSITION_ESCALATED,
        svc.EscalateCaseResponse,
        plan_escalate,
        required("reason"),
        prepare=prepare_escalate,
    ),
    "RequestExtension": StepRule(
        S.TRANSITION_EXTENSION_REQUESTED,
        svc.RequestExtensionResponse,
        plan_extension,
        check_extension,
    ),
    "ExplainCase": StepRule(
        S.TRANSITION_EXPLAINED,
        svc.ExplainCaseResponse,
        plan_explain,
        required("explanation", long=True),
    ),
    # The checker's steps.
    "CloseCase": StepRule(S.TRANSITION_CLOSED, svc.CloseCaseResponse, plan_close, optional("note")),
    "ReworkCase": StepRule(
        S.TRANSITION_REWORKED, svc.ReworkCaseResponse, plan_rework, required("reason")
    ),
    "RateCase": StepRule(
        S.TRANSITION_RATED,
        svc.RateCaseResponse,
        plan_rate,
        check_rate,
        prepare=prepare_rate,
        answer=lambda case: {"reopened": case.status != S.CASE_STATUS_CLOSED},
    ),
    # The district platform's steps.
    "VoidCase": StepRule(
        S.TRANSITION_VOIDED,
        svc.VoidCaseResponse,
        plan_final(final.plan_void),
        check_final(final.validate_void),
        acting=Acting.YES,
    ),
    "TransferCase": StepRule(
        S.TRANSITION_TRANSFERRED,
        svc.TransferCaseResponse,
        plan_final(final.plan_transfer),
        check_final(final.validate_transfer),
        acting=Acting.YES,
    ),
    "FileCase": StepRule(
        S.TRANSITION_FILED,
        svc.FileCaseResponse,
        plan_file,
        check_file,
        acting=Acting.YES,
        prepare=prepare_file,
    ),
    # The level above's steps.
    "RedispatchCase": StepRule(
        S.TRANSITION_REDISPATCHED,
        svc.RedispatchCaseResponse,
        plan_redispatch,
        check_redispatch,
        acting=Acting.YES,
        prepare=prepare_redispatch,
    ),
    "ApproveExtension": StepRule(
        S.TRANSITION_EXTENSION_APPROVED,
        svc.ApproveExtensionResponse,
        plan_approve,
        optional("note"),
        acting=Acting.YES,
    ),
    "RefuseExtension": StepRule(
        S.TRANSITION_EXTENSION_REFUSED,
        svc.RefuseExtensionResponse,
        plan_refuse,
        required("reason"),
        acting=Acting.YES,
    ),
    "SuperviseCase": StepRule(
        S.TRANSITION_SUPERVISED,
        svc.SuperviseCaseResponse,
        plan_supervise,
        check_supervise,
        acting=Acting.YES,
    ),
}
