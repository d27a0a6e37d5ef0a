"""`akvs migrate` end to end, as a user runs it, on a realistic "before" cluster.

The cluster (the Kubernetes test server, written to with the official kubernetes client) holds service-principal
workloads in three namespaces: a Deployment that also reads a secretObjects Secret through env, a StatefulSet
and a CronJob reading a PFX and a PEM certificate, a bare pod, version history, an alias, filePermission, a
subPath mount, a USGov SecretProviderClass and a Windows workload (both refused). Every stage runs with
--apply, then `akvs sync-controller` runs on the result against the emulator, and for every workload the files
its new Secret volume projects (computed from `items`) must be byte-identical, path for path and mode for
mode, to what `akvs mount` of the old SecretProviderClass writes. Every stage run twice changes nothing the
second time, and rollback restores the original manifests exactly.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, _running_server, raw_json, start_kube_test_server, wait_until
from test_sync_controller_cli import start_emulator, start_sync_controller, stop

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
SP_ID = "12121212-1212-4121-8121-121212121212"
SP_SECRET = "sp-secret-canary"
WI_ID = "34343434-3434-4343-8343-343434343434"
NAMESPACES = ["mig-a", "mig-b", "mig-c"]
CANARIES = ["db-canary-1", "api-canary-v1", "api-canary-v2", "api-canary-v3", SP_SECRET]
SPC_GROUP, SPC_VERSION = "secrets-store.csi.x-k8s.io", "v1"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def objects_block(*entries: str) -> str:
    return "array:\n" + "".join("  - |\n" + "".join(f"    {line}\n" for line in entry.strip().splitlines()) for entry in entries)


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory):
    """This module's server speaks HTTPS, as kube-apiserver does, so that kubectl (which sends no token over HTTP) can read it."""
    yield from _running_server(start_kube_test_server(tmp_path_factory, "kube-tls", tls=True))


