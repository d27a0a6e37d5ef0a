"""`akvs sync-controller` as a process, driven with the official kubernetes client.

Starts `akvs emulator` trusting the kube test server's service-account issuer (workload identity),
then `akvs sync-controller --kubeconfig ...` against the test server, creates a SecretProviderClass
and a SecretSync with the kubernetes client, and checks the Secret, the status, the events and the
metrics endpoint. This proves the CLI wiring (flags, hash-key Secret, informers, provider) end to end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO_ROOT, b64, unb64, wait_until
from processes import free_port

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
CLIENT_ID = "77777777-7777-4777-8777-777777777777"


def start(args, ready_prefix, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    assert line.startswith(ready_prefix), f"{args[1]} did not start: {line!r}; log {log_path}"
    return proc


def start_emulator(work: Path, seed: str):
    """`akvs emulator` with `seed`; returns the process and its credentials.json."""
    (work / "seed.yaml").write_text(seed)
    proc = start([str(AKVS_BIN), "emulator", "--listen", "127.0.0.1:0", "--state-dir", str(work / "emu"), "--seed", str(work / "seed.yaml")],
                 "akvs emulator ready", work / "emulator.log")
    return proc, json.loads((work / "emu" / "credentials.json").read_text())


def start_sync_controller(kubeconfig, creds, work: Path, *extra: str, poll: str = "3600s"):
    """`akvs sync-controller` against the test server, trusting the emulator; its log is work/controller.log."""
    return start([str(AKVS_BIN), "sync-controller", "--kubeconfig", str(kubeconfig), "--ca-file", creds["caFile"],
                  "--rotation-poll-interval", poll, "--metrics-bind-address", f"127.0.0.1:{free_port()}",
                  "--health-probe-bind-address", f"127.0.0.1:{free_port()}", "--log-level", "warning", *extra],
                 "akvs sync-controller starting", work / "controller.log")


def stop(*procs):
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def stack(kube_server, tmp_path_factory):
    if not AKVS_BIN.is_file():
        pytest.fail(f"akvs binary not found at {AKVS_BIN}; run swift build or set AKVS_BIN", pytrace=False)
    work = tmp_path_factory.mktemp("sync-cli")
    jwks = urllib.request.urlopen(kube_server.url + "/openid/v1/jwks").read().decode()
    emulator, creds = start_emulator(work,
        "vaults:\n  - name: cli-kv\n    secrets:\n      - {name: db, value: db-from-vault}\n"
        f"identities:\n  - name: sync\n    clientId: {CLIENT_ID}\n    access: {{cli-kv: read}}\n"
        f"    federatedCredentials:\n      - {{issuer: \"{kube_server.url}\", subject: \"system:serviceaccount:cli:app\"}}\n"
        f"issuers:\n  - issuer: \"{kube_server.url}\"\n    jwks: {jwks}\n")
    metrics_port = free_port()
    controller = start([str(AKVS_BIN), "sync-controller", "--kubeconfig", str(kube_server.kubeconfig), "--ca-file", creds["caFile"],
                        "--rotation-poll-interval", "2s", "--metrics-bind-address", f"127.0.0.1:{metrics_port}",
                        "--health-probe-bind-address", f"127.0.0.1:{free_port()}", "--leader-elect", "--log-level", "warning"],
                       "akvs sync-controller starting", work / "controller.log")
    yield {"creds": creds, "metrics": metrics_port, "log": work / "controller.log"}
    stop(controller, emulator)


def test_secret_sync_end_to_end(stack, core, custom):
    from kubernetes import client

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="cli")))
    core.create_namespaced_service_account("cli", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="app")))
    creds = stack["creds"]
    custom.create_namespaced_custom_object("secrets-store.csi.x-k8s.io", "v1", "cli", "secretproviderclasses", {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "azure", "parameters": {
            "keyvaultName": "cli-kv", "tenantId": creds["tenantId"], "clientID": CLIENT_ID, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": creds["cloudEnvFile"], "objects": "array:\n  - |\n    objectName: db\n    objectType: secret\n"}},
    })
    custom.create_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", "cli", "secretsyncs", {
        "apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": {"name": "db"},
        "spec": {"secretProviderClassName": "vault", "serviceAccountName": "app",
                 "secretObject": {"type": "Opaque", "data": [{"sourcePath": "db", "targetKey": "password"}]}},
    })

    def synced():
        try:
            return core.read_namespaced_secret("db", "cli")
        except client.ApiException:
            return None

    secret = wait_until(synced, timeout=30, message=f"Secret cli/db never appeared; controller log: {stack['log']}")
    assert unb64(secret.data["password"]) == "db-from-vault"
    assert secret.metadata.labels["secrets-store.sync.x-k8s.io"] == ""
    assert [(o.kind, o.name) for o in secret.metadata.owner_references] == [("SecretSync", "db")]

    # The status write follows the Secret's create, so it can land a moment later.
    def with_status():
        sync = custom.get_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", "cli", "secretsyncs", "db")
        return sync if sync.get("status", {}).get("conditions") else None

    sync = wait_until(with_status, timeout=30, message=f"SecretSync cli/db never got a status; controller log: {stack['log']}")
    reasons = {c["type"]: c["reason"] for c in sync["status"]["conditions"]}
    assert reasons.get("Create") == "CreateSucceeded", sync["status"]
    assert sync["status"]["syncHash"]

    # The hash key lives in a Secret of the controller's namespace (the kubeconfig's: default).
    assert core.read_namespaced_secret("akvs-sync-controller-hash-key", "default").data["key"]
    # Leader election holds the upstream Lease.
    lease = client.CoordinationV1Api(core.api_client).read_namespaced_lease("29f1d54e.secret-sync.x-k8s.io", "default")
    assert lease.spec.holder_identity

    def scraped():
        text = urllib.request.urlopen(f"http://127.0.0.1:{stack['metrics']}/metrics").read().decode()
        return text if 'akvs_sync_reconcile_total{reason="CreateSucceeded"}' in text else None

    metrics = wait_until(scraped, timeout=10, message="akvs_sync_reconcile_total{reason=\"CreateSucceeded\"} never appeared")
    assert "db-from-vault" not in metrics
