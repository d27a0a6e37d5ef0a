"""Status subresource and generation on SecretSync/AKVSync (CustomObjectsApi), garbage collection
(propagationPolicy Background and Orphan) and delete preconditions."""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List

import pytest
from kubernetes import client

from conftest import (
    AKVSYNC,
    SECRETSYNC,
    SPCPS,
    akvsync_body,
    condition,
    config_map,
    expect_api_error,
    gone,
    meta,
    owner_reference,
    raw_json,
    rv,
    secret,
    secretsync_body,
    unique_name,
    wait_until,
    with_status,
)

# --------------------------------------------------------------------------------------------
# Status subresource and generation
# --------------------------------------------------------------------------------------------


class Kind:
    def __init__(self, plural, coords, make_body, status_a, status_b, change_spec):
        self.plural = plural
        self.coords = coords
        self.make_body = make_body
        self.status_a = status_a
        self.status_b = status_b
        self.change_spec = change_spec  # (spec) -> None, mutates in place

    def __repr__(self) -> str:
        return self.plural


def _ss_spec_change(spec: Dict[str, Any]) -> None:
    spec["serviceAccountName"] = "other-sa"


def _akv_spec_change(spec: Dict[str, Any]) -> None:
    spec["keyvaultName"] = "other-kv"


KINDS = [
    Kind(
        "secretsyncs",
        SECRETSYNC,
        secretsync_body,
        {"syncHash": "v1:aaaa", "conditions": [condition("Create", reason="CreateSucceeded")]},
        {"syncHash": "v1:bbbb", "conditions": [condition("Create", reason="CreateSucceeded"), condition("Update", reason="UpdateValueChangeOrForceUpdateSucceeded")]},
        _ss_spec_change,
    ),
    Kind(
        "akvsyncs",
        AKVSYNC,
        akvsync_body,
        {"observedGeneration": 1, "conditions": [condition("Ready", reason="Synced")]},
        {"observedGeneration": 1, "conditions": [condition("Ready", status="False", reason="ProviderError", message="boom")]},
        _akv_spec_change,
    ),
]


@pytest.fixture(params=KINDS, ids=repr)
def kind(request) -> Kind:
    return request.param


def _create(custom, kind: Kind, namespace: str, **body_kwargs) -> Dict[str, Any]:
    name = unique_name(kind.plural[:-1])
    return custom.create_namespaced_custom_object(**kind.coords, namespace=namespace, body=kind.make_body(name, **body_kwargs))


def _get(custom, kind: Kind, namespace: str, name: str) -> Dict[str, Any]:
    return custom.get_namespaced_custom_object(**kind.coords, namespace=namespace, name=name)


def test_create_ignores_status(custom, kind, namespace):
    created = _create(custom, kind, namespace, status=kind.status_a)
    assert not created.get("status"), f"status sent on create must be dropped (status subresource): {created.get('status')}"
    assert created["metadata"]["generation"] == 1
    assert not _get(custom, kind, namespace, created["metadata"]["name"]).get("status")


def test_status_writes_change_only_status(custom, kind, namespace):
    created = _create(custom, kind, namespace)
    name = created["metadata"]["name"]

    body = copy.deepcopy(created)
    body["status"] = kind.status_a
    kind.change_spec(body["spec"])  # must be ignored by /status
    body["metadata"].setdefault("labels", {})["via-status"] = "ignored"  # metadata other than RV is ignored too in kube
    put = custom.replace_namespaced_custom_object_status(**kind.coords, namespace=namespace, name=name, body=body)
    assert put["status"] == kind.status_a
    assert put["spec"] == created["spec"], "PUT /status must not change spec"
    assert put["metadata"]["generation"] == 1, "status writes never bump generation"
    assert "via-status" not in (put["metadata"].get("labels") or {}), "PUT /status must not change metadata.labels"
    assert rv(put) > rv(created)

    patched = custom.patch_namespaced_custom_object_status(
        **kind.coords, namespace=namespace, name=name, body={"status": kind.status_b, "spec": {"ignored": True}}
    )
    assert patched["status"] == kind.status_b
    assert patched["spec"] == created["spec"], "PATCH /status must not change spec"
    assert patched["metadata"]["generation"] == 1

    via_status_get = custom.get_namespaced_custom_object_status(**kind.coords, namespace=namespace, name=name)
    assert via_status_get["status"] == kind.status_b and via_status_get["spec"] == created["spec"]


def test_main_resource_writes_ignore_status(custom, kind, namespace):
    created = _create(custom, kind, namespace)
    name = created["metadata"]["name"]
    with_status_a = custom.patch_namespaced_custom_object_status(
        **kind.coords, namespace=namespace, name=name, body={"status": kind.status_a}
    )

    body = copy.deepcopy(with_status_a)
    kind.change_spec(body["spec"])
    body["status"] = kind.status_b
    put = custom.replace_namespaced_custom_object(**kind.coords, namespace=namespace, name=name, body=body)
    assert put["spec"] == body["spec"], "PUT on the main resource changes spec"
    assert put["status"] == kind.status_a, "PUT on the main resource must not change status"
    assert put["metadata"]["generation"] == 2, "a spec change bumps generation"

    patched = custom.patch_namespaced_custom_object(**kind.coords, namespace=namespace, name=name, body={"status": kind.status_b})
    assert patched["status"] == kind.status_a, "PATCH on the main resource must not change status"
    assert patched["metadata"]["generation"] == 2