@pytest.fixture(scope="module")
def world(kube_server, tmp_path_factory, core, custom):
    from kubernetes import client

    work = tmp_path_factory.mktemp("migrate")
    jwks = kube_server.raw_request("GET", "/openid/v1/jwks", token=None)[2].decode()
    federated = "".join(f"      - {{issuer: \"{kube_server.url}\", subject: \"system:serviceaccount:{ns}:akvs-sync\"}}\n" for ns in NAMESPACES)
    emulator, creds = start_emulator(work,
        "vaults:\n  - name: mig-kv\n    secrets:\n      - {name: db, value: db-canary-1}\n"
        "      - name: api\n        versions: [{value: api-canary-v1}, {value: api-canary-v2}, {value: api-canary-v3}]\n"
        "    certificates:\n      - {name: tls-pfx, subject: CN=pfx.test, dnsNames: [pfx.test], issuer: Emulator, kty: EC, curve: P-256}\n"
        "      - {name: tls-pem, subject: CN=pem.test, issuer: Self, kty: EC, curve: P-256, contentType: application/x-pem-file}\n"
        f"identities:\n  - name: sp\n    clientId: {SP_ID}\n    clientSecret: {SP_SECRET}\n    access: {{mig-kv: read}}\n"
        f"  - name: wi\n    clientId: {WI_ID}\n    access: {{mig-kv: read}}\n    federatedCredentials:\n{federated}"
        f"issuers:\n  - issuer: \"{kube_server.url}\"\n    jwks: {jwks}\n"
    )
    apps, batch = client.AppsV1Api(core.api_client), client.BatchV1Api(core.api_client)

    def spc(ns, name, objects, cloud="AzureStackCloud", secret_objects=None):
        params = {"keyvaultName": "mig-kv", "tenantId": creds["tenantId"], "cloudName": cloud, "objects": objects}
        if cloud == "AzureStackCloud":
            params["cloudEnvFileName"] = creds["cloudEnvFile"]
        body = {"apiVersion": f"{SPC_GROUP}/{SPC_VERSION}", "kind": "SecretProviderClass", "metadata": {"name": name, "namespace": ns},
                "spec": {"provider": "azure", "parameters": params}}
        if secret_objects:
            body["spec"]["secretObjects"] = secret_objects
        custom.create_namespaced_custom_object(SPC_GROUP, SPC_VERSION, ns, "secretproviderclasses", body)

    def csi_volume(name, spc_name, ref="creds"):
        return {"name": name, "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"secretProviderClass": spc_name},
                                      "nodePublishSecretRef": {"name": ref}}}

    def template(labels, volumes, mounts, env=None, node_selector=None):
        container = {"name": "app", "image": "busybox", "volumeMounts": mounts}
        if env:
            container["env"] = env
        spec = {"containers": [container], "volumes": volumes}
        if node_selector:
            spec["nodeSelector"] = node_selector
        return {"metadata": {"labels": labels}, "spec": spec}

    for ns in NAMESPACES:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="creds", labels={"secrets-store.csi.k8s.io/used": "true"}),
                                                          string_data={"clientid": SP_ID, "clientsecret": SP_SECRET}))

    # mig-a: a Deployment with an alias, a mode, version history, a PEM certificate, a subPath mount and an env consumer.
    spc("mig-a", "vault", objects_block("objectName: db\nobjectType: secret\nobjectAlias: database\nfilePermission: \"0400\"",
                                        "objectName: api\nobjectType: secret\nobjectVersionHistory: 3",
                                        "objectName: tls-pem\nobjectType: secret"),
        secret_objects=[{"secretName": "app-env", "type": "Opaque", "data": [{"objectName": "database", "key": "password"}]}])
    apps.create_namespaced_deployment("mig-a", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template(
            {"app": "web"}, [csi_volume("secrets", "vault")],
            [{"name": "secrets", "mountPath": "/mnt/secrets", "readOnly": True}, {"name": "secrets", "mountPath": "/etc/db-password", "subPath": "database"}],
            env=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-env", "key": "password"}}}])}})
    # The CSI driver's synced Secret, owned by the pod's SecretProviderClassPodStatus.
    core.create_namespaced_secret("mig-a", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "app-env", "labels": {"secrets-store.csi.k8s.io/managed": "true"},
                     "ownerReferences": [{"apiVersion": f"{SPC_GROUP}/v1", "kind": "SecretProviderClassPodStatus", "name": "web-x-mig-a-vault",
                                          "uid": "0b5e0c6e-5d7a-4a58-9bb3-000000000001"}]},
        "data": {"password": b64("db-canary-1")}})

    # mig-b: a StatefulSet and a CronJob reading a PFX (base64-decoded) and a certificate; a USGov SPC (refused).
    spc("mig-b", "certs", objects_block("objectName: tls-pfx\nobjectType: secret\nobjectFormat: pfx\nobjectEncoding: base64\nobjectAlias: server.pfx",
                                        "objectName: tls-pem\nobjectType: cert\nobjectAlias: ca.crt"))
    apps.create_namespaced_stateful_set("mig-b", {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": template({"app": "db"}, [csi_volume("tls", "certs")], [{"name": "tls", "mountPath": "/tls"}])}})
    batch.create_namespaced_cron_job("mig-b", {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {**template({"app": "report"}, [csi_volume("tls", "certs")],
                                                                                              [{"name": "tls", "mountPath": "/tls"}]),
                                                                                   }}}}})
    spc("mig-b", "gov", objects_block("objectName: db\nobjectType: secret"), cloud="AzureUSGovernmentCloud")
    apps.create_namespaced_deployment("mig-b", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gov-app"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gov"}},
                 "template": template({"app": "gov"}, [csi_volume("s", "gov")], [{"name": "s", "mountPath": "/s"}])}})

    # mig-c: a bare pod, and a Windows Deployment (refused with its SPC).
    spc("mig-c", "vault", objects_block("objectName: db\nobjectType: secret"))
    spc("mig-c", "winvault", objects_block("objectName: api\nobjectType: secret"))
    core.create_namespaced_pod("mig-c", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
                 "volumes": [csi_volume("s", "vault")]}})
    apps.create_namespaced_deployment("mig-c", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "win"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "win"}},
                 "template": template({"app": "win"}, [csi_volume("s", "winvault")], [{"name": "s", "mountPath": "C:\\s"}],
                                      node_selector={"kubernetes.io/os": "windows"})}})

    yield {"kubeconfig": str(kube_server.kubeconfig), "creds": creds, "work": work, "backup": work / "backup"}
    stop(emulator)


