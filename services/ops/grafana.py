"""A small builder for Grafana dashboards (JSON model, schema 39) over Prometheus: the
shapes `services/ops/dashboards.py` declares its panels in, and their rendering."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NS = 'namespace=~"$namespace"'
ST = 'street=~"$street"'
RATE = "$__rate_interval"
RANGE = "$__range"
SERVER_ERROR_CODES = "UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries, stat, bargauge, table
    unit: str = "short"
    description: str = ""
    width: int = 12


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[Panel, ...]], ...]
    tags: tuple[str, ...] = field(default=("lianxin",))


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def quantiles(metric: str, by: str, selector: str, *qs: float) -> tuple[Query, ...]:
    return tuple(
        q(
            f"histogram_quantile({p}, sum by (le, {by}) "
            f"(rate({metric}_bucket{{{selector}}}[{RATE}])))",
            f"p{round(p * 100)} {{{{{by}}}}}",
        )
        for p in qs
    )


def ratio(num: str, den: str) -> str:
    return f"({num}) / clamp_min({den}, 1)"


def _variables() -> list[dict[str, Any]]:
    ds = {"type": "prometheus", "uid": "${datasource}"}

    def label_var(name: str, query: str, label: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": ds,
            "query": {"query": query, "refId": name},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "refresh": 1,
        },
        label_var("namespace", "label_values(lianxin_build_info, namespace)", "Namespace"),
        label_var("street", "label_values(lianxin_routing_open_cases, street)", "Street"),
    ]


def to_grafana(d: Dashboard) -> dict[str, Any]:
    """The Grafana JSON model of a dashboard (schema 39, Grafana 10/11)."""
    panels: list[dict[str, Any]] = []
    y = 0
    pid = 1
    for row_title, row in d.rows:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        pid += 1
        y += 1
        x = 0
        for p in row:
            if x + p.width > 24:
                x, y = 0, y + 8
            panel: dict[str, Any] = {
                "id": pid,
                "type": p.kind,
                "title": p.title,
                "description": p.description,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"x": x, "y": y, "w": p.width, "h": 8},
                "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
                "options": {},
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "datasource": {"type": "prometheus", "uid": "${datasource}"},
                        "expr": t.expr,
                        "legendFormat": t.legend or "__auto",
                        "range": p.kind == "timeseries",
                        "instant": p.kind != "timeseries",
                    }
                    for i, t in enumerate(p.queries)
                ],
            }
            panels.append(panel)
            pid += 1
            x += p.width
        y += 8
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": list(d.tags),
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "panels": panels,
    }


def render_all(dashboards: tuple[Dashboard, ...]) -> dict[str, str]:
    """File name (uid without `lianxin-`) → JSON text of each dashboard."""
    return {
        f"{d.uid.removeprefix('lianxin-')}.json": json.dumps(
            to_grafana(d), ensure_ascii=False, indent=2
        )
        + "\n"
        for d in dashboards
    }
