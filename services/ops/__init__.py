"""What ops run Lianxin with: Prometheus config and runner, alert rules, dashboards."""
