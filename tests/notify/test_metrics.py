"""A failed delivery is counted by a bounded reason class, never by its text."""

from __future__ import annotations

import pytest

from services.notify.metrics import REASONS, reason_class


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("HTTP 503 from http://gw:8080: gateway overloaded", "http_5xx"),
        ("HTTP 429 from http://gw:8080", "http_4xx"),  # retried, but still the caller's side
        ("HTTP 401 from https://hooks.example", "http_4xx"),
        ("TimeoutError: timed out", "timeout"),
        ("ConnectionError: http://gw:8080: [Errno 111] Connection refused", "connection"),
        ("no sms channel is configured", "no_channel"),
        ("ValueError: something else", "other"),
    ],
)
def test_errors_fall_into_a_few_reason_classes(error: str, reason: str) -> None:
    assert reason_class(error) == reason
    assert reason in REASONS
