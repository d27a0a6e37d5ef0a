"""The monitoring objects of the chart (metrics.*): off by default; ServiceMonitors (with their headless Services) or
PodMonitors per role that is on, on each role's metrics port and pods; the PrometheusRule and the Grafana dashboard
ConfigMap; every monitoring.coreos.com object checked against the operator's CRD structure (monitoring_crds.py);
the settings that cannot work together are refused."""

from __future__ import annotations

import json

import pytest

import monitoring_crds
import observability as obs
from conftest import COMBINATIONS

DRIVER = "akvs-secrets-store-csi-driver"
PROVIDER = "akvs-secrets-store-provider-azure"
SYNC = "akvs-secrets-store-sync-controller"
MONITORING_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
BOTH = ["syncController.enabled=true"]
SERVICE_MONITORS = BOTH + ["metrics.serviceMonitor.enabled=true"]
POD_MONITORS = BOTH + ["metrics.podMonitor.enabled=true"]


def metrics_port(workload):
    main = [c for c in workload["spec"]["template"]["spec"]["containers"] if c.get("command", [""])[0] == "/akvs"][0]
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    return ports["metrics"]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def test_off_by_default(render):
    for name, settings in COMBINATIONS.items():
        if any(s.startswith("metrics.") for s in settings):
            continue
        r = render(settings)
        for kind in MONITORING_KINDS:
            assert not r.of_kind(kind), (name, kind)
        assert not r.of_kind("ConfigMap"), name
        assert all(s["metadata"]["name"].endswith("-sync-controller-metrics") for s in r.of_kind("Service")), name


def test_each_part_alone(render):
    only = {
        "metrics.serviceMonitor.enabled=true": {"ServiceMonitor"},
        "metrics.podMonitor.enabled=true": {"PodMonitor"},
        "metrics.prometheusRule.enabled=true": {"PrometheusRule"},
        "metrics.grafanaDashboard.enabled=true": {"ConfigMap"},
    }
    for setting, kinds in only.items():
        r = render(BOTH + [setting])
        present = {o["kind"] for o in r.objects if o["kind"] in MONITORING_KINDS + ("ConfigMap",)}
        assert present == kinds, (setting, present)


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_monitoring_objects_match_the_crds(render, combination):
    for obj in render(COMBINATIONS[combination]).objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com"):
            assert monitoring_crds.validate(obj) == [], (obj["kind"], obj["metadata"]["name"], monitoring_crds.validate(obj))


@pytest.mark.parametrize("bad,error", [
    ({"spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "30 s"}]}}, "does not match"),
    ({"spec": {"selector": {}, "endpoints": [{"port": "metrics", "honorlabels": True}]}}, "unknown field 'honorlabels'"),
    ({"spec": {"endpoints": [{"port": "metrics"}]}}, "selector is required"),
    ({"spec": {"selector": {}, "endpoints": [{"port": "metrics", "scheme": "tcp"}]}}, "is not one of"),
    ({"spec": {"selector": {}, "endpoints": [{"path": "/metrics"}]}}, "no port"),
    ({"spec": {"selector": {}, "endpoints": [{"port": "m", "interval": "10s", "scrapeTimeout": "30s"}]}}, "longer than interval"),
    ({"spec": {"selector": {"matchLabels": {"a": 1}}, "endpoints": [{"port": "m"}]}}, "is not a string"),
])
def test_the_crd_check_catches_mistakes(bad, error):
    obj = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x", "namespace": "y"}, **bad}
    found = monitoring_crds.validate(obj)
    assert any(error in e for e in found), found
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "x", "namespace": "y"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "record": "b", "expr": "1"}]}, {"name": "g"}]}}
    found = monitoring_crds.validate(rule)
    assert any("exactly one of alert and record" in e for e in found) or any("two items" in e for e in found), found
    assert monitoring_crds.duration_ms("1h30m") == 5400000 and monitoring_crds.duration_ms("500ms") == 500


