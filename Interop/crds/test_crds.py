"""Static checks of the CustomResourceDefinitions in deploy/crds/.

No cluster is needed: the tests load the YAML with PyYAML and check the things the API server
would reject (non-structural schemas, several storage versions, list-map keys that are not
required), the things kubectl users see (printer columns must point at real fields), the
upstream validation patterns, and that the example manifests validate against the schemas.

Run: python3 -m pytest -q Interop/crds
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "deploy" / "crds"
EXAMPLES = REPO / "examples"

# file stem -> (group, kind, plural, singular, served versions, storage version, status subresource)
EXPECTED = {
    "secrets-store.csi.x-k8s.io_secretproviderclasses": (
        "secrets-store.csi.x-k8s.io", "SecretProviderClass", "secretproviderclasses",
        "secretproviderclass", {"v1", "v1alpha1"}, "v1", False),
    "secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses": (
        "secrets-store.csi.x-k8s.io", "SecretProviderClassPodStatus", "secretproviderclasspodstatuses",
        "secretproviderclasspodstatus", {"v1", "v1alpha1"}, "v1", False),
    "secret-sync.x-k8s.io_secretsyncs": (
        "secret-sync.x-k8s.io", "SecretSync", "secretsyncs", "secretsync", {"v1alpha1"}, "v1alpha1", True),
    "secret-sync.x-k8s.io_akvsyncs": (
        "secret-sync.x-k8s.io", "AKVSync", "akvsyncs", "akvsync", {"v1alpha1"}, "v1alpha1", True),
}

# Standard ObjectMeta fields a printer column may reference although the schema leaves metadata opaque.
OBJECT_META_FIELDS = {"name", "namespace", "creationTimestamp", "labels", "annotations", "generation", "uid"}


def _load(path: Path) -> list:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


CRD_FILES = sorted(CRD_DIR.glob("*.yaml"))
CRDS = {p.stem: _load(p)[0] for p in CRD_FILES}


def _versions():
    for stem, crd in CRDS.items():
        for v in crd["spec"]["versions"]:
            yield pytest.param(stem, v, id=f"{stem}:{v['name']}")


def _schema_nodes(node, path="$"):
    """Every schema node, with a readable path."""
    yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from _schema_nodes(sub, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _schema_nodes(node["additionalProperties"], f"{path}{{*}}")
    if "items" in node:
        yield from _schema_nodes(node["items"], f"{path}[*]")


def test_every_expected_file_is_present_and_one_crd_each():
    assert {p.stem for p in CRD_FILES} == set(EXPECTED)
    for p in CRD_FILES:
        docs = _load(p)
        assert len(docs) == 1, p.name
    assert (CRD_DIR / "README.md").is_file()


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_identity(stem):
    crd = CRDS[stem]
    group, kind, plural, singular, served, storage, _ = EXPECTED[stem]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.{group}"
    spec = crd["spec"]
    assert spec["group"] == group
    assert spec["scope"] == "Namespaced"
    names = spec["names"]
    assert (names["kind"], names["plural"], names["singular"], names["listKind"]) == (
        kind, plural, singular, kind + "List")
    versions = spec["versions"]
    assert {v["name"] for v in versions if v["served"]} == served
    assert [v["name"] for v in versions if v["storage"]] == [storage]
    for v in versions:
        if v["name"] == "v1alpha1" and group == "secrets-store.csi.x-k8s.io":
            assert v.get("deprecated") is True
        else:
            assert not v.get("deprecated")
    if kind == "SecretProviderClass":
        (alpha,) = [v for v in versions if v["name"] == "v1alpha1"]
        assert alpha["deprecationWarning"] == (
            "secrets-store.csi.x-k8s.io/v1alpha1 is deprecated. Use secrets-store.csi.x-k8s.io/v1 instead.")


@pytest.mark.parametrize("stem,version", _versions())
def test_status_subresource_only_for_sync_kinds(stem, version):
    wants_status = EXPECTED[stem][6]
    subresources = version.get("subresources") or {}
    assert ("status" in subresources) == wants_status
    assert "scale" not in subresources


@pytest.mark.parametrize("stem,version", _versions())
def test_schema_is_structural(stem, version):
    root = version["schema"]["openAPIV3Schema"]
    assert root["type"] == "object"
    assert root["properties"]["metadata"] == {"type": "object"}, "metadata may not be constrained beyond type"
    for path, node in _schema_nodes(root):
        opaque = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        assert "type" in node or opaque, f"{path}: no type"
        kind = node.get("type")
        assert kind in (None, "object", "array", "string", "integer", "number", "boolean"), path
        if "properties" in node or "additionalProperties" in node:
            assert kind == "object", f"{path}: properties under a non-object node"
        assert not ("properties" in node and "additionalProperties" in node), f"{path}: both properties and additionalProperties"
        if kind == "array":
            assert isinstance(node.get("items"), dict), f"{path}: array without a single items schema"
        else:
            assert "items" not in node, f"{path}: items under a non-array node"
        for banned in ("$ref", "anyOf", "oneOf", "allOf", "not", "definitions", "dependencies", "additionalItems",
                       "patternProperties", "uniqueItems"):
            assert banned not in node, f"{path}: {banned} is not allowed in structural schemas"
        for req in node.get("required", []):
            assert req in node.get("properties", {}), f"{path}: required {req} is not a property"
        if node.get("x-kubernetes-list-type") == "map":
            item = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in item.get("required", []) or "default" in item["properties"][key], \
                    f"{path}: list-map key {key} must be required or defaulted"
        if "default" in node:
            assert validate(node, node["default"], path) == [], f"{path}: default does not validate"
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["rule"].strip() and rule.get("message"), path


@pytest.mark.parametrize("stem,version", _versions())
def test_printer_columns_point_at_schema_fields(stem, version):
    columns = version.get("additionalPrinterColumns") or []
    assert columns, "every version defines printer columns"
    assert columns[-1]["name"] == "Age" and columns[-1]["jsonPath"] == ".metadata.creationTimestamp"
    root = version["schema"]["openAPIV3Schema"]
    for col in columns:
        assert col["type"] in ("string", "integer", "number", "boolean", "date"), col
        assert resolve_json_path(root, col["jsonPath"]) is not None, f"{col['name']}: {col['jsonPath']}"
    names = [c["name"] for c in columns]
    assert len(names) == len(set(names))


def resolve_json_path(root, json_path):
    """Schema node a simple JSONPath (dots, [*], [?(@.f=="v")] filters) selects, or None."""
    node, parent_is_meta = root, False
    for token in re.findall(r"\.([A-Za-z0-9_]+)|(\[[^\]]*\])", json_path):
        field, bracket = token
        if bracket:
            if node.get("type") != "array":
                return None
            node = node["items"]
            filt = re.fullmatch(r'\[\?\(@\.([A-Za-z0-9_]+)\s*==\s*"[^"]*"\)\]', bracket)
            if filt and filt.group(1) not in node.get("properties", {}):
                return None
            continue
        if parent_is_meta:
            return {"type": "string"} if field in OBJECT_META_FIELDS else None
        if field in node.get("properties", {}):
            node = node["properties"][field]
            parent_is_meta = node is root["properties"].get("metadata")
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def _data_item(stem):
    (v,) = [v for v in CRDS[stem]["spec"]["versions"] if v["storage"]]
    spec = v["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec["properties"]["secretObject"]["properties"]["data"]["items"]["properties"]


@pytest.mark.parametrize("field", ["sourcePath", "targetKey"])
def test_secretsync_path_pattern(field):
    node = _data_item("secret-sync.x-k8s.io_secretsyncs")[field]
    pattern = node["pattern"]
    assert pattern == r"^[A-Za-z0-9.]([-A-Za-z0-9]+([-._a-zA-Z0-9]?[A-Za-z0-9])*)?(\/([0-9]+))*$"
    assert (node["minLength"], node["maxLength"]) == (1, 253)
    for ok in ("db-password", "cert/1", "tls.crt", "ab.c", "api-token/0/1", "v0"):
        assert re.fullmatch(pattern, ok), ok
    for bad in ("../x", "/abs", "a//b", "cert/", "cert/x", "a b", ""):
        assert not re.fullmatch(pattern, bad), bad
    # Upstream quirk kept for drop-in compatibility: a one-character name before a dot is refused,
    # because the middle group needs at least one [-A-Za-z0-9] right after the first character.
    assert not re.fullmatch(pattern, "a.b")


def test_secretsync_validation_facts():
    (v,) = CRDS["secret-sync.x-k8s.io_secretsyncs"]["spec"]["versions"]
    root = v["schema"]["openAPIV3Schema"]
    spec = root["properties"]["spec"]
    assert set(spec["required"]) == {"secretProviderClassName", "serviceAccountName", "secretObject"}
    secret_object = spec["properties"]["secretObject"]["properties"]
    assert secret_object["type"]["default"] == "Opaque"
    data = secret_object["data"]
    assert (data["minItems"], data["x-kubernetes-list-type"], data["x-kubernetes-list-map-keys"]) == (1, "map", ["targetKey"])
    for name in ("labels", "annotations"):
        rules = " ".join(r["rule"] for r in secret_object[name]["x-kubernetes-validations"])
        assert "secrets-store.sync.x-k8s.io" in rules
    conditions = root["properties"]["status"]["properties"]["conditions"]
    assert (conditions["maxItems"], conditions["x-kubernetes-list-map-keys"]) == (16, ["type"])
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


def test_akvsync_rules_present():
    (v,) = CRDS["secret-sync.x-k8s.io_akvsyncs"]["spec"]["versions"]
    spec = v["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["required"]) >= {"keyvaultName", "clientID", "tenantID", "serviceAccountName"}
    item = spec["properties"]["objects"]["items"]
    rules = [r["rule"] for r in item["x-kubernetes-validations"]]
    assert any("secretInAKV" in r and "certInAKV" in r and "mapping" in r for r in rules)
    assert any("mapping" in r and "kubernetesSecretName" in r for r in rules)
    assert any("mapping" in r and "versionHistory" in r for r in rules)
    assert item["properties"]["kubernetesSecretType"]["default"] == "Opaque"
    assert item["properties"]["versionHistory"]["minimum"] == 1


# --- a small validator: type, required, enum, pattern, lengths, item counts, unknown fields ---
TYPES = {"string": str, "boolean": bool, "object": dict, "array": list, "integer": int, "number": (int, float)}


def validate(schema, value, path="$"):
    errors = []
    kind = schema.get("type")
    if kind and (not isinstance(value, TYPES[kind]) or (kind in ("integer", "number") and isinstance(value, bool))):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: length {len(value)} out of range")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            errors.append(f"{path}: {value} out of range")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: {len(value)} items out of range")
        for i, item in enumerate(value):
            errors += validate(schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict):
        if len(value) > schema.get("maxProperties", len(value)):
            errors.append(f"{path}: too many properties")
        errors += [f"{path}: missing {r}" for r in schema.get("required", []) if r not in value]
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        for key, sub in value.items():
            if props is not None and key in props:
                errors += validate(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += validate(extra, sub, f"{path}.{key}")
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path}: unknown field {key}")
    return errors


def schema_for(api_version, kind):
    group, version = api_version.split("/")
    for crd in CRDS.values():
        if crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind:
            for v in crd["spec"]["versions"]:
                if v["name"] == version and v["served"]:
                    return v["schema"]["openAPIV3Schema"]
    raise AssertionError(f"no served CRD version for {api_version} {kind}")


def _example_docs():
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in _load(path):
            if isinstance(doc, dict) and doc.get("kind") == "SecretProviderClass":
                found.append(pytest.param(doc, id=f"{path.name}:{doc['metadata']['name']}"))
    return found


@pytest.mark.parametrize("doc", _example_docs())
def test_example_secretproviderclasses_validate(doc):
    assert validate(schema_for(doc["apiVersion"], doc["kind"]), doc) == []
    assert doc["spec"]["provider"] and doc["spec"]["parameters"]["keyvaultName"]


def test_validator_catches_bad_objects():
    ss = schema_for("secret-sync.x-k8s.io/v1alpha1", "SecretSync")
    good = {"apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": {"name": "db"},
            "spec": {"secretProviderClassName": "akvs-demo", "serviceAccountName": "demo-app",
                     "secretObject": {"type": "Opaque", "data": [{"sourcePath": "db-password", "targetKey": "password"}]}}}
    assert validate(ss, good) == []
    bad = yaml.safe_load(yaml.safe_dump(good))
    bad["spec"]["secretObject"]["data"] = [{"sourcePath": "../etc/passwd", "targetKey": "x"}]
    bad["spec"]["serviceAccountName"] = "Demo_App"
    bad["spec"]["bogus"] = True
    assert len(validate(ss, bad)) == 3
    akv = schema_for("secret-sync.x-k8s.io/v1alpha1", "AKVSync")
    sync = {"apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "AKVSync", "metadata": {"name": "app"},
            "spec": {"keyvaultName": "akvs-demo", "clientID": "11111111-1111-4111-8111-111111111111",
                     "tenantID": "6f1b2c3d-0000-4000-8000-000000000001", "serviceAccountName": "demo-app",
                     "objects": [{"secretInAKV": "db-password", "versionHistory": 2},
                                 {"kubernetesSecretName": "web", "kubernetesSecretType": "kubernetes.io/tls",
                                  "mapping": [{"dataKey": "tls.crt", "certInAKV": "web-tls", "version": 0}]}]}}
    assert validate(akv, sync) == []
    sync["spec"]["objects"][0]["kubernetesSecretType"] = "kubernetes.io/service-account-token"
    sync["spec"]["keyvaultName"] = "a--b"
    assert len(validate(akv, sync)) == 2
