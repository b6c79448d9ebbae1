"""The shared runtime every Lianxin service stands on: settings, database, bus, server."""
