"""The rendered manifests applied to the Kubernetes test server (over HTTPS, as kube-apiserver) with server-side apply
(the official `kubernetes` Python client).

One test per kind. A kind the test server does not serve yet (404 / not in discovery) is skipped with that
reason, so the test turns into a real check by itself once the server learns the kind; any other answer
is a failure.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from conftest import COMBINATIONS, KubeServer

kubernetes = pytest.importorskip("kubernetes", reason="pip install kubernetes (Interop/python/requirements.txt)")
from kubernetes import client, config, dynamic  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402
from kubernetes.dynamic.exceptions import ResourceNotFoundError  # noqa: E402

pytestmark = pytest.mark.kube_apply

SETTINGS = COMBINATIONS["everything"]
KINDS = ["CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
         "Service", "DaemonSet", "Deployment", "CSIDriver", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


def api_client(server: KubeServer) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


@pytest.fixture(scope="module")
def cluster(kube_server: KubeServer):
    api = api_client(kube_server)
    try:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="kube-system")))
    except ApiException as e:
        if e.status not in (404, 409):  # exists already, or the server has no Namespace kind
            raise
    yield dynamic.DynamicClient(api)
    api.close()


@pytest.fixture(scope="module")
def manifests(render) -> List[Dict[str, Any]]:
    return render(SETTINGS, include_crds=True).objects


def resource_for(cluster, obj):
    try:
        return cluster.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    except ResourceNotFoundError:
        cluster.resources.invalidate_cache()  # CRDs applied earlier in this module add kinds
        try:
            return cluster.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError:
            return None


def apply(cluster, obj):
    """Server-side apply; returns the stored object, or None when the server does not serve the kind."""
    resource = resource_for(cluster, obj)
    if resource is None:
        return None
    namespace = obj["metadata"].get("namespace") if resource.namespaced else None
    try:
        return resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=namespace,
                                          field_manager="helm", force_conflicts=True)
    except ApiException as e:
        if e.status == 404 and "could not find the requested resource" in (e.body or ""):
            return None  # the resource path itself is unknown to the server
        raise AssertionError(f"apply {obj['kind']} {obj['metadata']['name']}: HTTP {e.status} {e.body}") from e


@pytest.mark.parametrize("kind", KINDS)
def test_apply(cluster, manifests, kind):
    objects = [o for o in manifests if o["kind"] == kind]
    assert objects, f"the chart renders no {kind} with {SETTINGS}"
    unsupported = []
    for obj in objects:
        stored = apply(cluster, obj)
        if stored is None:
            unsupported.append(obj["metadata"]["name"])
            continue
        stored = stored.to_dict()
        assert stored["metadata"]["name"] == obj["metadata"]["name"]
        for key in ("spec", "rules", "roleRef", "subjects"):
            if key in obj:
                assert key in stored, f"{kind} {obj['metadata']['name']}: {key} not stored"
        if kind in ("DaemonSet", "Deployment"):
            want = [c.get("args") for c in obj["spec"]["template"]["spec"]["containers"]]
            got = [c.get("args") for c in stored["spec"]["template"]["spec"]["containers"]]
            assert got == want
    if unsupported:
        assert len(unsupported) == len(objects), f"{kind}: some objects applied, others answered 404: {unsupported}"
        pytest.skip(f"akvs-kube-test-server does not serve {kind} ({objects[0]['apiVersion']}) yet: 404")


def test_apply_is_idempotent(cluster, manifests):
    """A second apply of the same manifests (helm upgrade with no changes) changes nothing it stored."""
    for obj in manifests:
        first = apply(cluster, obj)
        if first is None:
            continue
        second = apply(cluster, obj)
        assert second.metadata.resourceVersion == first.metadata.resourceVersion, f"{obj['kind']} {obj['metadata']['name']} rewritten"
