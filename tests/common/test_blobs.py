"""Crash-safe files: attachments and result photos are written only for requests that go
ahead, and the sweep removes files that no row names (a crash between file and row)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import grpc
import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.routing.v1 import routing_service_pb2 as routing_svc
from services.common.blobs import BlobStore, BlobSweeper
from services.intake import store as intake_store
from services.routing import store as routing_store
from tests import callers
from tests.routing.helpers import new_case
from tests.system import running_system, story_submission

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
COMMUNITY_WORKER = callers.as_actor("staff-ga-370402003001")


def files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_refused_requests_write_no_file_and_the_sweep_takes_only_orphans(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_system(tmp_path, nats_url) as system:
        intake, routing = system.hosts["intake"], system.hosts["routing"]
        attachments = intake.settings.data_dir / "attachments"
        photos = routing.settings.data_dir / "photos"

        # intake: a resubmission of the same reference writes nothing new.
        req = story_submission("files-1")
        req.attachments.add(filename="light.png", content_type="image/png", content=PNG)
        await system.intake.SubmitCase(req)
        assert len(files(attachments)) == 1
        again = intake_svc.SubmitCaseRequest()
        again.CopyFrom(req)
        again.attachments[0].content = PNG + b"other bytes"
        # Other content under the same reference is refused (ALREADY_EXISTS), file unwritten.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await system.intake.SubmitCase(again)
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert not (await system.intake.SubmitCase(req)).created  # the same: no new file
        assert len(files(attachments)) == 1

        # routing: a result photo for a case not yet accepted is refused, and not stored.
        case = await new_case(system, "files-2")
        resolve = routing_svc.ResolveCaseRequest(
            case_id=case.id, request_id="files-2-r", result="已修好"
        )
        resolve.photos.add(filename="done.png", content_type="image/png", content=PNG + b"2")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await system.routing.ResolveCase(resolve)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert files(photos) == set()
        # Accepted, the same request goes ahead and its photo is stored.
        await system.routing.AcceptCase(
            routing_svc.AcceptCaseRequest(case_id=case.id, request_id="files-2-a"),
            metadata=COMMUNITY_WORKER,
        )
        await system.routing.ResolveCase(resolve)
        (kept,) = files(photos)

        # A crash between a file and its row leaves an orphan; the sweep removes it once it
        # is older than the grace period, and never a file a row names.
        for root, db, referenced in (
            (photos, routing.db, routing_store.referenced_photos),
            (attachments, intake.db, intake_store.referenced_blobs),
        ):
            blobs = BlobStore(root)
            orphan = blobs.put(PNG + b"orphan").path
            fresh = blobs.put(PNG + b"fresh orphan").path
            for path in root.rglob("*"):
                if path.is_file() and path != fresh:
                    age(path, 7200)
            assert db is not None
            sweeper = BlobSweeper(blobs=blobs, db=db, referenced=referenced, grace=3600)
            assert await sweeper.sweep() == 1
            assert not orphan.exists()
            assert fresh.exists()  # too young: its request may still be under way
        assert kept in files(photos)
        assert len(files(attachments)) == 2  # the case's file and the fresh orphan
