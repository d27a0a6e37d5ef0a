"""The Grafana dashboard (charts/akvs/dashboards/akvs.json): a well-formed grid, every panel query parsed by promtool
and reading only metrics of the contract (observability.CONTRACT, plus Prometheus's `up`), every contract metric shown
somewhere, and the panels issue 23 asks for."""

from __future__ import annotations

import re
from itertools import combinations
from typing import Dict, List

import pytest

import observability as obs

DASHBOARD = obs.load_dashboard()
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
QUERIES = obs.panel_queries(DASHBOARD)


def test_dashboard_shape():
    assert DASHBOARD["title"] == "akvs" and DASHBOARD["uid"] == "akvs-overview"
    variables = DASHBOARD["templating"]["list"]
    assert [(v["name"], v["type"], v["query"]) for v in variables] == [("datasource", "datasource", "prometheus")], \
        "one variable: the Prometheus data source, so the dashboard works in any Grafana"
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    assert {p["type"] for p in DASHBOARD["panels"]} <= {"row", "stat", "table", "timeseries"}
    for p in PANELS:
        assert p["title"] and p.get("description"), p["id"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], p["title"]
            assert "$" not in t["expr"], (p["title"], "no Grafana variables or macros in queries: they are plain PromQL")


def test_grid_is_24_columns_without_overlaps():
    rects = []
    for p in DASHBOARD["panels"]:
        g = p["gridPos"]
        assert set(g) == {"h", "w", "x", "y"}, p["title"]
        assert 0 <= g["x"] and g["w"] >= 1 and g["x"] + g["w"] <= 24 and g["h"] >= 1 and g["y"] >= 0, p["title"]
        if p["type"] == "row":
            assert (g["x"], g["w"], g["h"]) == (0, 24, 1) and p["panels"] == [] and p["collapsed"] is False, p["title"]
        rects.append((p["title"], g))
    for (a, ga), (b, gb) in combinations(rects, 2):
        apart = (ga["x"] + ga["w"] <= gb["x"] or gb["x"] + gb["w"] <= ga["x"] or
                 ga["y"] + ga["h"] <= gb["y"] or gb["y"] + gb["h"] <= ga["y"])
        assert apart, f"panels {a!r} and {b!r} overlap"
    # Panels are listed top to bottom, left to right (Grafana's own order), each under its row.
    order = [(p["gridPos"]["y"], p["gridPos"]["x"]) for p in DASHBOARD["panels"]]
    assert order == sorted(order)


