"""PATCH in all its content types, and server-side apply through DynamicClient.

Content types as the client sends them (read from kubernetes/client/rest.py and
kubernetes/dynamic/client.py; identical in kubernetes 31 and 37):
- typed core APIs (CoreV1Api.patch_*): dict body -> application/strategic-merge-patch+json,
  list body -> application/json-patch+json;
- CustomObjectsApi.patch_*: always application/merge-patch+json;
- DynamicClient.patch: application/strategic-merge-patch+json unless content_type= is given;
- DynamicClient.server_side_apply: application/apply-patch+yaml with a JSON body,
  query fieldManager=<name> and force=true (force_conflicts=True; "True" from kubernetes<=36).
Only kubernetes>=37 has a per-call `_content_type`, so other content types go through
DynamicClient.patch(content_type=...).
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from kubernetes import client
from kubernetes.dynamic.resource import ResourceInstance

from conftest import (
    SECRETSYNC,
    SPC,
    b64,
    config_map,
    expect_api_error,
    meta,
    rv,
    secret,
    secretsync_body,
    spc_body,
    status_body,
    to_json,
    unb64,
    unique_name,
)

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@pytest.fixture(scope="module")
def cm_res(dyn):
    return dyn.resources.get(api_version="v1", kind="ConfigMap")


@pytest.fixture(scope="module")
def spc_res(dyn):
    return dyn.resources.get(api_version=f"{SPC['group']}/{SPC['version']}", kind="SecretProviderClass")


@pytest.fixture(scope="module")
def ss_res(dyn):
    return dyn.resources.get(api_version=f"{SECRETSYNC['group']}/{SECRETSYNC['version']}", kind="SecretSync")


def as_dict(obj: Any) -> Dict[str, Any]:
    """A DynamicClient ResourceInstance, a typed model or a dict as a plain camelCase dict."""
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, ResourceInstance):
        return obj.to_dict()
    return to_json(obj)


def managed_fields(obj: Any) -> List[Dict[str, Any]]:
    return meta(as_dict(obj)).get("managedFields") or []


def fields_of(obj: Any, manager: str, operation: str = None) -> Dict[str, Any]:
    """The union of fieldsV1 of `manager`'s entries (optionally only one operation)."""
    merged: Dict[str, Any] = {}

    def merge(into, src):
        for k, v in (src or {}).items():
            merge(into.setdefault(k, {}), v)

    for entry in managed_fields(obj):
        if entry.get("manager") == manager and (operation is None or entry.get("operation") == operation):
            merge(merged, entry.get("fieldsV1"))
    return merged


def owns(obj: Any, manager: str, *path: str) -> bool:
    node = fields_of(obj, manager)
    for part in path:
        if part not in node:
            return False
        node = node[part]
    return True


def cm_apply(name: str, data: Dict[str, str], labels: Dict[str, str] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if labels:
        body["metadata"]["labels"] = labels
    return body


# --------------------------------------------------------------------------------------------
# Strategic merge patch (core types)
# --------------------------------------------------------------------------------------------


def test_strategic_merge_patch_on_secret(core, namespace):
    name = unique_name("s")
    created = core.create_namespaced_secret(
        namespace, secret(name, {"a": "A", "b": "B"}, labels={"x": "1"}, annotations={"keep": "y", "drop": "z"})
    )
    patched = core.patch_namespaced_secret(
        name,
        namespace,
        {"metadata": {"labels": {"y": "2"}, "annotations": {"drop": None}}, "data": {"b": b64("B2"), "c": b64("C")}},
    )
    assert patched.metadata.labels == {"x": "1", "y": "2"}, patched.metadata.labels
    assert patched.metadata.annotations == {"keep": "y"}, f"null must delete the key: {patched.metadata.annotations}"
    assert {k: unb64(v) for k, v in patched.data.items()} == {"a": "A", "b": "B2", "c": "C"}
    assert rv(patched) > rv(created)
    assert core.read_namespaced_secret(name, namespace).data == patched.data


def test_strategic_merge_patch_merges_pod_containers_by_name(core, namespace):
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="app", image="app:1"), client.V1Container(name="sidecar", image="sidecar:1")]
        ),
    )
    core.create_namespaced_pod(namespace, pod)
    patched = core.patch_namespaced_pod("web", namespace, {"spec": {"containers": [{"name": "app", "image": "app:2"}]}})
    images = {c.name: c.image for c in patched.spec.containers}
    assert images == {"app": "app:2", "sidecar": "sidecar:1"}, (
        f"strategic merge patch merges spec.containers by name (patchMergeKey), got {images}"
    )


