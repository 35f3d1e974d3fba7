"""The Grafana dashboard and the Prometheus rules under deploy/ parse, and name only metrics
the service exports (promtool checks the rules too when it is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
EXPORTED = {
    "crisis_triage_messages_ingested_total",
    "crisis_triage_scoring_seconds_bucket",
    "crisis_triage_scoring_seconds_count",
    "crisis_triage_scoring_seconds_sum",
    "crisis_triage_alerts_sent_total",
    "crisis_triage_alerts_failed_total",
    "crisis_triage_escalations_total",
    "crisis_triage_queue_depth",
    "crisis_triage_oldest_waiting_crisis_seconds",
    "crisis_triage_unscored_waiting",
    "crisis_triage_flag_rate_24h",
    "crisis_triage_queue_snapshot_up",
}
_NAME = re.compile(r"\bcrisis_triage_[a-z0-9_]+")


def _rules() -> list[dict[str, str]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_alert_rules_parse_and_use_exported_metrics() -> None:
    rules = _rules()
    alerts = {rule["alert"] for rule in rules if "alert" in rule}
    assert {"CrisisWaitingUnacknowledged", "AlertDeliveriesFailing"} <= alerts
    for rule in rules:
        assert set(_NAME.findall(rule["expr"])) <= EXPORTED, rule["expr"]


def test_the_dashboard_parses_and_uses_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "crisis-triage-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in _NAME.findall(expr)}
    assert used == EXPORTED - {
        "crisis_triage_scoring_seconds_count",
        "crisis_triage_scoring_seconds_sum",
        "crisis_triage_queue_snapshot_up",
    }
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    folder = DEPLOY / "prometheus"
    for args in (
        ["check", "rules", "alerts.yml"],
        ["check", "config", "--syntax-only", "prometheus.yml"],
    ):
        done = subprocess.run(
            ["promtool", *args], cwd=folder, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