@pytest.mark.parametrize("settings,roles", [
    (SERVICE_MONITORS, {DRIVER: "secrets-store-csi-driver", PROVIDER: "secrets-store-provider-azure", SYNC: "secrets-store-sync-controller"}),
    (["metrics.serviceMonitor.enabled=true"], {DRIVER: "secrets-store-csi-driver", PROVIDER: "secrets-store-provider-azure"}),
    (["csiDriver.enabled=false", "syncController.enabled=true", "metrics.serviceMonitor.enabled=true"], {SYNC: "secrets-store-sync-controller"}),
    (SERVICE_MONITORS + ["secrets-store-csi-driver.azureProvider.mode=in-process"],
     {DRIVER: "secrets-store-csi-driver", SYNC: "secrets-store-sync-controller"}),
])
def test_service_monitors_scrape_each_role(render, settings, roles):
    r = render(settings)
    monitors = {m["metadata"]["name"]: m for m in r.of_kind("ServiceMonitor")}
    assert sorted(monitors) == sorted(roles)
    services = r.of_kind("Service")
    for name, job in roles.items():
        workload = r.get("DaemonSet" if name != SYNC else "Deployment", name)
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        spec = monitors[name]["spec"]
        assert spec["jobLabel"] == "app" and pod_labels["app"] == job
        assert spec["namespaceSelector"] == {"matchNames": ["kube-system"]}
        assert spec["endpoints"] == [{"port": "metrics", "path": "/metrics", "scheme": "http", "honorLabels": True,
                                      "interval": "30s", "scrapeTimeout": "10s"}]
        # Exactly one Service of the release matches the selector; it carries the job label, selects the role's pods
        # and names a port `metrics` whose target is the container's metrics port.
        selected = [s for s in services if matches(spec["selector"]["matchLabels"], s["metadata"]["labels"])]
        assert len(selected) == 1, (name, [s["metadata"]["name"] for s in selected])
        service = selected[0]
        assert service["metadata"]["labels"]["app"] == job
        assert matches(service["spec"]["selector"], pod_labels)
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        assert ports["metrics"]["targetPort"] == "metrics" and ports["metrics"]["port"] == metrics_port(workload)
        if name != SYNC:
            assert service["spec"]["clusterIP"] == "None", "one endpoint per DaemonSet pod"


def test_pod_monitors_scrape_each_role(render):
    r = render(POD_MONITORS + ["metrics.podMonitor.namespace=monitoring", "metrics.podMonitor.labels.release=kps",
                               "metrics.podMonitor.interval=1m", "metrics.podMonitor.scrapeTimeout=20s"])
    monitors = {m["metadata"]["name"]: m for m in r.of_kind("PodMonitor")}
    assert sorted(monitors) == [DRIVER, PROVIDER, SYNC]
    assert not r.of_kind("ServiceMonitor")
    assert [s["metadata"]["name"] for s in r.of_kind("Service")] == ["akvs-sync-controller-metrics"], "no extra Services"
    for name, monitor in monitors.items():
        workload = r.get("DaemonSet" if name != SYNC else "Deployment", name)
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert monitor["metadata"]["namespace"] == "monitoring"
        assert monitor["metadata"]["labels"]["release"] == "kps"
        spec = monitor["spec"]
        assert matches(spec["selector"]["matchLabels"], pod_labels)
        assert spec["jobLabel"] == "app" and pod_labels["app"] in obs.JOBS
        assert spec["namespaceSelector"] == {"matchNames": ["kube-system"]}
        assert spec["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "scheme": "http", "honorLabels": True,
                                                "interval": "1m", "scrapeTimeout": "20s"}]
        assert spec["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "akvs", "only this release's pods"
        metrics_port(workload)  # the container names its port `metrics`


def test_monitor_settings(render):
    r = render(SERVICE_MONITORS + ["metrics.serviceMonitor.namespace=monitoring", "metrics.serviceMonitor.labels.release=kps",
                                   "metrics.serviceMonitor.interval=", "metrics.serviceMonitor.scrapeTimeout=",
                                   "commonLabels.team=payments"])
    for m in r.of_kind("ServiceMonitor"):
        assert m["metadata"]["namespace"] == "monitoring"
        assert m["metadata"]["labels"]["release"] == "kps" and m["metadata"]["labels"]["team"] == "payments"
        assert "interval" not in m["spec"]["endpoints"][0] and "scrapeTimeout" not in m["spec"]["endpoints"][0]
        assert m["spec"]["namespaceSelector"] == {"matchNames": ["kube-system"]}, "the pods stay in the release namespace"
    for s in r.of_kind("Service"):
        assert s["metadata"]["namespace"] == "kube-system"


def test_prometheus_rule_object(render):
    r = render(BOTH + ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.namespace=monitoring",
                       "metrics.prometheusRule.labels.release=kps", "metrics.prometheusRule.alertLabels.team=platform"])
    [rule] = r.of_kind("PrometheusRule")
    assert rule["metadata"]["name"] == "akvs" and rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kps"
    alerts = obs.alert_rules(rule)
    assert sorted({a["alert"] for a in alerts}) == ["AkvsEntraTokenRefused", "AkvsKeyVaultAccessDenied", "AkvsMountServedStale",
                                                   "AkvsObjectExpiring", "AkvsRoleDown", "AkvsSecretSyncFailing", "AkvsVaultThrottled"]
    for a in alerts:
        assert a["labels"]["team"] == "platform" and a["labels"]["severity"] in ("warning", "critical"), a["alert"]
        assert set(a["annotations"]) == {"summary", "description"}, a["alert"]


