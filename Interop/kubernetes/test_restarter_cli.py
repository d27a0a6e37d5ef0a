"""`akvs restarter` as a process, driven with the official kubernetes client, end to end with the sync controller.

`akvs emulator` holds a vault secret; `akvs sync-controller` syncs it into a Secret through a SecretSync; Deployments
(AppsV1Api) read the Secret from env or mount a SecretProviderClass, annotated as for stakater/Reloader. A new value in
the vault reaches the Secret at the next poll, and `akvs restarter --restart-debounce 1s` restarts exactly the
Deployments that use it, once: the pod template's `kubectl.kubernetes.io/restartedAt`, an Event naming the Secret and
its SecretSync (never a value), the metric. A rotation recorded in a SecretProviderClassPodStatus restarts the
Deployments that mount that class. A restarted restarter restarts nothing twice.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from conftest import SECRETSYNC, SPC, SPCPS, wait_until
from processes import free_port
from test_sync_controller_cli import AKVS_BIN, CLIENT_ID, start, start_emulator, stop

NS = "restart-cli"
POLL = 2
DEBOUNCE = 1


def deployment(name: str, annotations=None, secret: str | None = "db", spc: str | None = None) -> client.V1Deployment:
    env = [client.V1EnvVar(name="PASSWORD", value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(name=secret, key="password")))] if secret else None
    volumes = [client.V1Volume(name="secrets", csi=client.V1CSIVolumeSource(driver="secrets-store.csi.k8s.io", read_only=True,
                                                                              volume_attributes={"secretProviderClass": spc}))] if spc else None
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations),
        spec=client.V1DeploymentSpec(replicas=1, selector=client.V1LabelSelector(match_labels={"app": name}), template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": name}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox:1.36", env=env)], volumes=volumes))))


def restarted_at(apps: client.AppsV1Api, name: str):
    d = apps.read_namespaced_deployment(name, NS)
    return (d.spec.template.metadata.annotations or {}).get("kubectl.kubernetes.io/restartedAt")


def restart_count(port: int, name: str) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith("akvs_restarts_total{") and f'name="{name}"' in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def start_restarter(kube_server, work: Path, metrics_port: int, name: str):
    return start([str(AKVS_BIN), "restarter", "--kubeconfig", str(kube_server.kubeconfig), "--restart-debounce", f"{DEBOUNCE}s",
                  "--leader-elect", "--leader-election-namespace", "default", "--metrics-bind-address", f"127.0.0.1:{metrics_port}",
                  "--health-probe-bind-address", f"127.0.0.1:{free_port()}", "--log-level", "info"],
                 "akvs restarter starting", work / f"{name}.log")


@pytest.fixture(scope="module")
def world(kube_server, api_client, core, custom, tmp_path_factory):
    if not AKVS_BIN.is_file():
        pytest.fail(f"akvs binary not found at {AKVS_BIN}; run swift build or set AKVS_BIN", pytrace=False)
    work = tmp_path_factory.mktemp("restarter-cli")
    jwks = urllib.request.urlopen(kube_server.url + "/openid/v1/jwks").read().decode()
    emulator, creds = start_emulator(work,
        "vaults:\n  - name: cli-kv\n    secrets:\n      - {name: db, value: first-value}\n"
        f"identities:\n  - name: sync\n    clientId: {CLIENT_ID}\n    access: {{cli-kv: read}}\n"
        f"    federatedCredentials:\n      - {{issuer: \"{kube_server.url}\", subject: \"system:serviceaccount:{NS}:app\"}}\n"
        f"issuers:\n  - issuer: \"{kube_server.url}\"\n    jwks: {jwks}\n")
    procs = [emulator]
    try:
        state = _start_world(kube_server, core, custom, work, creds, procs)
    except BaseException:
        stop(*procs)
        raise
    yield state
    stop(state["restarter"], *procs)


def _start_world(kube_server, core, custom, work: Path, creds, procs):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    core.create_namespaced_service_account(NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="app")))
    controller = start([str(AKVS_BIN), "sync-controller", "--kubeconfig", str(kube_server.kubeconfig), "--ca-file", creds["caFile"],
                        "--rotation-poll-interval", f"{POLL}s", "--object-cache-ttl", "0", "--metrics-bind-address", f"127.0.0.1:{free_port()}",
                        "--health-probe-bind-address", f"127.0.0.1:{free_port()}", "--log-level", "warning"],
                       "akvs sync-controller starting", work / "controller.log")
    procs.append(controller)
    custom.create_namespaced_custom_object(SPC["group"], SPC["version"], NS, SPC["plural"], {
        "apiVersion": f"{SPC['group']}/{SPC['version']}", "kind": "SecretProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "azure", "parameters": {"keyvaultName": "cli-kv", "tenantId": creds["tenantId"], "clientID": CLIENT_ID,
                                                     "cloudName": "AzureStackCloud", "cloudEnvFileName": creds["cloudEnvFile"],
                                                     "objects": "array:\n  - |\n    objectName: db\n    objectType: secret\n"}}})
    custom.create_namespaced_custom_object(SECRETSYNC["group"], SECRETSYNC["version"], NS, SECRETSYNC["plural"], {
        "apiVersion": f"{SECRETSYNC['group']}/{SECRETSYNC['version']}", "kind": "SecretSync", "metadata": {"name": "db"},
        "spec": {"serviceAccountName": "app", "secretProviderClassName": "vault",
                 "secretObject": {"type": "Opaque", "data": [{"sourcePath": "db", "targetKey": "password"}]}}})
    def synced():
        try:
            return core.read_namespaced_secret("db", NS)
        except ApiException:
            return None
    wait_until(synced, timeout=30, message=f"the SecretSync creates Secret db (log {work / 'controller.log'})")
    metrics_port = free_port()
    restarter = start_restarter(kube_server, work, metrics_port, "restarter")
    return {"work": work, "creds": creds, "metrics": metrics_port, "restarter": restarter}


def test_a_vault_change_restarts_the_deployments_that_use_it_once(world, kube_server, api_client, core, events_v1):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(NS, deployment("auto", {"reloader.stakater.com/auto": "true"}))
    apps.create_namespaced_deployment(NS, deployment("named", {"secret.reloader.stakater.com/reload": "db"}, secret=None))
    apps.create_namespaced_deployment(NS, deployment("plain"))
    wait_until(lambda: (apps.read_namespaced_deployment("auto", NS).metadata.annotations or {}).get("akvs.io/restart-inputs"), timeout=20,
               message="the restarter records the inputs it starts from")
    assert restarted_at(apps, "auto") is None and restarted_at(apps, "named") is None

    # A new version in the vault (the admin identity writes it through the Key Vault REST API the SDKs use).
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient
    creds = world["creds"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", creds["caFile"])
        credential = ClientSecretCredential(creds["tenantId"], creds["clientId"], creds["clientSecret"], authority=creds["authorityHost"],
                                            disable_instance_discovery=True)
        vault = SecretClient(creds["vaultUrls"]["cli-kv"], credential)
        changed = time.monotonic()
        vault.set_secret("db", "second-value")
        vault.close()
        credential.close()
    wait_until(lambda: restarted_at(apps, "auto") and restarted_at(apps, "named"), timeout=POLL * 3 + DEBOUNCE + 20,
               message="both annotated Deployments restart")
    took = time.monotonic() - changed
    # Poll interval (the sync controller) + the debounce window + the informers' latency.
    assert took <= POLL + DEBOUNCE + 10, f"the restart came {took:.1f} s after the vault change"
    notes = [e.note for e in events_v1.list_namespaced_event(NS).items if e.reason == "Restarted"]
    assert "Restarted: Secret db changed (synced by SecretSync db)" in notes, notes
    assert not any("second-value" in (n or "") or "first-value" in (n or "") for n in notes)
    time.sleep(POLL + DEBOUNCE + 1)  # further polls of the same value change nothing
    assert restart_count(world["metrics"], "auto") == 1 and restart_count(world["metrics"], "named") == 1
    assert restarted_at(apps, "plain") is None and restart_count(world["metrics"], "plain") == 0

    # A restarted restarter (or a failover) restarts nothing again for the same data.
    first = restarted_at(apps, "auto")
    stop(world["restarter"])
    world["metrics"] = free_port()
    world["restarter"] = start_restarter(kube_server, world["work"], world["metrics"], "restarter-2")
    time.sleep(DEBOUNCE + 3)
    assert restarted_at(apps, "auto") == first and restart_count(world["metrics"], "auto") == 0


def test_a_rotation_recorded_by_the_csi_driver_restarts_the_deployments_that_mount_the_class(world, api_client, custom):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(NS, deployment("mounts", {"secretproviderclass.reloader.stakater.com/reload": "vault"}, secret=None, spc="vault"))
    status = custom.create_namespaced_custom_object(SPCPS["group"], SPCPS["version"], NS, SPCPS["plural"], {
        "apiVersion": f"{SPCPS['group']}/{SPCPS['version']}", "kind": "SecretProviderClassPodStatus", "metadata": {"name": "mounts-1-restart-cli-vault"},
        "status": {"podName": "mounts-1", "secretProviderClassName": "vault", "mounted": True, "targetPath": "/t",
                   "objects": [{"id": "secret/db", "version": "v1"}]}})
    wait_until(lambda: (apps.read_namespaced_deployment("mounts", NS).metadata.annotations or {}).get("akvs.io/restart-inputs"), timeout=20,
               message="the restarter records the inputs of mounts")
    status["status"]["objects"] = [{"id": "secret/db", "version": "v2"}]
    custom.replace_namespaced_custom_object(SPCPS["group"], SPCPS["version"], NS, SPCPS["plural"], "mounts-1-restart-cli-vault", status)
    wait_until(lambda: restarted_at(apps, "mounts"), timeout=DEBOUNCE + 15, message="the Deployment mounting the rotated class restarts")
    assert restart_count(world["metrics"], "mounts") == 1
