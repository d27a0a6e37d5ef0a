"""helm lint --strict, Kubernetes 1.36 schema validation of every rendered object, CRDs without drift."""

from __future__ import annotations

import pytest
import yaml

import monitoring_crds
from conftest import CHART, COMBINATIONS, REPO_ROOT, run_helm, set_args

KUBERNETES_VERSION = "1.36.0"


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_helm_lint_strict(helm, combination):
    proc = run_helm(helm, ["lint", "--strict", str(CHART), *set_args(COMBINATIONS[combination])], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_every_object_validates_against_kubernetes_1_36(render, combination):
    from kubernetes_validate import utils
    import kubernetes_validate

    assert KUBERNETES_VERSION in utils.all_versions(), "kubernetes-validate has no 1.36 schemas (pip install kubernetes-validate==1.37.0)"
    rendered = render(COMBINATIONS[combination])
    assert rendered.objects
    failures = []
    for obj in rendered.objects:
        if obj["apiVersion"] == monitoring_crds.GROUP_VERSION:
            # Custom resources of the Prometheus operator: kubernetes-validate has no schema for them.
            failures += [f"{obj['kind']} {obj['metadata']['name']}: {e}" for e in monitoring_crds.validate(obj)]
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{obj['kind']} {obj['metadata']['name']}: {e.message} at {list(e.path)}")
    assert not failures, "\n".join(failures)


def test_validation_catches_a_bad_object():
    """The validator itself is strict: an unknown field fails."""
    import kubernetes_validate

    bad = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"name": "c", "imag": "x"}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_rendered_objects_are_unique_and_namespaced_where_they_should_be(render):
    rendered = render(COMBINATIONS["everything"])
    seen = set()
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CSIDriver", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    for o in rendered.objects:
        key = (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        assert key not in seen, key
        seen.add(key)
        if o["kind"] in cluster_scoped:
            assert "namespace" not in o["metadata"], key
        else:
            assert o["metadata"]["namespace"] == "kube-system", key


def test_no_secret_material_is_rendered(render):
    rendered = render(COMBINATIONS["everything"])
    assert not rendered.of_kind("Secret")
    lowered = rendered.text.lower()
    for word in ("clientsecret:", "password:", "begin private key", "begin rsa private key"):
        assert word not in lowered


def test_crds_are_the_deploy_crds():
    source = sorted(p.name for p in (REPO_ROOT / "deploy" / "crds").glob("*.yaml"))
    shipped = sorted(p.name for p in (CHART / "crds").iterdir())
    assert source and shipped == source, f"charts/akvs/crds {shipped} vs deploy/crds {source}"
    for name in source:
        a = (REPO_ROOT / "deploy" / "crds" / name).read_bytes()
        b = (CHART / "crds" / name).read_bytes()
        assert a == b, f"charts/akvs/crds/{name} differs from deploy/crds/{name}: cp deploy/crds/*.yaml charts/akvs/crds/"


def test_crds_are_installed_with_the_chart(render):
    rendered = render(include_crds=True)
    crds = sorted(o["metadata"]["name"] for o in rendered.of_kind("CustomResourceDefinition"))
    assert crds == ["akvsyncs.secret-sync.x-k8s.io", "secretproviderclasses.secrets-store.csi.x-k8s.io",
                    "secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io", "secretsyncs.secret-sync.x-k8s.io"]


def test_notes_render(helm):
    proc = run_helm(helm, ["install", "akvs", str(CHART), "--dry-run=client", "-n", "kube-system",
                           "--set", "syncController.enabled=true"])
    assert "kubectl get pods -n kube-system -l 'app in (secrets-store-csi-driver,secrets-store-provider-azure)'" in proc.stdout


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "akvs"
    assert chart["appVersion"] == "0.1.0"
    swift = (REPO_ROOT / "Sources" / "akvs" / "AKVS.swift").read_text()
    assert f'version: "{chart["appVersion"]}"' in swift, "appVersion must be the akvs binary's version"
