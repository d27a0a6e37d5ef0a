"""The metric contract of the akvs roles and the tools the monitoring checks share: the metric names a PromQL
expression reads, the rules file of a rendered PrometheusRule, the queries of the Grafana dashboard, and
promtool/prometheus from Debian's `prometheus` package (Scripts/install-prometheus.sh).

Tools (env overrides): PROMTOOL (default: promtool on PATH), PROMETHEUS (default: prometheus beside promtool, else
on PATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CHART = REPO_ROOT / "charts" / "akvs"
DASHBOARD = CHART / "dashboards" / "akvs.json"
INSTALL_HINT = "run Scripts/install-prometheus.sh (Debian's prometheus package: prometheus and promtool) or set PROMTOOL/PROMETHEUS"

DRIVER, PROVIDER, SYNC = "secrets-store-csi-driver", "secrets-store-provider-azure", "secrets-store-sync-controller"
JOBS = (DRIVER, PROVIDER, SYNC)

# Labels Prometheus puts on every series of a target scraped through a ServiceMonitor or PodMonitor (plus `le` of
# histogram buckets). The akvs metrics' own `namespace` wins over the target's (honorLabels).
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "service", "endpoint"})


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # counter, gauge, histogram
    labels: FrozenSet[str]
    roles: FrozenSet[str]  # the jobs that export it
    new: bool  # added by issue 23 (the upstream and older akvs names are False)


def _m(name: str, type_: str, labels: Iterable[str], roles: Iterable[str], new: bool = False) -> Metric:
    return Metric(name, type_, frozenset(labels), frozenset(roles), new)


_VAULT_ROLES = (PROVIDER, SYNC)  # the roles that talk to Key Vault (the driver too when it serves provider azure in-process)
_OBJECT = ("vault", "namespace", "secret_provider_class", "object", "object_type")
_PROVIDER_COMMON = ("os_type", "provider", "service_name")

CONTRACT: Dict[str, Metric] = {m.name: m for m in [
    # CSI driver (upstream names and labels).
    _m("node_publish_total", "counter", ["os_type", "provider"], [DRIVER]),
    _m("node_publish_error_total", "counter", ["error_type", "os_type", "provider"], [DRIVER]),
    _m("node_unpublish_total", "counter", ["os_type"], [DRIVER]),
    _m("node_unpublish_error_total", "counter", ["error_type", "os_type"], [DRIVER]),
    _m("sync_k8s_secret_total", "counter", ["os_type", "provider"], [DRIVER]),
    _m("k8s_secret_duration_sec", "histogram", ["os_type"], [DRIVER]),
    _m("rotation_reconcile_total", "counter", ["os_type", "provider", "rotated"], [DRIVER]),
    _m("rotation_reconcile_error_total", "counter", ["error_type", "os_type", "provider"], [DRIVER]),
    _m("rotation_reconcile_duration_sec", "histogram", ["os_type"], [DRIVER]),
    # Provider (upstream names; histograms in seconds).
    _m("keyvault_request", "histogram", ["object_type", "object_name", "error", *_PROVIDER_COMMON], [PROVIDER, SYNC]),  # provider azure in-process too
    _m("grpc_request", "histogram", ["grpc_method", "grpc_code", "grpc_message", *_PROVIDER_COMMON], [PROVIDER]),
    # Sync controller.
    _m("akvs_sync_reconcile_total", "counter", ["reason"], [SYNC]),
    _m("akvs_sync_duration_seconds", "histogram", [], [SYNC]),
    _m("akvs_sync_provider_calls_total", "counter", ["result"], [SYNC]),
    _m("akvs_sync_kubernetes_writes_total", "counter", ["kind"], [SYNC]),
    _m("akvs_sync_queue_depth", "gauge", [], [SYNC]),
    _m("akvs_sync_oldest_unsynced_seconds", "gauge", [], [SYNC]),
    _m("akvs_sync_vault_requests", "gauge", ["vault"], [SYNC]),  # a running total kept in a gauge
    _m("akvs_sync_vault_budget_waits", "gauge", ["vault"], [SYNC]),
    # Issue 23.
    _m("akvs_object_expiry_timestamp_seconds", "gauge", _OBJECT, _VAULT_ROLES, new=True),
    _m("akvs_object_not_before_timestamp_seconds", "gauge", _OBJECT, _VAULT_ROLES, new=True),
    _m("akvs_last_success_timestamp_seconds", "gauge", ["kind", "namespace", "name"], [SYNC, DRIVER], new=True),
    _m("akvs_last_attempt_timestamp_seconds", "gauge", ["kind", "namespace", "name"], [SYNC, DRIVER], new=True),
    _m("akvs_last_attempt_success", "gauge", ["kind", "namespace", "name"], [SYNC, DRIVER], new=True),
    _m("akvs_keyvault_responses_total", "counter", ["vault", "code", "error"], _VAULT_ROLES, new=True),
    _m("akvs_entra_responses_total", "counter", ["tenant", "code", "aadsts"], _VAULT_ROLES, new=True),
    _m("akvs_vault_circuit_open", "gauge", ["vault"], [SYNC], new=True),
    _m("akvs_mount_served_stale_total", "counter", ["namespace", "secret_provider_class"], [DRIVER], new=True),
    _m("akvs_restarts_total", "counter", ["namespace", "kind", "name"], [], new=True),  # a future restart controller
    _m("process_cpu_seconds_total", "counter", [], JOBS, new=True),
    _m("process_resident_memory_bytes", "gauge", [], JOBS, new=True),
    _m("process_start_time_seconds", "gauge", [], JOBS, new=True),
]}

# Prometheus's own per-target series, which the role-down alert and the dashboard's "targets up" read.
SYNTHETIC: Dict[str, Metric] = {"up": _m("up", "gauge", [], JOBS)}

RESPONSE_CODES = ("2xx", "401", "403", "404", "409", "429", "4xx", "5xx", "network")


def series_names(metric: Metric) -> Set[str]:
    """The series names a metric family exposes (a histogram: _bucket, _sum, _count)."""
    if metric.type == "histogram":
        return {metric.name + s for s in ("_bucket", "_sum", "_count")}
    return {metric.name}


def family_of(series: str) -> Optional[Metric]:
    """The contract (or synthetic) metric a series name belongs to."""
    if series in CONTRACT:
        return CONTRACT[series]
    if series in SYNTHETIC:
        return SYNTHETIC[series]
    for m in CONTRACT.values():
        if series in series_names(m):
            return m
    return None


def labels_of(series: str) -> FrozenSet[str]:
    metric = family_of(series)
    assert metric is not None, series
    extra = {"le"} if series.endswith("_bucket") else set()
    return metric.labels | TARGET_LABELS | extra


# --------------------------------------------------------------------------------------------
# PromQL: the metric names and label names an expression uses
# --------------------------------------------------------------------------------------------

GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPING | {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan", "Inf", "NaN"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile", "limitk", "limit_ratio"}
_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:0x[0-9a-fA-F]+)|(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?[a-zA-Z]*))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],@])
  | (?P<space>\s+)
""", re.X)