def test_strategic_merge_patch_via_dynamic_client_default(dyn, cm_res, core, namespace):
    name = unique_name("cm")
    core.create_namespaced_config_map(namespace, config_map(name, {"k1": "v1", "k2": "v2"}))
    patched = dyn.patch(cm_res, body={"data": {"k1": None, "k3": "v3"}}, name=name, namespace=namespace)
    assert as_dict(patched)["data"] == {"k2": "v2", "k3": "v3"}


# --------------------------------------------------------------------------------------------
# JSON merge patch
# --------------------------------------------------------------------------------------------


def test_merge_patch_on_configmap(dyn, cm_res, core, namespace):
    name = unique_name("cm")
    core.create_namespaced_config_map(namespace, config_map(name, {"k1": "v1", "k2": "v2"}, labels={"a": "1", "b": "2"}))
    patched = as_dict(
        dyn.patch(
            cm_res,
            body={"metadata": {"labels": {"b": None, "c": "3"}}, "data": {"k1": "changed", "k2": None}},
            name=name,
            namespace=namespace,
            content_type=MERGE,
        )
    )
    assert patched["data"] == {"k1": "changed"}
    assert patched["metadata"]["labels"] == {"a": "1", "c": "3"}


def test_merge_patch_on_custom_resource_and_generation(custom, namespace):
    name = unique_name("spc")
    created = custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name))
    assert created["metadata"].get("generation") == 1, f"generation starts at 1: {created['metadata']}"
    new_objects = [{"secretName": "other", "type": "Opaque", "data": [{"objectName": "x", "key": "y"}]}]
    patched = custom.patch_namespaced_custom_object(  # CustomObjectsApi sends application/merge-patch+json
        **SPC,
        namespace=namespace,
        name=name,
        body={"spec": {"parameters": {"keyvaultName": "kv2", "tenantId": None}, "secretObjects": new_objects}},
    )
    params = patched["spec"]["parameters"]
    assert params.get("keyvaultName") == "kv2"
    assert "tenantId" not in params, f"null must delete the key: {params}"
    assert "objects" in params, "keys not named in a merge patch must stay"
    assert patched["spec"]["secretObjects"] == new_objects, "a merge patch replaces lists wholesale"
    assert patched["metadata"]["generation"] == 2, f"a spec change bumps generation: {patched['metadata'].get('generation')}"

    labelled = custom.patch_namespaced_custom_object(**SPC, namespace=namespace, name=name, body={"metadata": {"labels": {"l": "1"}}})
    assert labelled["metadata"]["labels"] == {"l": "1"}
    assert labelled["metadata"]["generation"] == 2, "a metadata-only change must not bump generation"
    assert rv(labelled) > rv(patched)


def test_strategic_merge_patch_on_custom_resource_is_415(dyn, spc_res, custom, namespace):
    name = unique_name("spc")
    before = custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name))
    ex = expect_api_error(
        dyn.patch, spc_res, body={"spec": {"provider": "other"}}, name=name, namespace=namespace, status=415
    )  # DynamicClient.patch defaults to application/strategic-merge-patch+json
    body = status_body(ex)
    assert body.get("reason") == "UnsupportedMediaType", f"415 Status reason: {ex.body!r}"
    after = custom.get_namespaced_custom_object(**SPC, namespace=namespace, name=name)
    assert after["spec"]["provider"] == "azure" and rv(after) == rv(before)


# --------------------------------------------------------------------------------------------
# JSON patch
# --------------------------------------------------------------------------------------------


