"""The Open311 GeoReport v2 gateway: HTTP in front of intake and routing."""
