"""The chart's alerts checked by Prometheus's own promtool (Debian's prometheus package, Scripts/install-prometheus.sh):
`promtool check rules` on the rendered PrometheusRule, written out as the rules file the operator gives Prometheus;
`promtool test rules` on prometheus/akvs-alerts.test.yaml, where every alert fires on series shaped as the metric
contract says (with the labels a ServiceMonitor adds), with its labels and annotations, and resolves."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Set, Tuple

import pytest
import yaml

import observability as obs

HERE = Path(__file__).resolve().parent
UNIT_TESTS = HERE / "prometheus" / "akvs-alerts.test.yaml"
RULES = ["syncController.enabled=true", "metrics.prometheusRule.enabled=true"]


def rendered_rule(render, settings=RULES) -> dict:
    [rule] = render(settings).of_kind("PrometheusRule")
    return rule


@pytest.mark.parametrize("settings", [
    RULES,
    ["metrics.prometheusRule.enabled=true"],
    ["csiDriver.enabled=false", "syncController.enabled=true", "metrics.prometheusRule.enabled=true"],
    ["secrets-store-csi-driver.azureProvider.mode=in-process", "metrics.prometheusRule.enabled=true"],
    RULES + ["metrics.prometheusRule.expiryWarningDays=30", "metrics.prometheusRule.expiryCriticalDays=2",
             "metrics.prometheusRule.syncFailingFor=1h30m", "metrics.prometheusRule.mountStaleWindow=90s",
             "metrics.prometheusRule.throttlingFor=20m", "metrics.prometheusRule.identityErrorWindow=2h",
             "metrics.prometheusRule.roleDownFor=30s", "metrics.prometheusRule.alertLabels.team=platform"],
], ids=["both-roles", "csi-role", "sync-role", "one-process", "custom-thresholds"])
def test_promtool_check_rules(render, promtool_bin, tmp_path, settings):
    path = obs.write_yaml(tmp_path / "akvs-rules.yaml", obs.rules_of(rendered_rule(render, settings)))
    proc = obs.promtool("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 8 rules found" in proc.stdout, proc.stdout


def test_promtool_unit_tests(render, promtool_bin, tmp_path):
    obs.write_yaml(tmp_path / "akvs-rules.yaml", obs.rules_of(rendered_rule(render)))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    proc = obs.promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, (proc.stdout + proc.stderr)[-12000:]


def test_the_unit_tests_catch_a_broken_rule(render, promtool_bin, tmp_path):
    """A rule that no longer does what the tests say fails them (here: the warning threshold off by a day)."""
    rules = obs.rules_of(rendered_rule(render))
    for r in rules["groups"][0]["rules"]:
        if r["alert"] == "AkvsObjectExpiring" and r["labels"]["severity"] == "warning":
            r["expr"] = r["expr"].replace("< 7 * 86400", "< 5 * 86400")
    obs.write_yaml(tmp_path / "akvs-rules.yaml", rules)
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    proc = obs.promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]


def unit_tests() -> dict:
    return yaml.safe_load(UNIT_TESTS.read_text())


def alert_keys(rule: dict) -> Set[Tuple[str, str]]:
    return {(a["alert"], a["labels"]["severity"]) for a in obs.alert_rules(rule)}


def test_every_alert_fires_and_resolves_in_the_unit_tests(render):
    """For each alert and severity: a test where it fires for some label set and, later in the same test, no longer."""
    wanted = alert_keys(rendered_rule(render))
    fired: Set[Tuple[str, str]] = set()
    resolved: Set[Tuple[str, str]] = set()
    for test in unit_tests()["tests"]:
        evals = sorted(test.get("alert_rule_test", []), key=lambda e: obs_duration(e["eval_time"]))
        for i, e in enumerate(evals):
            for alert in e.get("exp_alerts") or []:
                labels = alert["exp_labels"]
                key = (e["alertname"], labels["severity"])
                fired.add(key)
                assert set(alert.get("exp_annotations") or {}) == {"summary", "description"}, (key, "annotations are checked too")
                later = [x for x in evals[i + 1:] if x["alertname"] == e["alertname"]]
                if any(labels not in [a["exp_labels"] for a in (x.get("exp_alerts") or [])] for x in later):
                    resolved.add(key)
    assert wanted <= fired, f"alerts no unit test sees firing: {sorted(wanted - fired)}"
    assert wanted <= resolved, f"alerts no unit test sees resolving: {sorted(wanted - resolved)}"
    assert fired <= wanted, f"the unit tests expect alerts the chart does not have: {sorted(fired - wanted)}"


def obs_duration(text: str) -> int:
    import monitoring_crds
    return monitoring_crds.duration_ms(text)


def test_unit_test_series_are_shaped_as_the_contract():
    for test in unit_tests()["tests"]:
        for s in test["input_series"]:
            m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}", s["series"].replace("\n", " "))
            assert m, s["series"]
            name, labels = m.group(1), set(re.findall(r'(\w+)="', m.group(2)))
            assert obs.family_of(name) is not None, f"{name} is not in the metric contract"
            extra = labels - obs.labels_of(name)
            assert not extra, f"{name} has labels outside the contract: {sorted(extra)}"
            metric = obs.family_of(name)
            assert metric.labels <= labels, f"{test['name']}: {name} lacks {sorted(metric.labels - labels)}"
            if "job" in labels:
                job = re.search(r'job="([^"]*)"', m.group(2)).group(1)
                assert name == "up" and job not in obs.JOBS or job in metric.roles or not metric.roles, (name, job)


def test_alert_expressions_read_only_the_contract(render):
    for a in obs.alert_rules(rendered_rule(render)):
        assert obs.unknown_uses(a["expr"]) == [], (a["alert"], obs.unknown_uses(a["expr"]))


def output_labels(expr: str) -> Set[str]:
    """The labels an alert's series carry: the outermost `by (…)`, or for a selector its matchers' labels."""
    m = re.match(r"\s*(?:sum|min|max|count)\s+by\s*\(([^)]*)\)", expr)
    if m:
        return {x.strip() for x in m.group(1).split(",")}
    return {"job", "namespace", "pod", "instance"}


def test_annotations_name_the_object_and_never_a_value(render):
    for a in obs.alert_rules(rendered_rule(render)):
        text = a["annotations"]["summary"] + " " + a["annotations"]["description"]
        named = set(re.findall(r"\$labels\.(\w+)", text))
        assert named == output_labels(a["expr"]), (a["alert"], "the annotations name exactly the labels that identify the alert",
                                                    sorted(named), sorted(output_labels(a["expr"])))
        for use in re.findall(r"\{\{[^}]*\$value[^}]*\}\}", text):
            assert a["alert"] == "AkvsObjectExpiring" and use == "{{ $value | humanizeDuration }}", (a["alert"], use)
        assert len(a["annotations"]["description"]) > 150 and re.search(r"\b(kubectl|akvs doctor|Give it|Lower|grant)\b", text), \
            (a["alert"], "the description says what to do")
