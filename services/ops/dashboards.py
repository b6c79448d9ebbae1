"""The Grafana dashboards, as code: the one source of `deploy/dashboards/*.json`
(`python -m services.ops write` regenerates them; a test fails when they are stale, and
the live-Prometheus test evaluates every panel's query against the running system).

Three dashboards: "Command centre" (the article's numbers, live), "Service health" (RED
per service and RPC) and "Event bus" (NATS consumers, outbox, deliveries). Each has the
template variables `datasource`, `namespace` and `street`; `namespace` matches series
without the label too (embedded mode), so the same JSON serves a laptop and a cluster.
"""

from __future__ import annotations

from services.ops.grafana import (
    NS,
    RANGE,
    RATE,
    SERVER_ERROR_CODES,
    ST,
    Dashboard,
    Panel,
    q,
    quantiles,
    ratio,
    render_all,
)

__all__ = ["DASHBOARDS", "SERVER_ERROR_CODES", "panel_queries", "render"]

COMMAND_CENTRE = Dashboard(
    uid="lianxin-command-centre",
    title="Lianxin · Command centre",
    description="The district's cases as the command centres count them: in, open, overdue, "
    "closed, on time, satisfied; escalations and supervision; time to dispatch and close.",
    rows=(
        (
            "Cases in",
            (
                Panel(
                    "Cases in by channel",
                    (
                        q(
                            "sum by (channel) (rate(lianxin_intake_cases_submitted_total"
                            f"{{{NS}}}[{RATE}]))",
                            "{{channel}}",
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Cases in by category (range)",
                    (
                        q(
                            "sum by (category) (increase(lianxin_intake_cases_submitted_total"
                            f"{{{NS}}}[{RANGE}]))",
                            "{{category}}",
                        ),
                    ),
                    kind="bargauge",
                ),
            ),
        ),
        (
            "Open and overdue",
            (
                Panel(
                    "Open cases by street and level",
                    (
                        q(
                            f"max by (street, level) (lianxin_routing_open_cases{{{NS}, {ST}}})",
                            "{{street}} {{level}}",
                        ),
                    ),
                    description="Cases not closed, explained or merged, counted in routing's "
                    "database (every replica reports the same numbers: max, not sum).",
                ),
                Panel(
                    "Overdue open cases by street",
                    (
                        q(
                            "sum by (street) (max by (street, level) "
                            "(lianxin_routing_overdue_open_cases"
                            f"{{{NS}, {ST}}}))",
                            "{{street}}",
                        ),
                    ),
                ),
                Panel(
                    "Under supervision (督办) by street",
                    (
                        q(
                            "max by (street) (lianxin_routing_supervised_open_cases"
                            f"{{{NS}, {ST}}})",
                            "{{street}}",
                        ),
                    ),
                ),
                Panel(
                    "SLA breaches by street (range)",
                    (
                        q(
                            "sum by (street) (increase(lianxin_routing_overdue_total"
                            f"{{{NS}, {ST}}}[{RANGE}]))",
                            "{{street}}",
                        ),
                    ),
                    kind="bargauge",
                ),
            ),
        ),
        (
            "Rates (the article's table)",
            (
                Panel(
                    "Closure rate (closed ÷ collected)",
                    (
                        q(
                            ratio(
                                "sum(increase(lianxin_routing_transitions_total"
                                f'{{{NS}, transition="closed"}}[{RANGE}]))',
                                "sum(increase(lianxin_intake_cases_submitted_total"
                                f"{{{NS}}}[{RANGE}]))",
                            )
                        ),
                    ),
                    kind="stat",
                    unit="percentunit",
                    width=8,
                ),
                Panel(
                    "On-time rate (1 − breaches ÷ dispatched)",
                    (
                        q(
                            "1 - "
                            + ratio(
                                f"sum(increase(lianxin_routing_overdue_total{{{NS}}}[{RANGE}]))",
                                "sum(increase(lianxin_routing_transitions_total"
                                f'{{{NS}, transition="dispatched"}}[{RANGE}]))',
                            )
                        ),
                    ),
                    kind="stat",
                    unit="percentunit",
                    width=8,
                ),
                Panel(
                    "Satisfaction rate (满意 + 基本满意 ÷ rated)",
                    (
                        q(
                            ratio(
                                "sum(increase(lianxin_routing_ratings_total"
                                f'{{{NS}, rating=~"satisfied|basically_satisfied"}}[{RANGE}]))',
                                f"sum(increase(lianxin_routing_ratings_total{{{NS}}}[{RANGE}]))",
                            )
                        ),
                    ),
                    kind="stat",
                    unit="percentunit",
                    width=8,
                ),
                Panel(
                    "Ratings (range)",
                    (
                        q(
                            "sum by (rating) (increase(lianxin_routing_ratings_total"
                            f"{{{NS}}}[{RANGE}]))",
                            "{{rating}}",
                        ),
                    ),
                    kind="bargauge",
                ),
                Panel(
                    "Reopened and reworked (range)",
                    (
                        q(
                            "sum by (transition) (increase(lianxin_routing_transitions_total"
                            f'{{{NS}, transition=~"reopened|reworked"}}[{RANGE}]))',
                            "{{transition}}",
                        ),
                    ),
                    kind="bargauge",
                ),
            ),
        ),
        (
            "Escalation, work per level, times",
            (
                Panel(
                    "Escalations by street and level (range)",
                    (
                        q(
                            "sum by (street, level) (increase(lianxin_routing_escalations_total"
                            f"{{{NS}, {ST}}}[{RANGE}]))",
                            "{{street}} → {{level}}",
                        ),
                    ),
                    kind="bargauge",
                ),
                Panel(
                    "Reminders (催办) by street (range)",
                    (
                        q(
                            "sum by (street) (increase(lianxin_routing_reminders_total"
                            f"{{{NS}, {ST}}}[{RANGE}]))",
                            "{{street}}",
                        ),
                    ),
                    kind="bargauge",
                ),
                Panel(
                    "Work per level (steps/s)",
                    (
                        q(
                            "sum by (level) (rate(lianxin_routing_transitions_total"
                            f'{{{NS}, level!="none"}}[{RATE}]))',
                            "{{level}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Filing failures by reason (range)",
                    (
                        q(
                            "sum by (reason) (increase(lianxin_routing_filing_failures_total"
                            f"{{{NS}}}[{RANGE}]))",
                            "{{reason}}",
                        ),
                    ),
                    kind="bargauge",
                ),
                Panel(
                    "Time to dispatch by level",
                    quantiles("lianxin_routing_time_to_dispatch_seconds", "level", NS, 0.5, 0.9),
                    unit="s",
                ),
                Panel(
                    "Time to close by level",
                    quantiles("lianxin_routing_time_to_close_seconds", "level", NS, 0.5, 0.9),
                    unit="s",
                ),
            ),
        ),
    ),
)

SERVICE_HEALTH = Dashboard(
    uid="lianxin-service-health",
    title="Lianxin · Service health",
    description="RED per service and RPC, latency percentiles, errors by code, open streams, "
    "calls between services, the database writer, background loops.",
    rows=(
        (
            "Requests",
            (
                Panel(
                    "Requests by service and method",
                    (
                        q(
                            "sum by (grpc_service, grpc_method) "
                            f"(rate(lianxin_grpc_server_handled_total{{{NS}}}[{RATE}]))",
                            "{{grpc_service}}/{{grpc_method}}",
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Server error ratio by service",
                    (
                        q(
                            "sum by (grpc_service) (rate(lianxin_grpc_server_handled_total"
                            f'{{{NS}, grpc_code=~"{SERVER_ERROR_CODES}"}}[{RATE}])) / '
                            "clamp_min(sum by (grpc_service) (rate("
                            f"lianxin_grpc_server_handled_total{{{NS}}}[{RATE}])), 1e-9)",
                            "{{grpc_service}}",
                        ),
                    ),
                    unit="percentunit",
                    description="Only codes that mean the server failed; a caller's "
                    "INVALID_ARGUMENT or NOT_FOUND is not an error of the service.",
                ),
                Panel(
                    "Answers by code (not OK)",
                    (
                        q(
                            "sum by (grpc_service, grpc_code) (rate("
                            f'lianxin_grpc_server_handled_total{{{NS}, grpc_code!="OK"}}[{RATE}]))',
                            "{{grpc_service}} {{grpc_code}}",
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Latency by service",
                    quantiles(
                        "lianxin_grpc_server_handling_seconds", "grpc_service", NS, 0.5, 0.99
                    ),
                    unit="s",
                ),
                Panel(
                    "Open streams (WatchCases)",
                    (
                        q(
                            f"sum by (grpc_method) (lianxin_grpc_server_streams_active{{{NS}}})",
                            "{{grpc_method}}",
                        ),
                    ),
                ),
                Panel(
                    "Targets up",
                    (q(f'up{{{NS}, job=~".*lianxin.*"}}', "{{job}} {{instance}}"),),
                    kind="stat",
                ),
            ),
        ),
        (
            "Calls to other services",
            (
                Panel(
                    "Client calls by method and code",
                    (
                        q(
                            "sum by (grpc_service, grpc_method, grpc_code) (rate("
                            f"lianxin_grpc_client_handled_total{{{NS}}}[{RATE}]))",
                            "{{grpc_service}}/{{grpc_method}} {{grpc_code}}",
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Client latency",
                    quantiles("lianxin_grpc_client_handling_seconds", "grpc_service", NS, 0.99),
                    unit="s",
                ),
            ),
        ),
        (
            "Database and loops",
            (
                Panel(
                    "Commit time (p99) by service",
                    quantiles("lianxin_db_commit_seconds", "lianxin_service", NS, 0.99),
                    unit="s",
                ),
                Panel(
                    "Writer queue by service",
                    (
                        q(
                            f"max by (lianxin_service) (lianxin_db_writer_queue_jobs{{{NS}}})",
                            "{{lianxin_service}}",
                        ),
                    ),
                ),
                Panel(
                    "Background loops running",
                    (
                        q(
                            "min by (lianxin_service, loop) (lianxin_background_loop_running"
                            f"{{{NS}}})",
                            "{{lianxin_service}} {{loop}}",
                        ),
                    ),
                    description="1 while a loop (relay, consumer, scheduler, sender) runs.",
                ),
                Panel(
                    "Since the last successful round (scheduler heartbeat)",
                    (
                        q(
                            "time() - max by (lianxin_service, loop) "
                            f"(lianxin_background_loop_last_success_timestamp_seconds{{{NS}}})",
                            "{{lianxin_service}} {{loop}}",
                        ),
                    ),
                    unit="s",
                ),
                Panel(
                    "Builds running",
                    (
                        q(
                            f"count by (lianxin_service, version) (lianxin_build_info{{{NS}}})",
                            "{{lianxin_service}} {{version}}",
                        ),
                    ),
                    kind="table",
                ),
            ),
        ),
    ),
)

EVENT_BUS = Dashboard(
    uid="lianxin-event-bus",
    title="Lianxin · Event bus",
    description="JetStream consumers (lag, ack pending, redeliveries), NATS's own numbers "
    "(connections, messages, JetStream storage), the outboxes (backlog, age of the oldest "
    "event, publish failures) and notify's deliveries.",
    rows=(
        (
            "Consumers",
            (
                Panel(
                    "Consumer lag (not yet delivered)",
                    (
                        q(
                            f"max by (consumer) (lianxin_nats_consumer_pending_messages{{{NS}}})",
                            "{{consumer}}",
                        ),
                    ),
                ),
                Panel(
                    "Ack pending",
                    (
                        q(
                            "max by (consumer) (lianxin_nats_consumer_ack_pending_messages"
                            f"{{{NS}}})",
                            "{{consumer}}",
                        ),
                    ),
                ),
                Panel(
                    "Redelivered, not yet acked",
                    (
                        q(
                            "max by (consumer) (lianxin_nats_consumer_redelivered_messages"
                            f"{{{NS}}})",
                            "{{consumer}}",
                        ),
                    ),
                ),
                Panel(
                    "Events handled by outcome",
                    (
                        q(
                            "sum by (consumer, outcome) (rate(lianxin_events_consumed_total"
                            f"{{{NS}}}[{RATE}]))",
                            "{{consumer}} {{outcome}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Background loop restarts (range)",
                    (
                        q(
                            "sum by (lianxin_service, loop) (increase("
                            f"lianxin_background_loop_restarts_total{{{NS}}}[{RANGE}]))",
                            "{{lianxin_service}} {{loop}}",
                        ),
                    ),
                    kind="bargauge",
                ),
            ),
        ),
        (
            "NATS (the server's own numbers)",
            (
                Panel(
                    "NATS connections and slow consumers",
                    (
                        q(f"sum(nats_varz_connections{{{NS}}})", "connections"),
                        q(f"sum(nats_varz_slow_consumers{{{NS}}})", "slow consumers"),
                    ),
                    description="From nats-server's /varz, through the exporter (embedded: "
                    "`lianxin up`'s, job nats; cluster: the official chart's sidecar).",
                ),
                Panel(
                    "NATS messages in and out",
                    (
                        q(f"sum(rate(nats_varz_in_msgs{{{NS}}}[{RATE}]))", "in"),
                        q(f"sum(rate(nats_varz_out_msgs{{{NS}}}[{RATE}]))", "out"),
                    ),
                    unit="ops",
                ),
                Panel(
                    "JetStream storage and memory used",
                    (
                        q(f"sum(nats_varz_jetstream_stats_storage{{{NS}}})", "storage"),
                        q(f"sum(nats_varz_jetstream_stats_memory{{{NS}}})", "memory"),
                    ),
                    unit="bytes",
                ),
                Panel(
                    "JetStream pending per consumer (the server's view)",
                    (
                        q(
                            "max by (stream_name, consumer_name) (nats_consumer_num_pending"
                            f"{{{NS}}})",
                            "{{stream_name}} {{consumer_name}}",
                        ),
                    ),
                    description="Every replica of a consumer reports the same: max.",
                ),
            ),
        ),
        (
            "Outboxes",
            (
                Panel(
                    "Outbox backlog",
                    (
                        q(
                            f"max by (lianxin_service) (lianxin_outbox_backlog{{{NS}}})",
                            "{{lianxin_service}}",
                        ),
                    ),
                ),
                Panel(
                    "Age of the oldest unpublished event",
                    (
                        q(
                            f"max by (lianxin_service) (lianxin_outbox_oldest_age_seconds{{{NS}}})",
                            "{{lianxin_service}}",
                        ),
                    ),
                    unit="s",
                ),
                Panel(
                    "Events published",
                    (
                        q(
                            "sum by (lianxin_service) (rate(lianxin_events_published_total"
                            f"{{{NS}}}[{RATE}]))",
                            "{{lianxin_service}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Relay publish failures",
                    (
                        q(
                            "sum by (lianxin_service) (rate("
                            f"lianxin_relay_publish_failures_total{{{NS}}}[{RATE}]))",
                            "{{lianxin_service}}",
                        ),
                    ),
                    unit="ops",
                ),
            ),
        ),
        (
            "Deliveries",
            (
                Panel(
                    "Deliveries by channel and status",
                    (
                        q(
                            "sum by (channel, status) (rate(lianxin_notify_deliveries_total"
                            f"{{{NS}}}[{RATE}]))",
                            "{{channel}} {{status}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Failed attempts by channel and reason",
                    (
                        q(
                            "sum by (channel, reason) (rate("
                            f"lianxin_notify_delivery_failures_total{{{NS}}}[{RATE}]))",
                            "{{channel}} {{reason}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Delivery latency (p90) by channel",
                    quantiles("lianxin_notify_delivery_latency_seconds", "channel", NS, 0.9),
                    unit="s",
                ),
                Panel(
                    "Dead letters by channel (range)",
                    (
                        q(
                            "sum by (channel) (increase(lianxin_notify_deliveries_total"
                            f'{{{NS}, status="dead"}}[{RANGE}]))',
                            "{{channel}}",
                        ),
                    ),
                    kind="bargauge",
                ),
            ),
        ),
    ),
)

DASHBOARDS = (COMMAND_CENTRE, SERVICE_HEALTH, EVENT_BUS)


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return render_all(DASHBOARDS)


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expr) of every panel query."""
    return [
        (d.title, p.title, t.expr)
        for d in DASHBOARDS
        for _, row in d.rows
        for p in row
        for t in p.queries
    ]
