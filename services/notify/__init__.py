"""notify: tells every party what it must hear about a case, once per event."""