def test_role_down_watches_the_roles_that_are_on(render):
    def role_down(settings):
        [rule] = render(settings + ["metrics.prometheusRule.enabled=true"]).of_kind("PrometheusRule")
        return [a for a in obs.alert_rules(rule) if a["alert"] == "AkvsRoleDown"][0]["expr"].strip()

    assert role_down(BOTH) == ('up{job=~"secrets-store-csi-driver|secrets-store-provider-azure|secrets-store-sync-controller", '
                               'namespace="kube-system"} == 0')
    assert role_down([]) == 'up{job=~"secrets-store-csi-driver|secrets-store-provider-azure", namespace="kube-system"} == 0'
    assert role_down(["csiDriver.enabled=false", "syncController.enabled=true"]) == \
        'up{job=~"secrets-store-sync-controller", namespace="kube-system"} == 0'
    assert role_down(["secrets-store-csi-driver.azureProvider.mode=in-process"]) == \
        'up{job=~"secrets-store-csi-driver", namespace="kube-system"} == 0'


def test_thresholds_come_from_values(render):
    [rule] = render(BOTH + ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.expiryWarningDays=30",
                            "metrics.prometheusRule.expiryCriticalDays=3", "metrics.prometheusRule.syncFailingFor=1h",
                            "metrics.prometheusRule.mountStaleWindow=30m", "metrics.prometheusRule.throttlingFor=20m",
                            "metrics.prometheusRule.identityErrorWindow=1h", "metrics.prometheusRule.roleDownFor=2m"]).of_kind("PrometheusRule")
    by = {}
    for a in obs.alert_rules(rule):
        by[(a["alert"], a["labels"]["severity"])] = a
    assert by[("AkvsObjectExpiring", "warning")]["expr"].strip().endswith("< 30 * 86400")
    assert "within 30 days" in by[("AkvsObjectExpiring", "warning")]["annotations"]["summary"]
    assert by[("AkvsObjectExpiring", "critical")]["expr"].strip().endswith("< 3 * 86400")
    assert "within 3 days" in by[("AkvsObjectExpiring", "critical")]["annotations"]["summary"]
    assert by[("AkvsSecretSyncFailing", "warning")]["for"] == "1h"
    assert "offset 30m" in by[("AkvsMountServedStale", "warning")]["expr"] and "[30m]" in by[("AkvsMountServedStale", "warning")]["expr"]
    assert by[("AkvsVaultThrottled", "warning")]["for"] == "20m"
    for name in ("AkvsKeyVaultAccessDenied", "AkvsEntraTokenRefused"):
        assert "offset 1h" in by[(name, "warning")]["expr"] and "[1h]" in by[(name, "warning")]["expr"]
    assert by[("AkvsRoleDown", "critical")]["for"] == "2m"