def test_every_query_parses(promtool_bin, tmp_path):
    path = obs.write_yaml(tmp_path / "dashboard-queries.yaml", obs.recording_rules_for(QUERIES))
    proc = obs.promtool("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(QUERIES)} rules found" in proc.stdout, proc.stdout


@pytest.mark.parametrize("query", QUERIES, ids=[q.key for q in QUERIES])
def test_query_reads_only_the_contract(query):
    assert obs.unknown_uses(query.expr) == []


def test_legends_name_labels_the_query_keeps():
    for p in PANELS:
        for t in p["targets"]:
            wanted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
            assert wanted <= obs.uses(t["expr"]).grouping, (p["title"], t["refId"], wanted - obs.uses(t["expr"]).grouping)


def read_metrics(exprs: List[str]) -> set:
    out = set()
    for e in exprs:
        for name in obs.uses(e).metrics:
            family = obs.family_of(name)
            if family is not None:
                out.add(family.name)
    return out


def test_every_contract_metric_is_shown_or_alerted(render):
    [rule] = render(["syncController.enabled=true", "metrics.prometheusRule.enabled=true"]).of_kind("PrometheusRule")
    shown = read_metrics([q.expr for q in QUERIES])
    alerted = read_metrics([a["expr"] for a in obs.alert_rules(rule)])
    assert set(obs.CONTRACT) - shown == set(), f"on no panel: {sorted(set(obs.CONTRACT) - shown)}"
    assert {"akvs_object_expiry_timestamp_seconds", "akvs_last_attempt_success", "akvs_mount_served_stale_total",
            "akvs_keyvault_responses_total", "akvs_entra_responses_total", "up"} <= alerted


def panel(title: str) -> Dict:
    found = [p for p in PANELS if p["title"] == title]
    assert found, f"no panel {title!r}"
    return found[0]


def test_the_panels_issue_23_asks_for():
    # An expiry table, soonest first.
    table = panel("Objects by expiry, soonest first")
    assert table["type"] == "table"
    assert table["targets"][0]["expr"].startswith("sort(") and "akvs_object_expiry_timestamp_seconds" in table["targets"][0]["expr"]
    assert table["options"]["sortBy"] == [{"displayName": "Time left", "desc": False}]
    assert all(t.get("format") == "table" and t.get("instant") for t in table["targets"])
    # Sync and mount health per namespace.
    for title, kind in (("Failing SecretSyncs per namespace", "SecretSync"), ("Failing mounts per namespace", "SecretProviderClass")):
        expr = panel(title)["targets"][0]["expr"]
        assert "akvs_last_attempt_success" in expr and kind in expr and "namespace" in obs.uses(expr).grouping
    assert "namespace" in obs.uses(panel("Mounts served stale per namespace")["targets"][0]["expr"]).grouping
    # Vault latency and errors by code.
    assert "keyvault_request_bucket" in panel("Key Vault request latency")["targets"][1]["expr"]
    assert obs.uses(panel("Key Vault responses by code")["targets"][0]["expr"]).grouping == {"code"}
    # Rotation and restart activity.
    assert "rotation_reconcile_total" in panel("Rotation reconciles")["targets"][0]["expr"]
    assert "akvs_restarts_total" in panel("Workload restarts by akvs")["targets"][0]["expr"]
    # Each role's CPU and memory.
    for title, metric in (("CPU per pod", "process_cpu_seconds_total"), ("Memory per pod", "process_resident_memory_bytes")):
        expr = panel(title)["targets"][0]["expr"]
        assert metric in expr and {"job", "pod"} <= obs.uses(expr).grouping
        assert all(job in expr for job in obs.JOBS)


def test_rows_in_order():
    rows = [p["title"] for p in DASHBOARD["panels"] if p["type"] == "row"]
    assert rows == ["Expiry", "Sync and mount health", "Key Vault and Entra ID", "Rotation and restarts", "Roles"]


def test_the_reader_of_promql():
    """observability.uses, on the shapes the queries use."""
    u = obs.uses('sum by (vault, code) (rate(akvs_keyvault_responses_total{code!="2xx", vault=~"a|b"}[5m] offset 1h))')
    assert u.metrics == {"akvs_keyvault_responses_total"} and u.grouping == {"vault", "code"}
    assert u.matchers == [("akvs_keyvault_responses_total", "code"), ("akvs_keyvault_responses_total", "vault")]
    u = obs.uses("count(min by (a) (x) - time() < 7 * 86400 >= 0) or vector(0)")
    assert u.metrics == {"x"} and u.grouping == {"a"}
    u = obs.uses("sum(rate(y[5m])) by (job) / on (job) group_left (pod) max without (le) (z_bucket)")
    assert u.metrics == {"y", "z_bucket"} and u.grouping == {"job", "pod", "le"}
    assert obs.unknown_uses("rate(nope_total[5m])") == ["series nope_total is not in the metric contract"]
    assert obs.unknown_uses('akvs_vault_circuit_open{tenant="x"}') == ["akvs_vault_circuit_open has no label tenant"]
    assert obs.unknown_uses("sum by (le) (rate(grpc_request_bucket[5m]))") == []
    assert obs.unknown_uses("sum by (le) (rate(grpc_request_count[5m]))") == ["no series of the expression has the label le it groups by"]
