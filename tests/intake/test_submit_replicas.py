"""The same submission to two intake replicas on one PostgreSQL database at the same
moment: one case, and both answer it — never INTERNAL.

Both look the reference up, find nothing and insert; the unique index makes the later
insert wait for the earlier commit and then refuses it. The refused replica must answer
as if it had come second (the case, or ALREADY_EXISTS when the content differs)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from lianxin.intake.v1 import intake_service_pb2 as svc
from lianxin.intake.v1 import resources_pb2 as res
from tests.intake.test_watch_replicas import replica
from tests.postgres import PostgresServer

PAIRS = 12


def submission(ref: str, description: str = "家中电灯一直闪个不停") -> svc.SubmitCaseRequest:
    return svc.SubmitCaseRequest(
        channel=res.CHANNEL_MAYOR_HOTLINE,
        external_ref=ref,
        reporter=res.Reporter(name="张胜起", phone="13806325566"),
        location=res.Location(address="辛庄社区3号楼"),
        category="household_electrical",
        description=description,
    )


async def test_twins_sent_to_two_replicas_at_once_make_one_case_and_no_error(
    tmp_path: Path, nats_url: str, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database("submit_replicas")
    async with AsyncExitStack() as stack:
        _, a = await replica(stack, tmp_path, "a", nats_url, url)
        _, b = await replica(stack, tmp_path, "b", nats_url, url)
        for i in range(PAIRS):  # one pair at a time: each replica's writer group is of one
            first, second = await asyncio.gather(
                a.SubmitCase(submission(f"twin-{i}")), b.SubmitCase(submission(f"twin-{i}"))
            )
            assert first.case.id == second.case.id
            assert sorted([first.created, second.created]) == [False, True]
        # Twins whose texts differ: one case; the other replica says ALREADY_EXISTS.
        outcomes = await asyncio.gather(
            a.SubmitCase(submission("twin-x", "灯不亮")),
            b.SubmitCase(submission("twin-x", "灯一直闪")),
            return_exceptions=True,
        )
        errors = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        made = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(made) == 1 and made[0].created, outcomes
        assert [e.code() for e in errors] == [grpc.StatusCode.ALREADY_EXISTS], outcomes
        listed = await a.ListCases(svc.ListCasesRequest(page_size=100))
        assert len(listed.cases) == PAIRS + 1
