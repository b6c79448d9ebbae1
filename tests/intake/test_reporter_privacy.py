"""Reporters are personal data: intake shows their name and phone masked unless the caller
holds pii:read and states a purpose, and logs every full read; the event keeps them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import intake_service_pb2_grpc
from services.intake import privacy
from services.intake.app import create_server
from services.intake.config import IntakeSettings
from tests import callers
from tests.conftest import running, settings_for
from tests.intake.callers import caller
from tests.intake.test_submit_case import light_report
from tests.intake.test_watch_cases import take, transition

IntakeStub = intake_service_pb2_grpc.IntakeServiceStub
FULL = ("张胜起", "13806325566")
MASKED = ("张**", "138****5566")
READER = caller("staff-hanliyuan", pii=True, purpose="回访")


@pytest.fixture
async def intake(tmp_path: Path, nats_url: str) -> AsyncIterator[IntakeStub]:
    settings = settings_for(IntakeSettings, tmp_path, nats_url)
    async with (
        running(create_server, settings) as host,
        callers.channel(host.address) as channel,
    ):
        yield IntakeStub(channel)


def reporter(case: object) -> tuple[str, str]:
    r = case.reporter  # type: ignore[attr-defined]
    return r.name, r.phone


def full_reads(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == privacy.FULL_READ]


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        caller("staff-hanliyuan", purpose="回访"),
        caller("staff-hanliyuan", pii=True),
    ],
    ids=["anonymous", "purpose-without-permission", "permission-without-purpose"],
)
async def test_reporters_are_masked_without_permission_and_purpose(
    intake: IntakeStub, metadata: tuple[tuple[str, str], ...], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=privacy.__name__)
    submitted = await intake.SubmitCase(light_report("mask-1"), metadata=metadata)
    assert reporter(submitted.case) == MASKED
    got = await intake.GetCase(svc.GetCaseRequest(case_id=submitted.case.id), metadata=metadata)
    assert reporter(got.case) == MASKED
    listed = await intake.ListCases(svc.ListCasesRequest(), metadata=metadata)
    assert [reporter(c) for c in listed.cases] == [MASKED]
    assert full_reads(caplog) == []


async def test_a_pii_reader_with_a_purpose_sees_reporters_and_each_read_is_logged(
    intake: IntakeStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=privacy.__name__)
    case_id = (await intake.SubmitCase(light_report("full-1"))).case.id
    got = await intake.GetCase(svc.GetCaseRequest(case_id=case_id), metadata=READER)
    assert reporter(got.case) == FULL
    listed = await intake.ListCases(svc.ListCasesRequest(), metadata=READER)
    assert [reporter(c) for c in listed.cases] == [FULL]
    lines = full_reads(caplog)
    assert [(r.grpc_method, r.case_ids) for r in lines] == [  # type: ignore[attr-defined]
        ("GetCase", [case_id]),
        ("ListCases", [case_id]),
    ]
    assert {(r.pii_subject, r.purpose) for r in lines} == {  # type: ignore[attr-defined]
        ("staff-hanliyuan", "callback")  # the purpose's code in the fixed vocabulary
    }


async def test_watch_cases_masks_reporters_unless_the_caller_may_see_them(
    intake: IntakeStub, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=privacy.__name__)
    case_id = (await intake.SubmitCase(light_report("watch-1"))).case.id
    await transition(js, case_id, 1, "accepted")
    masked = intake.WatchCases(svc.WatchCasesRequest())
    full = intake.WatchCases(svc.WatchCasesRequest(), metadata=READER)
    try:
        (m,) = await take(masked, 1)
        (f,) = await take(full, 1)
    finally:
        masked.cancel()
        full.cancel()
    assert (m.case.id, reporter(m.case)) == (case_id, MASKED)
    assert (f.case.id, reporter(f.case)) == (case_id, FULL)
    assert [(r.grpc_method, r.case_ids) for r in full_reads(caplog)] == [  # type: ignore[attr-defined]
        ("WatchCases", [case_id])
    ]
