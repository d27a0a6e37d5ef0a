"""`akvs doctor` as a user runs it: the binary, a kubeconfig, a real sync controller and the emulator.

The cluster gets what the chart installs for the sync controller (its Deployment, ServiceAccount and the
ClusterRole for TokenRequests) through the official kubernetes client; `akvs sync-controller` runs as a
process and holds the real leader Lease. The doctor's text and JSON output, exit codes and usage errors
are checked, and no secret value may appear in either output.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO_ROOT, wait_until
from test_sync_controller_cli import start_emulator, start_sync_controller, stop

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
CLIENT_ID = "88888888-8888-4888-8888-888888888888"
CANARY = "doctor-canary-value"


@pytest.fixture(scope="module")
def cluster(kube_server, tmp_path_factory, core, custom):
    from kubernetes import client

    work = tmp_path_factory.mktemp("doctor-cli")
    jwks = urllib.request.urlopen(kube_server.url + "/openid/v1/jwks").read().decode()
    emulator, creds = start_emulator(work,
        f"vaults:\n  - name: doc-kv\n    secrets:\n      - {{name: db, value: {CANARY}}}\n"
        f"identities:\n  - name: sync\n    clientId: {CLIENT_ID}\n    access: {{doc-kv: read}}\n"
        f"    federatedCredentials:\n      - {{issuer: \"{kube_server.url}\", subject: \"system:serviceaccount:shop:app\"}}\n"
        f"issuers:\n  - issuer: \"{kube_server.url}\"\n    jwks: {jwks}\n")
    controller = start_sync_controller(kube_server.kubeconfig, creds, work, "--leader-elect")

    # What the chart installs for the controller (the process above stands in for its pod).
    apps = client.AppsV1Api(core.api_client)
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    core.create_namespaced_service_account("default", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="akvs-sync")))
    labels = {"app": "secrets-store-sync-controller"}
    apps.create_namespaced_deployment("default", client.V1Deployment(
        metadata=client.V1ObjectMeta(name="akvs-sync", labels=labels),
        spec=client.V1DeploymentSpec(replicas=1, selector=client.V1LabelSelector(match_labels=labels), template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels),
            spec=client.V1PodSpec(service_account_name="akvs-sync", containers=[client.V1Container(
                name="manager", image="akvs:0.1.0", args=["sync-controller", "--rotation-poll-interval=3600s", "--jitter-seconds=0",
                                                          "--enable-partial-secret-sync=false", "--leader-elect"])])))))
    apps.patch_namespaced_deployment_status("akvs-sync", "default", {"status": {"replicas": 1, "readyReplicas": 1}})
    rbac.create_cluster_role(client.V1ClusterRole(metadata=client.V1ObjectMeta(name="akvs-sync"), rules=[
        client.V1PolicyRule(api_groups=[""], resources=["serviceaccounts/token"], verbs=["create"])]))
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name="akvs-sync"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="akvs-sync"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="akvs-sync", namespace="default")]))

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shop")))
    core.create_namespaced_service_account("shop", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="app")))
    custom.create_namespaced_custom_object("secrets-store.csi.x-k8s.io", "v1", "shop", "secretproviderclasses", {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "azure", "parameters": {
            "keyvaultName": "doc-kv", "tenantId": creds["tenantId"], "clientID": CLIENT_ID, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": creds["cloudEnvFile"], "objects": "array:\n  - |\n    objectName: db\n    objectType: secret\n"}},
    })
    custom.create_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", "shop", "secretsyncs", {
        "apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": {"name": "db"},
        "spec": {"secretProviderClassName": "vault", "serviceAccountName": "app",
                 "secretObject": {"type": "Opaque", "data": [{"sourcePath": "db", "targetKey": "password"}]}},
    })

    def reconciled():
        sync = custom.get_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", "shop", "secretsyncs", "db")
        return sync if sync.get("status", {}).get("conditions") else None

    wait_until(reconciled, timeout=30, message=f"SecretSync shop/db never reconciled; log {work / 'controller.log'}")
    yield {"kubeconfig": str(kube_server.kubeconfig), "creds": creds}
    stop(controller, emulator)


def doctor(cluster, *args):
    return subprocess.run([str(AKVS_BIN), "doctor", *args, "--kubeconfig", cluster["kubeconfig"]], capture_output=True, text=True, timeout=60)


def test_healthy_secretsync_with_probe_is_all_ok(cluster):
    run = doctor(cluster, "secretsync", "db", "-n", "shop", "--probe", "--ca-file", cluster["creds"]["caFile"])
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "akvs doctor secretsync shop/db"
    assert all(line.startswith(("✓", "    ")) for line in lines[1:-1]), run.stdout
    assert any(line.startswith("✓ vault doc-kv secret/db: readable with this identity") for line in lines), run.stdout
    assert "✓ leader Lease default/29f1d54e.secret-sync.x-k8s.io: held by" in run.stdout
    assert CANARY not in run.stdout + run.stderr


def test_json_output_for_scripts(cluster):
    run = doctor(cluster, "secretsync", "db", "-n", "shop", "--output", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(run.stdout)
    assert document["target"] == "secretsync shop/db" and document["healthy"] is True
    assert document["summary"]["failure"] == 0
    assert {c["id"] for c in document["checks"]} >= {"secretSync", "secretProviderClass", "rbac.tokenRequest", "conditions", "secret", "controller.leader"}
    assert all(set(c) <= {"id", "status", "subject", "found", "fix"} for c in document["checks"])


def test_missing_pod_exits_1_with_the_fix(cluster):
    run = doctor(cluster, "pod", "ghost", "-n", "shop")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "✗ Pod shop/ghost: not found\n    fix: check the name and namespace: kubectl get pods -n shop" in run.stdout


def test_secret_owned_by_someone_else(cluster, core):
    from kubernetes import client

    core.create_namespaced_secret("shop", client.V1Secret(metadata=client.V1ObjectMeta(name="handmade"), string_data={"password": "x"}))
    from kubernetes.client import CustomObjectsApi
    CustomObjectsApi(core.api_client).create_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", "shop", "secretsyncs", {
        "apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": {"name": "handmade"},
        "spec": {"secretProviderClassName": "vault", "serviceAccountName": "app",
                 "secretObject": {"type": "Opaque", "data": [{"sourcePath": "db", "targetKey": "password"}]}},
    })
    run = doctor(cluster, "secretsync", "handmade", "-n", "shop", "--output", "json")
    assert run.returncode == 1, run.stdout + run.stderr
    failed = {c["id"]: c for c in json.loads(run.stdout)["checks"] if c["status"] == "failure"}
    assert "owned by nobody" in failed["secret"]["found"], failed
    assert "kubectl delete secret handmade -n shop" in failed["secret"]["fix"]


def test_usage_errors_name_the_flag(cluster):
    run = doctor(cluster, "pod", "web", "--output", "xml")
    assert run.returncode == 64, run.stdout + run.stderr
    assert "--output" in run.stderr and "xml" in run.stderr
    run = subprocess.run([str(AKVS_BIN), "doctor", "pod", "web", "--kubeconfig", "/nonexistent/kubeconfig"], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0 and "--kubeconfig '/nonexistent/kubeconfig'" in run.stderr, run.stderr


def test_cluster_report_reads_the_controller_settings(cluster):
    run = doctor(cluster, "cluster")
    assert "sync controller Deployment default/akvs-sync: 1/1 Ready; rotationPollIntervalInSeconds=3600s, jitterSeconds=0, enablePartialSecretSync=false" in run.stdout, run.stdout
    assert "service-account issuer" in run.stdout


def test_sample_output_for_the_docs(cluster, tmp_path_factory):
    """Writes the sample the docs show (DOCTOR_SAMPLE=path), and checks it reads top to bottom."""
    run = doctor(cluster, "secretsync", "db", "-n", "shop", "--probe", "--ca-file", cluster["creds"]["caFile"])
    target = os.environ.get("DOCTOR_SAMPLE")
    if target:
        Path(target).write_text(run.stdout)
    assert run.stdout.splitlines()[-1].startswith(f"{run.stdout.count(chr(10) + '✓')} ✓, 0 !, 0 ✗")