def test_json_patch_on_secret(core, namespace):
    name = unique_name("s")
    core.create_namespaced_secret(
        namespace, secret(name, {"a": "A"}, labels={"x": "1"}, annotations={"example.com/drop": "z", "keep": "k"})
    )
    patched = core.patch_namespaced_secret(  # a list body makes the typed client send application/json-patch+json
        name,
        namespace,
        [
            {"op": "test", "path": "/data/a", "value": b64("A")},
            {"op": "replace", "path": "/data/a", "value": b64("A2")},
            {"op": "add", "path": "/data/b", "value": b64("B")},
            {"op": "add", "path": "/metadata/labels/y", "value": "2"},
            {"op": "remove", "path": "/metadata/annotations/example.com~1drop"},  # RFC 6901: "~1" is "/"
        ],
    )
    assert {k: unb64(v) for k, v in patched.data.items()} == {"a": "A2", "b": "B"}
    assert patched.metadata.labels == {"x": "1", "y": "2"}
    assert patched.metadata.annotations == {"keep": "k"}


def test_json_patch_failing_test_op_is_422_and_changes_nothing(core, namespace):
    name = unique_name("s")
    created = core.create_namespaced_secret(namespace, secret(name, {"a": "A"}))
    expect_api_error(
        core.patch_namespaced_secret,
        name,
        namespace,
        [
            {"op": "replace", "path": "/data/a", "value": b64("changed")},
            {"op": "test", "path": "/data/a", "value": b64("not-the-value")},
        ],
        status=422,
    )
    current = core.read_namespaced_secret(name, namespace)
    assert unb64(current.data["a"]) == "A", "a JSON patch is atomic: nothing may be applied when an op fails"
    assert current.metadata.resource_version == created.metadata.resource_version


def test_json_patch_on_custom_resource(dyn, spc_res, custom, namespace):
    name = unique_name("spc")
    created = custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name))
    extra = {"secretName": "appended", "type": "Opaque", "data": [{"objectName": "o", "key": "k"}]}
    patched = as_dict(
        dyn.patch(
            spc_res,
            body=[
                {"op": "test", "path": "/spec/provider", "value": "azure"},
                {"op": "replace", "path": "/spec/parameters/keyvaultName", "value": "kv3"},
                {"op": "add", "path": "/spec/secretObjects/-", "value": extra},
            ],
            name=name,
            namespace=namespace,
            content_type=JSON_PATCH,
        )
    )
    assert patched["spec"]["parameters"]["keyvaultName"] == "kv3"
    assert patched["spec"]["secretObjects"][-1] == extra and len(patched["spec"]["secretObjects"]) == 2
    assert patched["metadata"]["generation"] == created["metadata"]["generation"] + 1


# --------------------------------------------------------------------------------------------
# Server-side apply
# --------------------------------------------------------------------------------------------


def test_apply_creates_the_object_and_records_managed_fields(dyn, cm_res, core, namespace):
    name = unique_name("cm")
    applied = dyn.server_side_apply(
        cm_res, body=cm_apply(name, {"k1": "v1"}, labels={"app": "akvs"}), namespace=namespace, field_manager="mgr-a"
    )
    got = core.read_namespaced_config_map(name, namespace)
    assert got.data == {"k1": "v1"} and got.metadata.labels == {"app": "akvs"}
    entries = managed_fields(applied)
    apply_entries = [e for e in entries if e.get("manager") == "mgr-a"]
    assert len(apply_entries) == 1, f"managedFields: {entries}"
    entry = apply_entries[0]
    assert entry.get("operation") == "Apply", entry
    assert entry.get("apiVersion") == "v1", entry
    assert entry.get("fieldsType") == "FieldsV1", entry
    assert entry.get("time"), f"managedFields entry without time: {entry}"
    assert owns(applied, "mgr-a", "f:data", "f:k1"), f"mgr-a should own .data.k1: {entry}"
    assert owns(applied, "mgr-a", "f:metadata", "f:labels", "f:app"), f"mgr-a should own .metadata.labels.app: {entry}"


def test_apply_requires_field_manager(dyn, cm_res, core, namespace):
    # kube-apiserver validates PatchOptions first: 422 Invalid,
    # 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'.
    name = unique_name("cm")
    ex = expect_api_error(dyn.server_side_apply, cm_res, body=cm_apply(name, {"k": "v"}), namespace=namespace, status=422, reason="Invalid")
    assert "fieldManager" in (status_body(ex).get("message") or ""), ex.body
    expect_api_error(core.read_namespaced_config_map, name, namespace, status=404, reason="NotFound")


