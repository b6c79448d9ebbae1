"""The alert rules, as code: the one source of `deploy/prometheus/lianxin-rules.yaml`
(`python -m services.ops write`). Each alert has a summary, a description and a section
in `docs/runbook.md` (its anchor is the alert's name in lower case).

`rules(fast=True)` is the same set with the waiting times and thresholds shrunk, for the
live test that provokes faults in seconds instead of minutes; expressions and names are
the same. `promtool test rules` checks the real thresholds (deploy/prometheus/tests/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from services.ops.dashboards import SERVER_ERROR_CODES

RUNBOOK = "docs/runbook.md"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str  # may use {threshold}
    threshold: float
    fast_threshold: float
    wait: str  # the `for:` duration
    severity: str
    summary: str
    description: str


ALERTS = (
    Alert(
        "LianxinHighErrorRatio",
        "sum by (grpc_service) (rate(lianxin_grpc_server_handled_total"
        f'{{{{grpc_code=~"{SERVER_ERROR_CODES}"}}}}[5m])) / sum by (grpc_service) '
        "(rate(lianxin_grpc_server_handled_total[5m])) > {threshold}",
        0.05,
        0.05,
        "10m",
        "critical",
        "{{ $labels.grpc_service }}: {{ $value | humanizePercentage }} of RPCs fail",
        "More than 5% of the RPCs of {{ $labels.grpc_service }} ended with a code that means "
        "the server failed (UNKNOWN, INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, …) for 10 "
        "minutes. Callers' mistakes (INVALID_ARGUMENT, NOT_FOUND) do not count.",
    ),
    Alert(
        "LianxinHighLatency",
        "histogram_quantile(0.99, sum by (le, grpc_service) "
        "(rate(lianxin_grpc_server_handling_seconds_bucket[5m]))) > {threshold}",
        1.0,
        1.0,
        "15m",
        "warning",
        "{{ $labels.grpc_service }}: p99 latency {{ $value | humanizeDuration }}",
        "The 99th percentile of RPC handling time of {{ $labels.grpc_service }} has been "
        "above 1 s for 15 minutes (streams excluded: WatchCases is long by design).",
    ),
    Alert(
        "LianxinOutboxBacklog",
        "max by (lianxin_service) (lianxin_outbox_backlog) > {threshold}",
        1000,
        0,
        "10m",
        "warning",
        "{{ $labels.lianxin_service }}: {{ $value }} events wait in the outbox",
        "The outbox of {{ $labels.lianxin_service }} has held more than 1000 unpublished "
        "events for 10 minutes: the relay cannot keep up or cannot publish.",
    ),
    Alert(
        "LianxinOutboxStale",
        "max by (lianxin_service) (lianxin_outbox_oldest_age_seconds) > {threshold}",
        120,
        3,
        "2m",
        "critical",
        "{{ $labels.lianxin_service }}: oldest unpublished event is "
        "{{ $value | humanizeDuration }} old",
        "An event of {{ $labels.lianxin_service }} has waited in the outbox for more than "
        "2 minutes: NATS is most likely unreachable. Nothing is lost (the outbox keeps it), "
        "but the case does not move on until it is published.",
    ),
    Alert(
        "LianxinConsumerLag",
        "max by (consumer) (lianxin_nats_consumer_pending_messages) > {threshold}",
        500,
        500,
        "10m",
        "warning",
        "consumer {{ $labels.consumer }} is {{ $value }} events behind",
        "The durable consumer {{ $labels.consumer }} has had more than 500 events not yet "
        "delivered for 10 minutes.",
    ),
    Alert(
        "LianxinConsumerRedeliveries",
        "max by (consumer) (lianxin_nats_consumer_redelivered_messages) > {threshold}",
        20,
        20,
        "10m",
        "warning",
        "consumer {{ $labels.consumer }}: {{ $value }} events redelivered and not acked",
        "Events given to {{ $labels.consumer }} keep coming back unacknowledged: its "
        "handler fails or a dependency is down.",
    ),
    Alert(
        "LianxinSchedulerStalled",
        "time() - max by (lianxin_service) (lianxin_background_loop_last_success_timestamp_"
        'seconds{{loop="scheduler"}}) > {threshold}',
        300,
        300,
        "5m",
        "critical",
        "{{ $labels.lianxin_service }}: the SLA scheduler last ran "
        "{{ $value | humanizeDuration }} ago",
        "routing's SLA scheduler (reminders, overdue flags, automatic escalation) has not "
        "completed a round for more than 5 minutes: deadlines pass unnoticed.",
    ),
    Alert(
        "LianxinBackgroundLoopDown",
        "min by (lianxin_service, loop) (lianxin_background_loop_running) < {threshold}",
        1,
        1,
        "5m",
        "critical",
        "{{ $labels.lianxin_service }}: background loop {{ $labels.loop }} is not running",
        "A supervised background loop (relay, consumer, scheduler, sender) of "
        "{{ $labels.lianxin_service }} has been stopped for 5 minutes.",
    ),
    Alert(
        "LianxinNatsDown",
        "max(lianxin_nats_exporter_up) < {threshold} or absent(nats_varz_connections)",
        1,
        1,
        "2m",
        "critical",
        "NATS does not answer: no server's numbers reach Prometheus",
        "For 2 minutes no NATS server's numbers have reached Prometheus: the embedded "
        "exporter cannot read nats-server's monitoring port (lianxin_nats_exporter_up is "
        "0), or no exporter reports nats_varz_* at all. Services keep taking requests (the "
        "outboxes hold the events) but nothing moves between them until NATS is back.",
    ),
    Alert(
        "LianxinDeliveriesFailing",
        "sum by (channel) (increase(lianxin_notify_delivery_failures_total[10m])) > {threshold}",
        10,
        0,
        "5m",
        "warning",
        "{{ $labels.channel }} deliveries fail ({{ $value | humanize }} in 10 minutes)",
        "Attempts to deliver over {{ $labels.channel }} keep failing (the reason class is "
        "in lianxin_notify_delivery_failures_total): the SMS gateway or a webhook is down "
        "or refuses. Deliveries are retried with back-off until their budget ends.",
    ),
    Alert(
        "LianxinDeadLetters",
        'sum by (channel) (increase(lianxin_notify_deliveries_total{{status="dead"}}[1h])) '
        "> {threshold}",
        0,
        0,
        "0m",
        "warning",
        "{{ $value | humanize }} {{ $labels.channel }} deliveries given up in the last hour",
        "Deliveries over {{ $labels.channel }} went DEAD (retry budget spent or a permanent "
        "error): someone was not told. Retry them with `lianxin deliveries retry ID`.",
    ),
    Alert(
        "LianxinOverdueGrowing",
        "sum by (street) (increase(lianxin_routing_overdue_total[1h])) > {threshold}",
        10,
        10,
        "15m",
        "warning",
        "street {{ $labels.street }}: {{ $value | humanize }} cases went overdue in an hour",
        "More than 10 cases of street {{ $labels.street }} passed their deadline in the last "
        "hour: the units there are overloaded or a category is routed wrongly.",
    ),
    Alert(
        "LianxinServiceDown",
        'up{{job=~".*lianxin.*"}} < {threshold}',
        1,
        1,
        "2m",
        "critical",
        "{{ $labels.job }} ({{ $labels.instance }}) is down",
        "Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }}: the process "
        "is not running or not reachable.",
    ),
)


def rules(*, fast: bool = False) -> dict[str, Any]:
    out = []
    for a in ALERTS:
        threshold = a.fast_threshold if fast else a.threshold
        out.append(
            {
                "alert": a.name,
                "expr": a.expr.format(threshold=f"{threshold:g}"),
                "for": "0s" if fast else a.wait,
                "labels": {"severity": a.severity},
                "annotations": {
                    "summary": a.summary,
                    "description": a.description,
                    "runbook_url": f"{RUNBOOK}#{a.name.lower()}",
                },
            }
        )
    return {"groups": [{"name": "lianxin", "rules": out}]}


def render(*, fast: bool = False) -> str:
    header = (
        "# Generated by `python -m services.ops write` from services/ops/alerts.py: edit there.\n"
    )
    return header + yaml.safe_dump(rules(fast=fast), sort_keys=False, allow_unicode=True, width=100)