def test_grafana_dashboard_configmap(render):
    r = render(["metrics.grafanaDashboard.enabled=true", "metrics.grafanaDashboard.namespace=monitoring",
                "metrics.grafanaDashboard.annotations.grafana_folder=Security"])
    [cm] = r.of_kind("ConfigMap")
    assert cm["metadata"]["name"] == "akvs-grafana-dashboard" and cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Security"}
    assert list(cm["data"]) == ["akvs.json"]
    assert json.loads(cm["data"]["akvs.json"]) == obs.load_dashboard(), "the ConfigMap holds charts/akvs/dashboards/akvs.json"
    assert cm["data"]["akvs.json"] == obs.DASHBOARD.read_text().rstrip("\n")
    other = render(["metrics.grafanaDashboard.enabled=true", "metrics.grafanaDashboard.label=dashboards",
                    "metrics.grafanaDashboard.labelValue=akvs"]).of_kind("ConfigMap")[0]
    assert other["metadata"]["labels"]["dashboards"] == "akvs" and "grafana_dashboard" not in other["metadata"]["labels"]


@pytest.mark.parametrize("settings,message", [
    (["metrics.serviceMonitor.enabled=true", "metrics.podMonitor.enabled=true"], "enable one of them"),
    (["syncController.enabled=true", "syncController.metricsService.enabled=false", "metrics.serviceMonitor.enabled=true"],
     "needs syncController.metricsService.enabled=true"),
    (["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.expiryWarningDays=1"], "must be more than expiryCriticalDays"),
])
def test_settings_that_cannot_work_are_refused(render_error, settings, message):
    assert message in render_error(settings)


@pytest.mark.parametrize("setting,where", [
    ("metrics.serviceMonitor.interval=30", "/metrics/serviceMonitor/interval"),
    ("metrics.podMonitor.scrapeTimeout=10 s", "/metrics/podMonitor/scrapeTimeout"),
    ("metrics.prometheusRule.syncFailingFor=", "/metrics/prometheusRule/syncFailingFor"),
    ("metrics.prometheusRule.throttlingFor=1m30", "/metrics/prometheusRule/throttlingFor"),
    ("metrics.prometheusRule.expiryWarningDays=0", "/metrics/prometheusRule/expiryWarningDays"),
    ("metrics.prometheusRule.expiryCriticalDays=soon", "/metrics/prometheusRule/expiryCriticalDays"),
    ("metrics.grafanaDashboard.label=", "/metrics/grafanaDashboard/label"),
    ("metrics.serviceMonitor.namespace=Monitoring", "/metrics/serviceMonitor/namespace"),
])
def test_schema_rejects_bad_monitoring_values(render_error, setting, where):
    assert where in render_error([setting])


def test_misspelled_monitoring_key(render_error):
    err = render_error(["metrics.serviceMonitor.enable=true"])
    assert 'did you mean "metrics.serviceMonitor.enabled"?' in err, err
    err = render_error(["metrics.prometheusRule.expiryWarningDay=3"])
    assert 'did you mean "metrics.prometheusRule.expiryWarningDays"?' in err, err


def test_install_notes_name_the_monitoring_objects(helm):
    from conftest import CHART, run_helm

    out = run_helm(helm, ["install", "akvs", str(CHART), "--dry-run=client", "-n", "kube-system", "--set", "metrics.podMonitor.enabled=true",
                          "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.grafanaDashboard.enabled=true",
                          "--set", "metrics.grafanaDashboard.namespace=monitoring"]).stdout
    assert "Monitoring: PodMonitors in kube-system; PrometheusRule akvs in kube-system; dashboard ConfigMap akvs-grafana-dashboard in monitoring" in out
    assert "Monitoring:" not in run_helm(helm, ["install", "akvs", str(CHART), "--dry-run=client", "-n", "kube-system"]).stdout
