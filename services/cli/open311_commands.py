"""`lianxin open311 …`: the Open311 gateway's API keys, and running the gateway.

    lianxin open311 keys create --name fixmystreet [--channel open311] [--actor …]
    lianxin open311 keys list
    lianxin open311 keys revoke KEY_ID
    lianxin open311 serve            (also: lianxin serve open311)

Keys live in the gateway's own database (`LIANXIN_OPEN311_DATABASE_URL`, else
`<data dir>/open311.db`); the operator runs these next to it, as with a migration. A new
key is printed once: only its hash is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from services.common.db import Database, migrate
from services.common.timeutil import aware
from services.open311 import keys, store
from services.open311.config import Open311Settings


def _settings(args: argparse.Namespace) -> Open311Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Open311Settings(**overrides)


def _database(args: argparse.Namespace) -> Database:
    url = _settings(args).sqlalchemy_url()
    migrate(url, store.MIGRATIONS)
    return Database(url, readers=1)


def cmd_keys_create(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        channel = keys.channel_value(args.channel)
        key, row = db.write_sync(
            lambda conn: keys.create_key(conn, name=args.name, channel=channel, actor=args.actor)
        )
    except keys.KeyProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"key {row['id']} for {row['name']} (channel {args.channel}, actor {row['actor']}):")
    print(key)
    print("Give it to the application now: it is not shown again.")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        rows = db.write_sync(store.list_keys)
    finally:
        db.close()
    print(f"{'id':<12}{'name':<24}{'channel':<20}{'actor':<32}{'created':<27}{'revoked'}")
    for r in rows:
        revoked = aware(r.revoked_at).isoformat(timespec="seconds") if r.revoked_at else ""
        print(
            f"{r.id:<12}{r.name:<24}{keys.channel_name(r.channel):<20}{r.actor:<32}"
            f"{aware(r.created_at).isoformat(timespec='seconds'):<27}{revoked}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        row = db.write_sync(lambda conn: keys.revoke_key(conn, key_id=args.key_id))
    except keys.KeyProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    when = aware(row.revoked_at).isoformat(timespec="seconds")
    print(f"revoked {row.id} ({row.name}) at {when}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from services.open311.app import serve

    asyncio.run(serve(_settings(args)))
    return 0


def register(sub: argparse._SubParsersAction, target: Any) -> None:
    """Add `open311 …` to the CLI."""
    area = sub.add_parser("open311", help="the Open311 gateway: API keys, serve")
    area.add_argument("--data-dir", help="the gateway's data dir (LIANXIN_OPEN311_DATA_DIR)")
    cmds = area.add_subparsers(dest="open311_command", required=True)
    keys_p = cmds.add_parser("keys", help="API keys of client applications").add_subparsers(
        dest="keys_command", required=True
    )
    p = keys_p.add_parser("create", help="a key for one client application (shown once)")
    p.add_argument("--name", required=True, help="the application, e.g. fixmystreet")
    p.add_argument(
        "--channel", default="open311", help="intake channel its cases come in by (open311)"
    )
    p.add_argument("--actor", default="", help="who is calling (default open311:<name>)")
    p.set_defaults(func=cmd_keys_create)
    p = keys_p.add_parser("list", help="every key, revoked ones too (no secrets)")
    p.set_defaults(func=cmd_keys_list)
    p = keys_p.add_parser("revoke", help="revoke a key at once")
    p.add_argument("key_id")
    p.set_defaults(func=cmd_keys_revoke)
    p = cmds.add_parser("serve", help="run the gateway (LIANXIN_OPEN311_* settings)")
    p.set_defaults(func=cmd_serve)
