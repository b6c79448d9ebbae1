"""API keys: created, listed and revoked by an operator with `lianxin open311 keys`,
stored hashed, each mapped to the hotline identity its requests come in by."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from lianxin.intake.v1 import intake_service_pb2 as intake_svc
from lianxin.intake.v1 import resources_pb2 as intake_res
from services.cli.main import main
from services.common.db import Database, migrate
from services.open311 import keys, store
from tests.open311.conftest import Setup
from tests.open311.helpers import pii_reader, report, submitted


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_keys_are_created_listed_and_revoked_and_only_their_hash_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["open311", "--data-dir", str(tmp_path)]
    code, out = cli(capsys, *data, "keys", "create", "--name", "fixmystreet")
    assert code == 0, out
    key = re.search(r"^(o311_\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    key_id = key.split("_")[1]
    code, out = cli(
        capsys, *data, "keys", "create", "--name", "12345-bridge", "--channel", "mayor_hotline"
    )
    assert code == 0, out
    code, listing = cli(capsys, *data, "keys", "list")
    assert code == 0
    assert re.search(rf"^{key_id}\s+fixmystreet\s+open311\s+open311:fixmystreet\s", listing, re.M)
    assert re.search(r"12345-bridge\s+mayor_hotline\s+open311:12345-bridge", listing)
    assert key not in listing

    # What is on disk: the hash, never the key.
    raw = (tmp_path / "open311.db").read_bytes()
    assert key.encode() not in raw and key.split("_", 2)[2].encode() not in raw
    with sqlite3.connect(tmp_path / "open311.db") as conn:
        stored = conn.execute(
            "SELECT secret_sha256 FROM api_keys WHERE id = ?", (key_id,)
        ).fetchone()
    assert stored[0] == keys.digest(key)

    url = f"sqlite:///{tmp_path / 'open311.db'}"
    migrate(url, store.MIGRATIONS)
    db = Database(url, readers=1)
    try:
        who = db.write_sync(lambda conn: keys.identify(conn, key))
        assert who == keys.Identity(
            key_id=key_id,
            name="fixmystreet",
            channel=intake_res.CHANNEL_OPEN311,
            actor="open311:fixmystreet",
        )
        wrong = key[:-1] + ("B" if key.endswith("A") else "A")  # one character off
        assert db.write_sync(lambda conn: keys.identify(conn, wrong)) is None
        code, out = cli(capsys, *data, "keys", "revoke", key_id)
        assert code == 0 and f"revoked {key_id}" in out
        assert db.write_sync(lambda conn: keys.identify(conn, key)) is None
    finally:
        db.close()
    code, listing = cli(capsys, *data, "keys", "list")
    assert re.search(rf"^{key_id}\s.*\s20\d\d-\d\d-\d\dT\S+\s+20\d\d-\d\d-\d\dT\S+$", listing, re.M)

    assert cli(capsys, *data, "keys", "revoke", "nosuchkey0")[0] == 1
    code, out = cli(capsys, *data, "keys", "create", "--name", "x", "--channel", "fax")
    assert code == 2 and "unknown channel 'fax'" in out
    code, out = cli(capsys, *data, "keys", "create", "--name", "bad/name")
    assert code == 2 and "name must be" in out


async def test_a_keys_identity_is_the_channel_and_actor_the_case_is_submitted_as(
    o311: Setup,
) -> None:
    key, row = o311.gateway.db.write_sync(
        lambda conn: keys.create_key(
            conn,
            name="12345 bridge",
            channel=intake_res.CHANNEL_MAYOR_HOTLINE,
            actor="hotline:mayor_hotline",
        )
    )
    case_id = await submitted(o311, report(o311, api_key=key, client_reference="T-0042"))
    case = (
        await o311.system.intake.GetCase(
            intake_svc.GetCaseRequest(case_id=case_id), metadata=pii_reader()
        )
    ).case
    assert case.channel == intake_res.CHANNEL_MAYOR_HOTLINE
    assert case.external_ref == f"o311:{row['id']}:T-0042"
    assert case.reporter.name == "张胜起"  # 姓 then 名
    # The gateway calls intake as itself (its service token); the key's identity is the
    # channel and the external reference the case carries.


def test_the_key_store_works_on_sqlite_and_postgresql(
    tmp_path: Path, service_database_url: str
) -> None:
    url = service_database_url or f"sqlite:///{tmp_path / 'open311.db'}"
    migrate(url, store.MIGRATIONS)
    db = Database(url, readers=1)
    try:
        key, row = db.write_sync(lambda conn: keys.create_key(conn, name="app"))
        assert db.write_sync(lambda conn: keys.identify(conn, key)).key_id == row["id"]  # type: ignore[union-attr]
        db.write_sync(
            lambda conn: store.add_media(
                conn, case_id="c1", key_id=row["id"], url="https://a/1.jpg", now=row["created_at"]
            )
        )
        db.write_sync(  # a retry does not change the first URL
            lambda conn: store.add_media(
                conn, case_id="c1", key_id=row["id"], url="https://a/2.jpg", now=row["created_at"]
            )
        )
        media = db.write_sync(lambda conn: store.media_of(conn, case_ids=["c1", "c2"]))
        assert media == {"c1": "https://a/1.jpg"}
        revoked = db.write_sync(lambda conn: keys.revoke_key(conn, key_id=row["id"]))
        assert revoked.revoked_at is not None
        assert db.write_sync(lambda conn: keys.identify(conn, key)) is None
        assert [r.id for r in db.write_sync(store.list_keys)] == [row["id"]]
    finally:
        db.close()