def test_apply_conflict_shared_ownership_and_force(dyn, cm_res, core, namespace):
    name = unique_name("cm")
    dyn.server_side_apply(cm_res, body=cm_apply(name, {"k1": "a"}), namespace=namespace, field_manager="mgr-a")
    before = core.read_namespaced_config_map(name, namespace)

    ex = expect_api_error(
        dyn.server_side_apply, cm_res, body=cm_apply(name, {"k1": "b"}), namespace=namespace, field_manager="mgr-b", status=409, reason="Conflict"
    )
    assert "mgr-a" in (status_body(ex).get("message") or ""), f"the conflict message should name the owning manager: {ex.body!r}"
    unchanged = core.read_namespaced_config_map(name, namespace)
    assert unchanged.data == {"k1": "a"} and unchanged.metadata.resource_version == before.metadata.resource_version

    shared = dyn.server_side_apply(cm_res, body=cm_apply(name, {"k1": "a"}), namespace=namespace, field_manager="mgr-b")
    assert owns(shared, "mgr-a", "f:data", "f:k1") and owns(shared, "mgr-b", "f:data", "f:k1"), (
        f"applying the same value is no conflict; both managers share .data.k1: {managed_fields(shared)}"
    )

    forced = dyn.server_side_apply(
        cm_res, body=cm_apply(name, {"k1": "b"}), namespace=namespace, field_manager="mgr-b", force_conflicts=True
    )
    assert as_dict(forced)["data"] == {"k1": "b"}
    assert owns(forced, "mgr-b", "f:data", "f:k1")
    assert not owns(forced, "mgr-a", "f:data", "f:k1"), f"force takes .data.k1 away from mgr-a: {managed_fields(forced)}"


def test_apply_conflicts_with_an_update_manager(dyn, cm_res, core, namespace):
    name = unique_name("cm")
    core.create_namespaced_config_map(namespace, config_map(name, {"k1": "created"}))
    edited = core.patch_namespaced_config_map(name, namespace, {"data": {"k1": "edited"}}, field_manager="editor")
    entries = [e for e in managed_fields(edited) if e.get("manager") == "editor"]
    assert [e.get("operation") for e in entries] == ["Update"], f"managedFields after a patch by 'editor': {managed_fields(edited)}"
    assert owns(edited, "editor", "f:data", "f:k1")

    ex = expect_api_error(
        dyn.server_side_apply, cm_res, body=cm_apply(name, {"k1": "applied"}), namespace=namespace, field_manager="mgr-a", status=409, reason="Conflict"
    )
    assert "editor" in (status_body(ex).get("message") or ""), ex.body
    forced = dyn.server_side_apply(
        cm_res, body=cm_apply(name, {"k1": "applied"}), namespace=namespace, field_manager="mgr-a", force_conflicts=True
    )
    assert as_dict(forced)["data"]["k1"] == "applied"


def test_apply_conflicts_with_its_own_name_under_update(dyn, cm_res, core, namespace):
    """A manager is its name and its operation, as in kube-apiserver (kubernetes/kubernetes#107417): fields
    'akvs' set by a create (Update) conflict with an Apply by 'akvs' that changes them."""
    name = unique_name("cm")
    created = core.create_namespaced_config_map(namespace, config_map(name, {"k1": "created"}), field_manager="akvs")
    assert [e.get("operation") for e in managed_fields(created) if e.get("manager") == "akvs"] == ["Update"]
    same = dyn.server_side_apply(cm_res, body=cm_apply(name, {"k1": "created"}), namespace=namespace, field_manager="akvs")
    assert as_dict(same)["data"]["k1"] == "created", "applying the same value is shared ownership, not a conflict"
    ex = expect_api_error(
        dyn.server_side_apply, cm_res, body=cm_apply(name, {"k1": "changed"}), namespace=namespace, field_manager="akvs", status=409, reason="Conflict"
    )
    assert "akvs" in (status_body(ex).get("message") or ""), ex.body


