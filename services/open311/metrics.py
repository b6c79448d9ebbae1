"""The gateway's metrics: RED per route (the route's template, never an id) and requests
submitted, by channel and service code (bounded: enums and the policy's categories)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "lianxin_open311_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "lianxin_open311_http_request_seconds",
    "Time to answer an HTTP request.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS_SUBMITTED = Counter(
    "lianxin_open311_requests_submitted_total",
    "Service requests that created a case (retries not counted), by channel and service.",
    ["channel", "service_code"],
)
