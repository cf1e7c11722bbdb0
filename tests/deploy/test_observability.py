"""The Grafana dashboard and docs/operations.md name exactly the metrics the services export."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from deploy.chart_check import VALUES_SETS, load_documents, render
from tests.deploy.workspace import ROOT, workspace_services

DASHBOARD = ROOT / "deploy" / "grafana" / "trackstream.json"
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\btrackstream_[a-z0-9_]+")
SUFFIX = re.compile(r"_(total|bucket|sum|count|created)$")


def exported_metrics() -> set[str]:
    """Every trackstream_* metric family registered once the services' code is loaded."""
    for service in workspace_services():
        importlib.import_module(f"{service.name}.bootstrap")
    return {m.name for m in REGISTRY.collect() if m.name.startswith("trackstream_")}


def family(name: str) -> str:
    return SUFFIX.sub("", name)


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_services_export_metrics() -> None:
    metrics = exported_metrics()
    assert {"trackstream_events_published", "trackstream_ingest_connections"} <= metrics


def test_the_dashboard_queries_only_exported_metrics_and_all_of_them() -> None:
    metrics = exported_metrics()
    queried = {family(n) for expr in dashboard_expressions() for n in METRIC.findall(expr)}
    assert queried - metrics == set(), "the dashboard queries metrics no service exports"
    assert metrics - queried == set(), "exported metrics without a dashboard panel"


def test_the_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for expr in dashboard_expressions():
        for variable in re.findall(r"\$(\w+)", expr):
            assert variable in variables | {"__rate_interval"}, variable


def test_operations_guide_lists_every_metric() -> None:
    documented = {family(n) for n in METRIC.findall(OPERATIONS.read_text())}
    missing = exported_metrics() - documented
    assert missing == set(), f"docs/operations.md does not describe {sorted(missing)}"


def test_the_alert_rules_watch_exported_metrics(helm: Path) -> None:
    objects = load_documents(render(helm, VALUES_SETS["production"]))
    (rule,) = [o for o in objects if o["kind"] == "PrometheusRule"]
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert len(alerts) >= 4
    metrics = exported_metrics()
    for alert in alerts:
        used = {family(n) for n in METRIC.findall(alert["expr"])}
        assert used and used <= metrics, alert["alert"]
        assert 'namespace="trackstream"' in alert["expr"], alert["alert"]
        assert alert["labels"]["severity"] in {"warning", "critical"}