def test_generation_bumps_only_on_spec_changes(custom, kind, namespace):
    created = _create(custom, kind, namespace)
    name = created["metadata"]["name"]
    generations: List[int] = [created["metadata"]["generation"]]

    labelled = custom.patch_namespaced_custom_object(**kind.coords, namespace=namespace, name=name, body={"metadata": {"labels": {"a": "b"}}})
    generations.append(labelled["metadata"]["generation"])
    status = custom.patch_namespaced_custom_object_status(**kind.coords, namespace=namespace, name=name, body={"status": kind.status_a})
    generations.append(status["metadata"]["generation"])
    spec = copy.deepcopy(status["spec"])
    kind.change_spec(spec)
    changed = custom.patch_namespaced_custom_object(**kind.coords, namespace=namespace, name=name, body={"spec": spec})
    generations.append(changed["metadata"]["generation"])
    assert generations == [1, 1, 1, 2], f"generation after create, label patch, status patch, spec patch: {generations}"
    assert rv(labelled) > rv(created) and rv(status) > rv(labelled) and rv(changed) > rv(status)


def test_status_update_with_stale_resource_version_conflicts(custom, kind, namespace):
    created = _create(custom, kind, namespace)
    name = created["metadata"]["name"]
    custom.patch_namespaced_custom_object_status(**kind.coords, namespace=namespace, name=name, body={"status": kind.status_a})
    stale = copy.deepcopy(created)
    stale["status"] = kind.status_b
    expect_api_error(
        custom.replace_namespaced_custom_object_status, **kind.coords, namespace=namespace, name=name, body=stale, status=409, reason="Conflict"
    )
    assert _get(custom, kind, namespace, name)["status"] == kind.status_a


def test_without_status_subresource_status_is_an_ordinary_field(custom, namespace):
    # SecretProviderClassPodStatus (written by the CSI driver) has no status subresource.
    status = {"podName": "web", "secretProviderClassName": "spc", "mounted": True, "targetPath": "/var/lib/kubelet/x", "objects": [{"id": "secret/plain", "version": "v1"}]}
    body = {"apiVersion": f"{SPCPS['group']}/{SPCPS['version']}", "kind": "SecretProviderClassPodStatus", "metadata": {"name": "web-ns-spc"}, "status": status}
    created = custom.create_namespaced_custom_object(**SPCPS, namespace=namespace, body=body)
    assert created.get("status") == status, "without a status subresource, create keeps status"
    patched = custom.patch_namespaced_custom_object(**SPCPS, namespace=namespace, name="web-ns-spc", body={"status": {"mounted": False}})
    assert patched["status"]["mounted"] is False and patched["status"]["podName"] == "web"
    expect_api_error(custom.get_namespaced_custom_object_status, **SPCPS, namespace=namespace, name="web-ns-spc", status=404)


# --------------------------------------------------------------------------------------------
# Garbage collection
# --------------------------------------------------------------------------------------------


def _owner_uids(obj: Any) -> List[str]:
    return [ref["uid"] for ref in (meta(obj).get("ownerReferences") or [])]


def test_background_deletion_removes_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, config_map("owner"))
    other_owner = core.create_namespaced_config_map(namespace, config_map("other-owner"))
    ref = owner_reference(owner, "v1", "ConfigMap")
    core.create_namespaced_secret(namespace, secret("only-child", owner_references=[ref]))
    core.create_namespaced_config_map(namespace, config_map("two-parents", owner_references=[ref, owner_reference(other_owner, "v1", "ConfigMap")]))
    core.create_namespaced_secret(namespace, secret("unrelated"))

    _, status, _ = with_status(core.delete_namespaced_config_map_with_http_info, "owner", namespace)  # default policy: Background
    assert status in (200, 202), status
    wait_until(lambda: gone(core.read_namespaced_config_map, "owner", namespace), message="owner deleted")
    wait_until(lambda: gone(core.read_namespaced_secret, "only-child", namespace), message="dependent whose only owner was deleted is collected")
    survivor = core.read_namespaced_config_map("two-parents", namespace)
    assert other_owner.metadata.uid in _owner_uids(survivor), "a dependent with a live owner must survive"
    core.read_namespaced_secret("unrelated", namespace)


