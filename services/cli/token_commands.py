"""`lianxin token …`: tokens and signing keys of the embedded mode.

    lianxin token issue --kind staff --role operator --unit 370402003 [--scope …] [--ttl 3600]
    lianxin token issue --kind hotline --channel mayor_hotline
    lianxin token issue --kind service --service routing
    lianxin token rotate-key       a new development signing key; the old public key stays
                                   trusted so tokens it signed live until they expire
    lianxin token show TOKEN       the claims of a token (not verified: for reading)

Tokens are signed with the development key under `<data dir>/auth/` (see
services/cli/identity.py). A district's identity provider issues the same claims with
its own keys (README, "Authentication").
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import jwt

from services.cli import identity
from services.common import auth, tokens


def _scopes(args: argparse.Namespace, default: tuple[str, ...]) -> tuple[str, ...]:
    if not args.scope:
        return default
    scopes = tuple(s.strip() for s in args.scope.split(",") if s.strip())
    unknown = sorted(set(scopes) - set(auth.ALL_PERMISSIONS))
    if unknown:
        raise SystemExit(
            f"unknown permission(s) {', '.join(unknown)}; known: {', '.join(auth.ALL_PERMISSIONS)}"
        )
    return scopes


def cmd_issue(args: argparse.Namespace) -> int:
    signer = identity.signer()
    extra = tuple(s for s in (args.add_scope or "").split(",") if s.strip())
    if args.kind == "staff":
        if args.role not in auth.STAFF_ROLES:
            raise SystemExit(f"--role must be one of {', '.join(auth.STAFF_ROLES)}")
        if not args.unit:
            raise SystemExit("--unit is required for a staff token (the unit they act for)")
        scopes = _scopes(args, auth.ROLE_SCOPES[args.role]) + extra
        token = signer.sign(
            args.subject or f"staff-{args.role}-{args.unit}",
            kind="staff",
            role=args.role,
            unit=args.unit,
            scopes=scopes,
            lifetime_seconds=args.ttl,
        )
    elif args.kind == "hotline":
        if not args.channel:
            raise SystemExit("--channel is required for a hotline token, e.g. mayor_hotline")
        channel = "CHANNEL_" + args.channel.upper().removeprefix("CHANNEL_")
        from lianxin.intake.v1 import resources_pb2 as intake_res

        if channel not in intake_res.Channel.keys():  # noqa: SIM118 - an enum wrapper
            names = [n.removeprefix("CHANNEL_").lower() for n in intake_res.Channel.keys()[1:]]
            raise SystemExit(f"unknown channel {args.channel!r}; one of: {', '.join(names)}")
        token = signer.sign(
            args.subject or f"hotline:{channel.removeprefix('CHANNEL_').lower()}",
            kind="hotline",
            channel=channel,
            scopes=_scopes(args, auth.ROLE_SCOPES["hotline"]) + extra,
            lifetime_seconds=args.ttl,
        )
    else:
        if args.service not in auth.SERVICE_SCOPES:
            raise SystemExit(f"--service must be one of {', '.join(auth.SERVICE_SCOPES)}")
        token = signer.sign(
            f"service:{args.service}",
            kind="service",
            scopes=_scopes(args, auth.SERVICE_SCOPES[args.service]) + extra,
            lifetime_seconds=args.ttl,
        )
    print(token)
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    paths = tokens.rotate_dev_key(identity.data_dir(), keep=args.keep)
    keys = json.loads(paths.jwks.read_text(encoding="utf-8"))["keys"]
    print(f"new signing key {keys[-1]['kid']} in {paths.private}; {len(keys)} key(s) trusted")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(args.token)
        claims = jwt.decode(args.token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise SystemExit(f"not a JWT: {exc}") from None
    print(json.dumps({"header": header, "claims": claims}, ensure_ascii=False, indent=2))
    return 0


def register(sub: argparse._SubParsersAction, target: Any) -> None:
    area = sub.add_parser("token", help="issue tokens, rotate the development signing key")
    cmds = area.add_subparsers(dest="token_command", required=True)
    p = cmds.add_parser("issue", help="print a signed token (development key)")
    p.add_argument("--kind", choices=["staff", "hotline", "service"], default="staff")
    p.add_argument("--role", default="operator", help=f"staff: {', '.join(auth.STAFF_ROLES)}")
    p.add_argument("--unit", default="", help="staff: the unit code they act for")
    p.add_argument("--channel", default="", help="hotline: its channel, e.g. mayor_hotline")
    p.add_argument("--service", default="", help=f"service: {', '.join(auth.SERVICE_SCOPES)}")
    p.add_argument("--subject", default="", help="the token's sub (default from kind)")
    p.add_argument("--scope", default="", help="comma-separated permissions (default: role's)")
    p.add_argument("--add-scope", default="", help="permissions added to the defaults")
    p.add_argument("--ttl", type=float, default=3600.0, help="lifetime in seconds")
    p.set_defaults(func=cmd_issue)
    p = cmds.add_parser("rotate-key", help="a new development signing key")
    p.add_argument("--keep", type=int, default=2, help="public keys kept trusted (default 2)")
    p.set_defaults(func=cmd_rotate_key)
    p = cmds.add_parser("show", help="print a token's header and claims (unverified)")
    p.add_argument("token")
    p.set_defaults(func=cmd_show)