def test_apply_removes_fields_the_manager_stops_applying(dyn, cm_res, core, namespace):
    name = unique_name("cm")
    dyn.server_side_apply(
        cm_res, body=cm_apply(name, {"k1": "1", "k2": "2"}, labels={"l1": "x", "l2": "y"}), namespace=namespace, field_manager="mgr-a"
    )
    dyn.server_side_apply(cm_res, body=cm_apply(name, {"k3": "3"}), namespace=namespace, field_manager="mgr-b")
    after = dyn.server_side_apply(cm_res, body=cm_apply(name, {"k1": "1"}, labels={"l1": "x"}), namespace=namespace, field_manager="mgr-a")
    got = core.read_namespaced_config_map(name, namespace)
    assert got.data == {"k1": "1", "k3": "3"}, f"k2 (only mgr-a applied it) must go, k3 (mgr-b's) must stay: {got.data}"
    assert got.metadata.labels == {"l1": "x"}, got.metadata.labels
    assert not owns(after, "mgr-a", "f:data", "f:k2")


def test_apply_on_custom_resource_and_noop_writes(dyn, ss_res, custom, namespace):
    name = unique_name("ss")
    body = secretsync_body(name, target_key="password")
    first = as_dict(dyn.server_side_apply(ss_res, body=body, namespace=namespace, field_manager="akvs"))
    assert first["metadata"]["generation"] == 1
    assert first["spec"]["secretObject"]["data"] == [{"sourcePath": "plain", "targetKey": "password"}]

    again = as_dict(dyn.server_side_apply(ss_res, body=body, namespace=namespace, field_manager="akvs"))
    assert rv(again) == rv(first), "re-applying identical content is a no-op: resourceVersion must not change"
    assert again["metadata"]["generation"] == 1

    current = custom.get_namespaced_custom_object(**SECRETSYNC, namespace=namespace, name=name)
    replaced = custom.replace_namespaced_custom_object(**SECRETSYNC, namespace=namespace, name=name, body=current)
    assert rv(replaced) == rv(first), "a PUT that changes nothing is a no-op: resourceVersion must not change"

    changed = as_dict(
        dyn.server_side_apply(ss_res, body=secretsync_body(name, target_key="other"), namespace=namespace, field_manager="akvs")
    )
    assert changed["metadata"]["generation"] == 2
    assert changed["spec"]["secretObject"]["data"] == [{"sourcePath": "plain", "targetKey": "other"}]


# --------------------------------------------------------------------------------------------
# DynamicClient discovery and CRUD
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_version, kind, plural, subresources",
    [
        ("v1", "Namespace", "namespaces", None),  # kube-apiserver also serves namespaces/status and /finalize
        ("v1", "Secret", "secrets", set()),
        ("v1", "ConfigMap", "configmaps", set()),
        ("v1", "ServiceAccount", "serviceaccounts", {"token"}),
        ("v1", "Pod", "pods", None),
        ("v1", "Event", "events", set()),
        ("events.k8s.io/v1", "Event", "events", set()),
        ("coordination.k8s.io/v1", "Lease", "leases", set()),
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass", "secretproviderclasses", set()),
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClassPodStatus", "secretproviderclasspodstatuses", set()),
        ("secret-sync.x-k8s.io/v1alpha1", "SecretSync", "secretsyncs", {"status"}),
        ("secret-sync.x-k8s.io/v1alpha1", "AKVSync", "akvsyncs", {"status"}),
    ],
)
def test_dynamic_client_discovers(dyn, api_version, kind, plural, subresources):
    res = dyn.resources.get(api_version=api_version, kind=kind)
    assert res.name == plural
    assert res.group_version == api_version
    assert res.namespaced is (kind != "Namespace")
    if subresources is not None:
        assert set(res.subresources) == subresources, f"{kind} subresources {sorted(res.subresources)}, expected {sorted(subresources)}"
    assert dyn.version["kubernetes"].get("gitVersion"), dyn.version


def test_dynamic_client_crud_on_custom_resource(dyn, spc_res, namespace):
    name = unique_name("spc")
    created = as_dict(dyn.create(spc_res, body=spc_body(name), namespace=namespace))
    assert created["metadata"]["name"] == name
    listed = as_dict(dyn.get(spc_res, namespace=namespace))
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]
    got = as_dict(dyn.get(spc_res, name=name, namespace=namespace))
    got["spec"]["provider"] = "other"
    replaced = as_dict(dyn.replace(spc_res, body=got, namespace=namespace))
    assert replaced["spec"]["provider"] == "other"
    deleted = dyn.delete(spc_res, name=name, namespace=namespace)
    assert deleted is not None
    assert as_dict(dyn.get(spc_res, namespace=namespace))["items"] == []