def test_explicit_background_policy_and_custom_resource_owner(core, custom, namespace):
    owner = custom.create_namespaced_custom_object(**SECRETSYNC, namespace=namespace, body=secretsync_body("synced"))
    ref = owner_reference(owner, f"{SECRETSYNC['group']}/{SECRETSYNC['version']}", "SecretSync", controller=True)
    core.create_namespaced_secret(namespace, secret("synced", owner_references=[ref]))
    custom.delete_namespaced_custom_object(**SECRETSYNC, namespace=namespace, name="synced", propagation_policy="Background")
    wait_until(
        lambda: gone(core.read_namespaced_secret, "synced", namespace),
        message="the Secret owned (controller=true) by a deleted SecretSync is collected",
    )


def _delete_typed_body(core, dyn, name, namespace):
    core.delete_namespaced_config_map(name, namespace, body=client.V1DeleteOptions(propagation_policy="Orphan"))


def _delete_typed_query(core, dyn, name, namespace):
    core.delete_namespaced_config_map(name, namespace, propagation_policy="Orphan")


def _delete_dynamic_query(core, dyn, name, namespace):
    dyn.delete(dyn.resources.get(api_version="v1", kind="ConfigMap"), name=name, namespace=namespace, propagation_policy="Orphan")


@pytest.mark.parametrize(
    "delete",
    [_delete_typed_body, _delete_typed_query, _delete_dynamic_query],
    ids=["DeleteOptions-body", "propagationPolicy-query", "dynamic-client"],
)
def test_orphan_deletion_keeps_dependents(core, dyn, namespace, delete: Callable):
    owner = core.create_namespaced_config_map(namespace, config_map("owner"))
    other_owner = core.create_namespaced_config_map(namespace, config_map("other-owner"))
    ref = owner_reference(owner, "v1", "ConfigMap")
    core.create_namespaced_secret(namespace, secret("child", owner_references=[ref]))
    core.create_namespaced_secret(namespace, secret("two-parents", owner_references=[ref, owner_reference(other_owner, "v1", "ConfigMap")]))

    delete(core, dyn, "owner", namespace)
    wait_until(lambda: gone(core.read_namespaced_config_map, "owner", namespace), message="owner deleted")
    wait_until(
        lambda: owner.metadata.uid not in _owner_uids(core.read_namespaced_secret("child", namespace)),
        message="the ownerReference to the orphaning owner is removed from the dependent",
    )
    child = core.read_namespaced_secret("child", namespace)
    assert _owner_uids(child) == [], f"child ownerReferences: {meta(child).get('ownerReferences')}"

    def two_parents_released():
        current = core.read_namespaced_secret("two-parents", namespace)
        return current if owner.metadata.uid not in _owner_uids(current) else None

    two = wait_until(two_parents_released, message="the reference to the orphaning owner is removed, the other kept")
    assert _owner_uids(two) == [other_owner.metadata.uid]


# --------------------------------------------------------------------------------------------
# Delete responses and preconditions
# --------------------------------------------------------------------------------------------


def test_delete_answers_200_with_the_object_or_a_status(core, namespace):
    created = core.create_namespaced_config_map(namespace, config_map("bye"))
    status, body = raw_json(core.delete_namespaced_config_map, "bye", namespace)
    assert status == 200, status
    assert isinstance(body, dict), body
    if body.get("kind") == "Status":
        assert body.get("status") == "Success", body
    else:
        assert (body.get("kind"), body["metadata"]["name"], body["metadata"]["uid"]) == ("ConfigMap", "bye", created.metadata.uid), body
    assert gone(core.read_namespaced_config_map, "bye", namespace)


def test_delete_preconditions(core, custom, namespace):
    created = core.create_namespaced_secret(namespace, secret("guarded"))
    updated = core.patch_namespaced_secret("guarded", namespace, {"metadata": {"labels": {"v": "2"}}})

    stale_rv = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version))
    expect_api_error(core.delete_namespaced_secret, "guarded", namespace, body=stale_rv, status=409, reason="Conflict")
    wrong_uid = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="00000000-0000-4000-8000-000000000000"))
    expect_api_error(core.delete_namespaced_secret, "guarded", namespace, body=wrong_uid, status=409, reason="Conflict")
    assert core.read_namespaced_secret("guarded", namespace).metadata.uid == created.metadata.uid, "a failed precondition must not delete"

    matching = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=updated.metadata.resource_version, uid=created.metadata.uid)
    )
    core.delete_namespaced_secret("guarded", namespace, body=matching)
    assert gone(core.read_namespaced_secret, "guarded", namespace)

    ss = custom.create_namespaced_custom_object(**SECRETSYNC, namespace=namespace, body=secretsync_body("guarded-ss"))
    expect_api_error(
        custom.delete_namespaced_custom_object,
        **SECRETSYNC,
        namespace=namespace,
        name="guarded-ss",
        body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="00000000-0000-4000-8000-000000000000")),
        status=409,
        reason="Conflict",
    )
    custom.delete_namespaced_custom_object(
        **SECRETSYNC, namespace=namespace, name="guarded-ss", body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=ss["metadata"]["uid"]))
    )
    assert gone(custom.get_namespaced_custom_object, **SECRETSYNC, namespace=namespace, name="guarded-ss")
