"""`lianxin` commands that run a service, as a container does.

lianxin serve SERVICE      one service in the foreground, settings from LIANXIN_<SERVICE>_*
lianxin migrate SERVICE    upgrade its database schema to the newest revision (idempotent)

`serve` is the image's command in a Kubernetes Deployment; `migrate` is the chart's
pre-install/pre-upgrade hook Job. Both read the same settings (env vars), so the Job
migrates exactly the database the Deployment will use.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

SERVICES = ("intake", "registry", "routing", "notify", "open311")
SETTINGS_CLASSES = {
    "intake": "IntakeSettings",
    "registry": "RegistrySettings",
    "routing": "RoutingSettings",
    "notify": "NotifySettings",
    "open311": "Open311Settings",
}

Target = Callable[[argparse.Namespace, str], str]


def register(sub: argparse._SubParsersAction, target: Target) -> None:
    """Add `serve` and `migrate` to `sub` (they need no target)."""
    del target
    p = sub.add_parser("serve", help="run one service in the foreground (settings from env)")
    p.add_argument("service", choices=SERVICES)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("migrate", help="upgrade a service's database to the newest schema")
    p.add_argument("service", choices=SERVICES)
    p.set_defaults(func=cmd_migrate)


def load_settings(service: str) -> Any:
    """The service's settings object from its env vars; exits with the fields on error."""
    config = importlib.import_module(f"services.{service}.config")
    cls = getattr(config, SETTINGS_CLASSES[service])
    try:
        return cls()
    except ValidationError as err:
        prefix = cls.model_config.get("env_prefix", "")
        lines = [f"{service}: invalid settings:"]
        for e in err.errors():
            name = prefix + "_".join(str(p) for p in e["loc"]).upper()
            lines.append(f"  {name}: {e['msg']}")
        raise SystemExit("\n".join(lines)) from None


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.service)
    app = importlib.import_module(f"services.{args.service}.app")
    asyncio.run(app.serve(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.common.db import migrate, schema_revisions

    settings = load_settings(args.service)
    store = importlib.import_module(f"services.{args.service}.store")
    migrations: Path = store.MIGRATIONS
    url = settings.sqlalchemy_url(args.service)
    before, head = schema_revisions(url, migrations) if _exists(url) else ((), None)
    migrate(url, migrations)
    after, head = schema_revisions(url, migrations)
    was = ", ".join(before) or "empty"
    now = ", ".join(after)
    verb = "already at" if tuple(before) == tuple(after) else f"migrated from {was} to"
    print(f"{args.service}: database {verb} {now} (head {head})", flush=True)
    return 0


def _exists(url: str) -> bool:
    """False for a SQLite file not made yet (reading it would create it as a side effect)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database).exists()
    return True
