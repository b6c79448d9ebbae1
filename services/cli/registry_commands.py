"""`lianxin` commands of the registry area (filled in by the registry work)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def register(
    sub: argparse._SubParsersAction, target: Callable[[argparse.Namespace, str], str]
) -> None:
    """Add this area's subcommands to `sub`; `target(args, service)` gives a service address."""