@dataclass
class QueryUse:
    metrics: Set[str]  # series names selected
    matchers: List[Tuple[str, str]]  # (series name or "", label name) of every label matcher
    grouping: Set[str]  # labels in by/without/on/ignoring/group_left/group_right clauses


def tokens(expr: str) -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "space":
            out.append((kind, m.group(kind)))
    return out


def uses(expr: str) -> QueryUse:
    """The series names, label matchers and grouping labels of a PromQL expression (a small reader, enough for the
    dashboard's and the alerts' queries; `promtool check rules` is what proves an expression parses)."""
    toks = tokens(expr)
    use = QueryUse(set(), [], set())
    owner = ""  # the series name a following {…} belongs to
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text in GROUPING and nxt == "(":
            i += 2
            while toks[i][1] != ")":
                if toks[i][0] == "ident":
                    use.grouping.add(toks[i][1])
                i += 1
        elif text == "{":
            i += 1
            while toks[i][1] != "}":
                if toks[i][0] == "ident" and toks[i + 1][1] in ("=", "!=", "=~", "!~"):
                    use.matchers.append((owner, toks[i][1]))
                i += 1
        elif text == "[":
            while toks[i][1] != "]":
                i += 1
        elif kind == "ident" and text not in KEYWORDS and nxt != "(" and not (text in AGGREGATIONS and nxt in GROUPING):
            use.metrics.add(text)
            owner = text if nxt == "{" else ""
            i += 1
            continue
        owner = ""
        i += 1
    return use


def unknown_uses(expr: str) -> List[str]:
    """What an expression reads outside the contract: unknown series, label matchers on labels the series does not
    carry, grouping on labels no series of the expression carries."""
    use = uses(expr)
    problems = []
    known_labels: Set[str] = set()
    for name in sorted(use.metrics):
        if family_of(name) is None:
            problems.append(f"series {name} is not in the metric contract")
        else:
            known_labels |= labels_of(name)
    for name, label in use.matchers:
        if name and family_of(name) is not None and label not in labels_of(name):
            problems.append(f"{name} has no label {label}")
    for label in sorted(use.grouping - known_labels):
        problems.append(f"no series of the expression has the label {label} it groups by")
    return problems


# --------------------------------------------------------------------------------------------
# The dashboard and the rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    panel_id: int
    panel: str
    ref: str
    expr: str

    @property
    def key(self) -> str:
        return f"{self.panel} [{self.ref}]"


def load_dashboard(path: Path = DASHBOARD) -> dict:
    return json.loads(path.read_text())


def panel_queries(dashboard: dict) -> List[PanelQuery]:
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append(PanelQuery(panel["id"], panel["title"], target["refId"], target["expr"]))
    return out


def rules_of(prometheus_rule: dict) -> dict:
    """A Prometheus rules file ({groups: …}) from a PrometheusRule object, as the operator writes it for Prometheus."""
    assert prometheus_rule["kind"] == "PrometheusRule", prometheus_rule["kind"]
    return {"groups": prometheus_rule["spec"]["groups"]}


def alert_rules(prometheus_rule: dict) -> List[dict]:
    return [r for g in prometheus_rule["spec"]["groups"] for r in g["rules"] if "alert" in r]


def recording_rules_for(queries: Sequence[PanelQuery]) -> dict:
    """Every panel query as a recording rule, so that `promtool check rules` parses each one."""
    return {"groups": [{"name": "dashboard-queries", "rules": [
        {"record": f"akvs_dashboard:panel_{q.panel_id}_{q.ref}", "expr": q.expr} for q in queries]}]}


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=1000))
    return path


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


def promtool_path() -> Optional[Path]:
    configured = os.environ.get("PROMTOOL")
    found = configured or shutil.which("promtool")
    return Path(found) if found and os.access(found, os.X_OK) else None


def prometheus_path() -> Optional[Path]:
    configured = os.environ.get("PROMETHEUS")
    if configured:
        return Path(configured) if os.access(configured, os.X_OK) else None
    promtool = promtool_path()
    if promtool is not None and os.access(promtool.parent / "prometheus", os.X_OK):
        return promtool.parent / "prometheus"
    found = shutil.which("prometheus")
    return Path(found) if found else None


def promtool(*args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    tool = promtool_path()
    assert tool is not None, INSTALL_HINT
    return subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=120, cwd=cwd)
