"""docs/observability.md names every metric of the contract, every alert, every metrics.* setting and every panel."""

from __future__ import annotations

import yaml

import observability as obs

DOC = (obs.REPO_ROOT / "docs" / "observability.md").read_text()


def leaves(tree, prefix=""):
    out = []
    for k, v in tree.items():
        out += leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
    return out


def test_every_metric_is_described():
    missing = [name for name in obs.CONTRACT if f"`{name}`" not in DOC]
    assert not missing, missing


def test_every_alert_is_described(render):
    [rule] = render(["syncController.enabled=true", "metrics.prometheusRule.enabled=true"]).of_kind("PrometheusRule")
    missing = sorted({a["alert"] for a in obs.alert_rules(rule) if f"`{a['alert']}`" not in DOC})
    assert not missing, missing


def test_every_setting_is_described():
    values = yaml.safe_load((obs.CHART / "values.yaml").read_text())["metrics"]
    keys = ["metrics." + k for k in leaves(values)]
    missing = [k for k in keys if f"`{k}`" not in DOC]
    assert keys and not missing, missing


def test_every_panel_is_listed():
    missing = [p["title"] for p in obs.load_dashboard()["panels"] if p["title"] not in DOC]
    assert not missing, missing
