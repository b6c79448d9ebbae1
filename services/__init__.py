"""Lianxin services: intake, registry, routing, notify, and the shared runtime in `common`."""
