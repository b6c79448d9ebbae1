"""`lianxin audit verify`: check registry's personal-data access log, a hash chain
(services/registry/accesslog.py), straight from the database — not through the running
service, which is what it checks.

    lianxin audit verify [--database-url URL] [--data-dir DIR] [--expect-head HASH]

Exit 0 with "OK: N rows, head <hash>"; 1 with the first broken row and what is wrong; 2
when the database cannot be read (missing, not migrated).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

Target = Any


def register(sub: argparse._SubParsersAction, target: Target) -> None:
    del target
    audit = sub.add_parser("audit", help="the personal-data access log").add_subparsers(
        dest="audit_command", required=True
    )
    p = audit.add_parser("verify", help="verify the access log's hash chain, row by row")
    p.add_argument(
        "--database-url",
        default="",
        help="registry's database (default: LIANXIN_REGISTRY_DATABASE_URL, else "
        "<data dir>/registry.db)",
    )
    p.add_argument("--data-dir", default=None, help="the embedded data dir (.lianxin)")
    p.add_argument(
        "--expect-head",
        default="",
        help="a head hash printed by an earlier verify: the log must still contain it",
    )
    p.set_defaults(func=cmd_verify)


def _url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    from services.registry.config import RegistrySettings

    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = Path(args.data_dir)
    return RegistrySettings(**overrides).sqlalchemy_url("registry")


def cmd_verify(args: argparse.Namespace) -> int:
    from services.registry import accesslog

    url = _url(args)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not path.is_file():
            print(f"no registry database at {path}", file=sys.stderr)
            return 2
        # Read-only: verifying never changes the file it checks.
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if "access_log_head" not in tables:
                print(
                    f"{parsed.render_as_string(hide_password=True)} has no hash-chained access "
                    "log: run `lianxin migrate registry`",
                    file=sys.stderr,
                )
                return 2
            verdict = accesslog.verify(conn, expect_head=args.expect_head)
    finally:
        engine.dispose()
    if verdict.ok:
        print(f"OK: {verdict.rows} rows, head {verdict.head_hash}")
        return 0
    print(
        f"BROKEN at row {verdict.broken_id if verdict.broken_id is not None else '-'}: "
        f"{verdict.problem} ({verdict.rows} rows before it are intact, ending at "
        f"{verdict.head_hash})",
        file=sys.stderr,
    )
    return 1