def migrate(world, *args, expect=(0,)):
    run = subprocess.run([str(AKVS_BIN), "migrate", *args, "--kubeconfig", world["kubeconfig"], "--output", "json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode in expect, f"akvs migrate {' '.join(args)} exited {run.returncode}\n{run.stdout}\n{run.stderr}"
    for canary in CANARIES:
        assert canary not in run.stdout + run.stderr, f"{canary} leaked from akvs migrate {args[0]}"
    return json.loads(run.stdout) if run.stdout.strip().startswith("{") else run.stdout


def acting(report):
    return [c for c in report["changes"] if c["operation"] in ("create", "update", "handover", "restart", "delete", "recreate")]


def originals(core, custom):
    """Every SPC and workload manifest as a user wrote it, for the rollback comparison."""
    from kubernetes import client

    def clean(obj):
        obj = copy.deepcopy(obj)
        obj.pop("status", None)
        for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"):
            obj.get("metadata", {}).pop(key, None)
        if obj["kind"] == "Pod":
            obj["spec"].pop("nodeName", None)
        return obj

    apps, batch = client.AppsV1Api(core.api_client), client.BatchV1Api(core.api_client)
    found = {}
    for ns in NAMESPACES:
        for spc in custom.list_namespaced_custom_object(SPC_GROUP, SPC_VERSION, ns, "secretproviderclasses")["items"]:
            found[("SecretProviderClass", ns, spc["metadata"]["name"])] = clean(spc)
        for lister, kind in ((apps.list_namespaced_deployment, "Deployment"), (apps.list_namespaced_stateful_set, "StatefulSet"),
                             (batch.list_namespaced_cron_job, "CronJob"), (core.list_namespaced_pod, "Pod")):
            _, data = raw_json(lister, ns)
            for item in data["items"]:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", "v1" if kind == "Pod" else ("batch/v1" if kind == "CronJob" else "apps/v1"))
                found[(kind, ns, item["metadata"]["name"])] = clean(item)
    return found


def finish_rollouts(core):
    """No controllers run on the test server: finish the rollouts as the Deployment and StatefulSet controllers would."""
    from kubernetes import client

    apps = client.AppsV1Api(core.api_client)
    for ns, name, kind in (("mig-a", "web", "deployment"), ("mig-b", "db", "stateful_set")):
        obj = getattr(apps, f"read_namespaced_{kind}")(name, ns)
        replicas = obj.spec.replicas
        getattr(apps, f"patch_namespaced_{kind}_status")(name, ns, {"status": {
            "observedGeneration": obj.metadata.generation, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas}})


def mount_files(world, spc, target):
    """What `akvs mount` of the old SPC (with its nodePublishSecretRef credentials) writes: path → (bytes, mode)."""
    spc_file = target.parent / f"{target.name}.spc.json"
    spc_file.write_text(json.dumps(spc))
    secret_file = target.parent / f"{target.name}.creds.json"
    secret_file.write_text(json.dumps({"apiVersion": "v1", "kind": "Secret", "stringData": {"clientid": SP_ID, "clientsecret": SP_SECRET}}))
    run = subprocess.run([str(AKVS_BIN), "mount", "-f", str(spc_file), "--node-publish-secret", str(secret_file), "--target", str(target),
                          "--ca-file", world["creds"]["caFile"]], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    files = {}
    for root, dirs, names in os.walk(target, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith("..")]  # the atomic writer's timestamped folders
        for name in names:
            path = Path(root) / name
            relative = path.relative_to(target).as_posix()
            if not relative.startswith(".."):
                files[relative] = (path.read_bytes(), stat.S_IMODE(os.stat(path).st_mode))
    return files


def projected_files(volume, secret):
    """What kubelet projects from a Secret volume with items: path → (bytes, mode)."""
    default = volume["secret"].get("defaultMode", 0o644)
    data = secret.data or {}
    return {item["path"]: (base64.b64decode(data[item["key"]]), item.get("mode", default)) for item in volume["secret"]["items"]}


def dump_cluster(core, custom, folder):
    """Every object the migration reads, as `kubectl get -o yaml` writes them (kind and apiVersion on each item)."""
    from kubernetes import client

    apps, batch = client.AppsV1Api(core.api_client), client.BatchV1Api(core.api_client)
    listers = ((core.list_namespaced_secret, "v1", "Secret"), (core.list_namespaced_service_account, "v1", "ServiceAccount"),
               (core.list_namespaced_pod, "v1", "Pod"), (apps.list_namespaced_deployment, "apps/v1", "Deployment"),
               (apps.list_namespaced_stateful_set, "apps/v1", "StatefulSet"), (batch.list_namespaced_cron_job, "batch/v1", "CronJob"))
    for ns in NAMESPACES:
        items = custom.list_namespaced_custom_object(SPC_GROUP, SPC_VERSION, ns, "secretproviderclasses")["items"]
        for lister, api_version, kind in listers:
            _, data = raw_json(lister, ns)
            assert all("kind" not in item for item in data["items"]), f"{kind} list items carry kind, unlike kube-apiserver's"
            items += [{"apiVersion": api_version, "kind": kind, **item} for item in data["items"]]
        (folder / f"{ns}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def test_live_and_file_runs_agree(world, core, custom, tmp_path):
    """The stages read a live cluster (list items without kind) exactly as they read the same objects from files."""
    files = tmp_path / "cluster"
    files.mkdir()
    dump_cluster(core, custom, files)
    live = migrate(world, "inventory", "--backup-dir", str(tmp_path / "live-backup"))
    offline = migrate(world, "inventory", "-f", str(files), "--backup-dir", str(tmp_path / "file-backup"))
    assert sorted(w["name"] for w in live["workloads"]) == ["db", "debug", "gov-app", "report", "web", "win"], live["workloads"]
    for key in ("classes", "workloads", "credentialSecrets"):
        assert live[key] == offline[key], key
    # The backup bundles hold the same complete manifests.
    for bundle in ("live-backup", "file-backup"):
        manifests = sorted((tmp_path / bundle / "manifests").rglob("*.json"))
        assert manifests and all(json.loads(m.read_text()).get("kind") and json.loads(m.read_text()).get("apiVersion") for m in manifests)
    assert sorted(p.relative_to(tmp_path / "live-backup").as_posix() for p in (tmp_path / "live-backup").rglob("*.json")) == \
        sorted(p.relative_to(tmp_path / "file-backup").as_posix() for p in (tmp_path / "file-backup").rglob("*.json"))
    # plan (translate and workloads; prepare reads the apiserver's issuer and version, which files do not have).
    live_plan = migrate(world, "plan", "--client-id", WI_ID, expect=(1,))
    file_plan = migrate(world, "plan", "-f", str(files), "--client-id", WI_ID, expect=(1,))
    def stages(report):
        return [c for c in report["changes"] if c["stage"] in ("translate", "workloads")]
    assert stages(live_plan) == stages(file_plan)
    assert any(c["operation"] == "update" and c["stage"] == "workloads" for c in stages(live_plan)), "the live plan rewrites workloads"


def test_every_stage_then_files_are_identical_then_rollback(world, core, custom):
    from kubernetes import client

    before = originals(core, custom)
    old_spcs = {key: value for key, value in before.items() if key[0] == "SecretProviderClass"}
    backup = str(world["backup"])

    # Stage 1: the inventory and its 0700 backup bundle, without a secret value in it.
    inventory = migrate(world, "inventory", "--backup-dir", backup)
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o700
    bundle_text = "".join(p.read_text() for p in Path(backup).rglob("*.json"))
    for canary in CANARIES:
        assert canary not in bundle_text
    web = next(w for w in inventory["workloads"] if w["name"] == "web")
    assert web["volumes"][0]["clientid"] == SP_ID and web["volumes"][0]["identity"] == "service principal"
    assert any("subPath" in w for w in web["warnings"])
    assert next(w for w in inventory["workloads"] if w["name"] == "win")["windows"] is True
    consumers = next(c for c in inventory["classes"] if c["name"] == "vault" and c["namespace"] == "mig-a")["secretObjects"][0]["consumers"]
    assert consumers == [{"container": "app", "how": "env secretKeyRef password", "workload": "Deployment/mig-a/web"}]
    # The bundle's manifests are complete: kubectl maps and applies them (a client-side dry run against the server;
    # --validate=false because the test server serves no OpenAPI documents; the chart suite validates against 1.36 schemas).
    kubectl = os.environ.get("KUBECTL")
    if kubectl:
        run = subprocess.run([kubectl, "apply", "--dry-run=client", "--validate=false", "-R", "-f", str(Path(backup) / "manifests"), "--kubeconfig", world["kubeconfig"]],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.count("(dry run)") == len(list((Path(backup) / "manifests").rglob("*.json"))), run.stdout

    # plan: one dry run of 1, 2, 4, 5; the USGov and Windows SPCs are blockers (exit 1), nothing changed.
    plan = migrate(world, "plan", "--client-id", WI_ID, expect=(1,))
    blocked = [c["detail"] for c in plan["changes"] if c["operation"] == "blocked"]
    assert any("AzureUSGovernmentCloud" in d for d in blocked) and any("Windows" in d for d in blocked), blocked

    # Stages 2, 4, 5 with --apply (exit 1: the refused ones stay, reported).
    prepare = migrate(world, "prepare", "--client-id", WI_ID, "--apply", expect=(0, 1))
    assert {c["namespace"] for c in prepare["changes"] if c["subject"] == "ServiceAccount/akvs-sync" and c["operation"] == "create"} == set(NAMESPACES)
    assert any(f"--subject system:serviceaccount:mig-a:akvs-sync --audience api://AzureADTokenExchange" in c["detail"] for c in prepare["changes"])
    migrate(world, "translate", "--client-id", WI_ID, "--apply", expect=(1,))
    migrate(world, "workloads", "--client-id", WI_ID, "--apply", "--recreate-bare-pods", expect=(1,))

    # Each stage run twice changes nothing the second time.
    for stage in (["prepare"], ["translate"], ["workloads", "--recreate-bare-pods"]):
        again = migrate(world, *stage, "--client-id", WI_ID, "--apply", expect=(0, 1))
        assert acting(again) == [], (stage, acting(again))

    refused = custom.get_namespaced_custom_object(SPC_GROUP, SPC_VERSION, "mig-b", "secretproviderclasses", "gov")
    assert refused["spec"] == before[("SecretProviderClass", "mig-b", "gov")]["spec"], "a refused SPC must stay untouched"

    # The sync controller on the result, against the emulator.
    controller = start_sync_controller(world["kubeconfig"], world["creds"], world["work"])
    try:
        finish_rollouts(core)
        verify = migrate(world, "verify", "--timeout", "60")
        assert verify["changes"][0]["detail"].startswith("verified"), verify

        # Files: byte-identical, path for path and mode for mode.
        checked = 0
        for (kind, ns, name), original in before.items():
            if kind == "SecretProviderClass" or (ns, name) in (("mig-b", "gov-app"), ("mig-c", "win")):
                continue
            spec_path = {"CronJob": ["spec", "jobTemplate", "spec", "template", "spec"], "Pod": ["spec"]}.get(kind, ["spec", "template", "spec"])
            now = originals(core, custom)[(kind, ns, name)]
            for key in spec_path:
                now = now[key]
            old_spec = original
            for key in spec_path:
                old_spec = old_spec[key]
            # Only the CSI volumes move; the others (a pod's kube-api-access token volume) stay as they were.
            for old_volume in (v for v in old_spec["volumes"] if "csi" in v):
                new_volume = next(v for v in now["volumes"] if v["name"] == old_volume["name"])
                assert "csi" not in new_volume and "nodePublishSecretRef" not in json.dumps(new_volume)
                spc_name = old_volume["csi"]["volumeAttributes"]["secretProviderClass"]
                expected = mount_files(world, old_spcs[("SecretProviderClass", ns, spc_name)], world["work"] / f"mount-{ns}-{name}-{old_volume['name']}")
                secret = core.read_namespaced_secret(new_volume["secret"]["secretName"], ns)
                assert projected_files(new_volume, secret) == expected, f"{kind} {ns}/{name} volume {old_volume['name']}"
                checked += 1
            # Mount paths are unchanged.
            old_mounts = [c["volumeMounts"] for c in old_spec["containers"]]
            assert [c["volumeMounts"] for c in now["containers"]] == old_mounts
        assert checked == 4  # web, db, report, debug

        # The env consumer's secretKeyRef still resolves, now owned by its SecretSync.
        env = core.read_namespaced_secret("app-env", "mig-a")
        assert base64.b64decode(env.data["password"]).decode() == "db-canary-1"
        assert [(o.kind, o.name) for o in env.metadata.owner_references] == [("SecretSync", "app-env")]
    finally:
        stop(controller)

    # rollback restores the original manifests exactly, and a second rollback changes nothing.
    migrate(world, "rollback", "--backup-dir", backup, "--apply")
    after = originals(core, custom)
    for key, original in before.items():
        assert after[key] == original, f"{key} differs after rollback"
    assert acting(migrate(world, "rollback", "--backup-dir", backup, "--apply")) == []

    # cleanup never deletes credentials too early: not without --confirm, not while a CSI volume still uses them.
    migrate(world, "cleanup", "--backup-dir", backup, "--apply", expect=(2,))
    kept = migrate(world, "cleanup", "--backup-dir", backup, "--apply", "--confirm", expect=(1,))
    assert not [c for c in kept["changes"] if c["operation"] == "delete"], kept
    assert all(core.read_namespaced_secret("creds", ns) for ns in NAMESPACES)

    # Migrate again, verify, then cleanup removes the credentials no remaining CSI volume uses, and the bundle.
    migrate(world, "workloads", "--client-id", WI_ID, "--apply", "--recreate-bare-pods", expect=(1,))
    finish_rollouts(core)
    migrate(world, "verify", "--timeout", "60")
    cleaned = migrate(world, "cleanup", "--backup-dir", backup, "--apply", "--confirm", expect=(1,))
    deleted = sorted((c["namespace"], c["subject"]) for c in cleaned["changes"] if c["operation"] == "delete")
    assert deleted == [("mig-a", "Secret/creds")], cleaned  # mig-b's USGov and mig-c's Windows workloads still mount with creds
    from kubernetes.client import ApiException
    with pytest.raises(ApiException):
        core.read_namespaced_secret("creds", "mig-a")
    core.read_namespaced_secret("creds", "mig-b")


def test_usage_errors_exit_2_and_name_the_flag(world):
    for args, needle in ((["plan", "--output", "xml"], "--output"), (["translate", "--client-id", "not-a-guid"], "--client-id"),
                         (["inventory", "-f", "/nonexistent", "--apply"], "-f"), (["cleanup", "--apply"], "--backup-dir")):
        run = subprocess.run([str(AKVS_BIN), "migrate", *args, "--kubeconfig", world["kubeconfig"]], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, (args, run.returncode, run.stdout, run.stderr)
        assert needle in run.stderr, (args, run.stderr)


def test_offline_mode_prints_manifests(world, tmp_path):
    manifests = tmp_path / "before.yaml"
    manifests.write_text(
        "apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata: {name: vault, namespace: shop}\n"
        "spec:\n  provider: azure\n  parameters:\n    keyvaultName: kv\n    tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "    objects: |\n      array:\n        - |\n          objectName: db\n          objectType: secret\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
        "      containers: [{name: app, image: busybox, volumeMounts: [{name: s, mountPath: /s}]}]\n"
        "      volumes: [{name: s, csi: {driver: secrets-store.csi.k8s.io, volumeAttributes: {secretProviderClass: vault}}}]\n")
    run = subprocess.run([str(AKVS_BIN), "migrate", "translate", "-f", str(manifests), "--client-id", WI_ID, "--output", "yaml"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "kind: SecretSync" in run.stdout and f"clientID: {WI_ID}" in run.stdout
    run = subprocess.run([str(AKVS_BIN), "migrate", "workloads", "-f", str(manifests), "--client-id", WI_ID, "--output", "yaml"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "secretName: vault-files" in run.stdout and "csi:" not in run.stdout


def test_akvsync_style_says_what_it_cannot_express(tmp_path):
    manifests = tmp_path / "certs.yaml"
    manifests.write_text(
        "apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata: {name: certs, namespace: shop}\n"
        "spec:\n  provider: azure\n  parameters:\n    keyvaultName: kv\n    tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "    objects: |\n      array:\n        - |\n          objectName: db\n          objectType: secret\n"
        "        - |\n          objectName: tls\n          objectType: cert\n"
        "  secretObjects:\n    - {secretName: only-db, type: Opaque, data: [{objectName: db, key: password}]}\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
        "      containers: [{name: app, image: busybox}]\n"
        "      volumes: [{name: s, csi: {driver: secrets-store.csi.k8s.io, volumeAttributes: {secretProviderClass: certs}}}]\n")
    run = subprocess.run([str(AKVS_BIN), "migrate", "translate", "-f", str(manifests), "--client-id", WI_ID, "--style", "akvsync", "--output", "json"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    changes = json.loads(run.stdout)["changes"]
    akv = next(c for c in changes if c["subject"] == "AKVSync/certs" and c["operation"] == "create")
    assert [o["kubernetesSecretName"] for o in akv["object"]["spec"]["objects"]] == ["only-db"]
    note = next(c for c in changes if c["operation"] == "note")
    assert "certs-files cannot be expressed as AKVSync (tls is objectType cert: AKVSync maps secrets only)" in note["detail"]
    assert any(c["subject"] == "SecretSync/certs-files" and c["operation"] == "create" for c in changes)
