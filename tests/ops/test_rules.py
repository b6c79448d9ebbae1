"""The alert rules and dashboards: generated files are fresh, promtool accepts the rules
and their unit tests (one per alert) pass, every alert has a runbook section."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services.ops import alerts, dashboards, prometheus
from services.ops.prometheus import REPO

PROMTOOL = prometheus.find_binary("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason=prometheus.MISSING)


def test_generated_dashboards_and_rules_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.ops", "check"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(prometheus.RULES_FILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts.ALERTS)} rules found" in done.stdout


@needs_promtool
def test_promtool_unit_tests_of_every_alert_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tests = REPO / "deploy" / "prometheus" / "tests" / "lianxin-rules.test.yaml"
    done = subprocess.run(
        [PROMTOOL, "test", "rules", tests.name], cwd=tests.parent, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = tests.read_text(encoding="utf-8")
    untested = [a.name for a in alerts.ALERTS if f"alertname: {a.name}\n" not in text]
    assert not untested, untested


@needs_promtool
def test_the_fast_rules_of_the_live_test_are_valid_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fast = tmp_path / "fast.yaml"
    fast.write_text(alerts.render(fast=True), encoding="utf-8")
    done = subprocess.run([PROMTOOL, "check", "rules", str(fast)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_summary_a_description_and_a_runbook_section() -> None:
    runbook = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    for rule in alerts.rules()["groups"][0]["rules"]:
        ann = rule["annotations"]
        assert ann["summary"] and ann["description"], rule["alert"]
        anchor = ann["runbook_url"].partition("#")[2]
        assert f"\n## {anchor}\n" in runbook, rule["alert"]


def test_dashboards_have_the_template_variables_and_use_no_target_labels_as_ours() -> None:
    for name, text in dashboards.render().items():
        board = json.loads(text)
        variables = {v["name"] for v in board["templating"]["list"]}
        assert {"datasource", "namespace", "street"} <= variables, name
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert 'namespace=~"$namespace"' in target["expr"], (name, panel["title"])
                assert "service=" not in target["expr"].replace("lianxin_service=", "")
