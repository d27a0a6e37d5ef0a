"""The structure of the Prometheus operator's monitoring.coreos.com/v1 ServiceMonitor, PodMonitor and PrometheusRule,
as their CRDs (prometheus-operator v0.93, example/prometheus-operator-crd/monitoring.coreos.com_*.yaml) define it:
the fields the chart may set, their types, patterns and required fields. kubernetes-validate knows no custom
resources, so test_monitoring.py checks the chart's objects with this.

Only the fields a chart would set are listed (a subset of each CRD); anything else is reported as unknown, as
kube-apiserver's strict field validation would. The patterns are the CRDs' own formats: a Prometheus duration
(units y w d h m s ms in that order, each at most once), and the scheme enum.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

GROUP_VERSION = "monitoring.coreos.com/v1"
KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")

DURATION = re.compile(r"^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$")
PARTIAL_RESPONSE = re.compile(r"^(?i:abort|warn)?$")
UNITS_MS = {"y": 365 * 86400000, "w": 7 * 86400000, "d": 86400000, "h": 3600000, "m": 60000, "s": 1000, "ms": 1}


def duration_ms(text: str) -> int:
    """A Prometheus duration in milliseconds."""
    assert DURATION.match(text) and text, f"not a Prometheus duration: {text!r}"
    return sum(int(n) * UNITS_MS[u] for n, u in re.findall(r"([0-9]+)(ms|[ywdhms])", text))


# A tiny schema language: a type name, or a dict with "type" and its details.
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
INTEGER = {"type": "integer"}
STRINGS = {"type": "array", "items": STRING}
STRING_MAP = {"type": "map", "values": STRING}
DURATION_FIELD = {"type": "string", "pattern": DURATION}
INT_OR_STRING = {"type": "int-or-string"}
ANY_OBJECT = {"type": "object-any"}

LABEL_SELECTOR = {"type": "object", "properties": {
    "matchLabels": STRING_MAP,
    "matchExpressions": {"type": "array", "items": {"type": "object", "required": ["key", "operator"], "properties": {
        "key": STRING, "operator": STRING, "values": STRINGS}}},
}}
NAMESPACE_SELECTOR = {"type": "object", "properties": {"any": BOOLEAN, "matchNames": STRINGS}}
RELABELINGS = {"type": "array", "items": ANY_OBJECT}

_ENDPOINT_COMMON = {
    "port": STRING,
    "targetPort": INT_OR_STRING,
    "path": STRING,
    "scheme": {"type": "string", "enum": ["http", "https", "HTTP", "HTTPS"]},
    "params": {"type": "map", "values": STRINGS},
    "interval": DURATION_FIELD,
    "scrapeTimeout": DURATION_FIELD,
    "honorLabels": BOOLEAN,
    "honorTimestamps": BOOLEAN,
    "trackTimestampsStaleness": BOOLEAN,
    "relabelings": RELABELINGS,
    "metricRelabelings": RELABELINGS,
    "followRedirects": BOOLEAN,
    "enableHttp2": BOOLEAN,
    "filterRunning": BOOLEAN,
    "tlsConfig": ANY_OBJECT,
}
_MONITOR_COMMON = {
    "jobLabel": STRING,
    "podTargetLabels": STRINGS,
    "selector": LABEL_SELECTOR,
    "namespaceSelector": NAMESPACE_SELECTOR,
    "sampleLimit": INTEGER,
    "targetLimit": INTEGER,
    "labelLimit": INTEGER,
    "attachMetadata": {"type": "object", "properties": {"node": BOOLEAN}},
    "scrapeClass": {"type": "string", "minLength": 1},
}

SPECS: Dict[str, dict] = {
    "ServiceMonitor": {"type": "object", "required": ["endpoints", "selector"], "properties": {
        **_MONITOR_COMMON,
        "targetLabels": STRINGS,
        "endpoints": {"type": "array", "items": {"type": "object", "properties": dict(_ENDPOINT_COMMON)}},
    }},
    "PodMonitor": {"type": "object", "required": ["selector"], "properties": {
        **_MONITOR_COMMON,
        "podMetricsEndpoints": {"type": "array", "items": {"type": "object", "properties": {
            **_ENDPOINT_COMMON, "portNumber": {"type": "integer", "minimum": 1, "maximum": 65535}}}},
    }},
    "PrometheusRule": {"type": "object", "properties": {
        "groups": {"type": "array", "unique": "name", "items": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1},
            "interval": DURATION_FIELD,
            "query_offset": DURATION_FIELD,
            "limit": INTEGER,
            "partial_response_strategy": {"type": "string", "pattern": PARTIAL_RESPONSE},
            "labels": STRING_MAP,
            "rules": {"type": "array", "items": {"type": "object", "required": ["expr"], "properties": {
                "record": STRING,
                "alert": STRING,
                "expr": INT_OR_STRING,
                "for": DURATION_FIELD,
                "keep_firing_for": {"type": "string", "pattern": DURATION, "minLength": 1},
                "labels": STRING_MAP,
                "annotations": STRING_MAP,
            }}},
        }}},
    }},
}

METADATA = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1}, "namespace": {"type": "string", "minLength": 1},
    "labels": STRING_MAP, "annotations": STRING_MAP,
}}


def _check(value: Any, schema: dict, path: str, errors: List[str]) -> None:
    kind = schema["type"]
    if kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: {value!r} is not a string")
            return
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not schema["pattern"].match(value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern'].pattern}")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: {value!r} is not a boolean")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: {value!r} is not an integer")
        elif not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            errors.append(f"{path}: {value} is out of range")
    elif kind == "int-or-string":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            errors.append(f"{path}: {value!r} is neither an integer nor a string")
    elif kind == "object-any":
        if not isinstance(value, dict):
            errors.append(f"{path}: {value!r} is not an object")
    elif kind == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: {value!r} is not an object")
            return
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(f"{path}: key {k!r} is not a string")
            _check(v, schema["values"], f"{path}.{k}", errors)
    elif kind == "array":
        if not isinstance(value, list):
            errors.append(f"{path}: {value!r} is not a list")
            return
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{i}]", errors)
        key = schema.get("unique")
        if key:
            names = [item.get(key) for item in value if isinstance(item, dict)]
            for dup in sorted({n for n in names if names.count(n) > 1}):
                errors.append(f"{path}: two items with {key} {dup!r} (a list-map keyed by {key})")
    elif kind == "object":
        if not isinstance(value, dict):
            errors.append(f"{path}: {value!r} is not an object")
            return
        for req in schema.get("required", []):
            if req not in value:
                errors.append(f"{path}: {req} is required")
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k)
            if sub is None:
                errors.append(f"{path}: unknown field {k!r}")
            else:
                _check(v, sub, f"{path}.{k}", errors)
    else:  # pragma: no cover - a mistake in SPECS
        raise AssertionError(f"unknown schema type {kind} at {path}")


def validate(obj: dict) -> List[str]:
    """The structural errors of a monitoring.coreos.com/v1 object (empty: valid), plus the rules the operator and
    Prometheus add on top of the CRD: one of alert/record per rule; a port for every endpoint; scrapeTimeout at most
    interval; a namespaced object carries its namespace."""
    errors: List[str] = []
    kind = obj.get("kind")
    if obj.get("apiVersion") != GROUP_VERSION or kind not in SPECS:
        return [f"{obj.get('apiVersion')}/{kind} is not a monitoring.coreos.com/v1 {'/'.join(KINDS)}"]
    unknown = set(obj) - {"apiVersion", "kind", "metadata", "spec"}
    errors += [f"unknown top-level field {k!r}" for k in sorted(unknown)]
    _check(obj.get("metadata"), METADATA, "metadata", errors)
    if "spec" not in obj:
        errors.append("spec is required")
        return errors
    _check(obj["spec"], SPECS[kind], "spec", errors)
    if errors:
        return errors
    if not obj["metadata"].get("namespace"):
        errors.append("metadata.namespace: the kinds are namespaced; the chart names the namespace")
    spec = obj["spec"]
    endpoints = spec.get("endpoints") if kind == "ServiceMonitor" else spec.get("podMetricsEndpoints") if kind == "PodMonitor" else []
    for i, e in enumerate(endpoints or []):
        if not any(k in e for k in ("port", "portNumber", "targetPort")):
            errors.append(f"endpoint {i}: no port, portNumber or targetPort: no target would be discovered")
        if "interval" in e and "scrapeTimeout" in e and duration_ms(e["scrapeTimeout"]) > duration_ms(e["interval"]):
            errors.append(f"endpoint {i}: scrapeTimeout {e['scrapeTimeout']} is longer than interval {e['interval']} (Prometheus refuses it)")
    if kind == "PodMonitor" and not spec.get("podMetricsEndpoints"):
        errors.append("spec.podMetricsEndpoints: empty, nothing would be scraped")
    if kind == "PrometheusRule":
        for g in spec.get("groups", []):
            for j, r in enumerate(g.get("rules", [])):
                if ("alert" in r) == ("record" in r):
                    errors.append(f"group {g['name']} rule {j}: exactly one of alert and record")
                if "record" in r and ("for" in r or "annotations" in r or "keep_firing_for" in r):
                    errors.append(f"group {g['name']} rule {j}: a recording rule has no for, keep_firing_for or annotations")
    return errors
