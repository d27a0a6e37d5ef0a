"""Nothing secret in any output: one scenario with canary values through every role and tool, at debug level.

Canaries: the vault's secret values (and a rotated version), the private keys of a PEM and a PKCS#12 certificate,
a service principal's client secret (the nodePublishSecretRef Secret), a wrong one, and one put into the `clientid` key
(the two keys swapped, a user's mistake), the emulator's own client secret, a client secret pasted into a
SecretProviderClass's clientID, the service-account tokens kubelet hands the CSI driver (volume context
`csi.storage.k8s.io/serviceAccount.tokens`) and the ones this test minted for the roles, `akvs mount` and the admin, and
Entra access tokens the emulator issues (minted here with both kinds of credential).

The chart (both roles, syncSecret, drift repair, rotation, `logVerbosity=4`: `--log-level=debug`) is rendered and
applied to the Kubernetes test server; each role runs with its own service account's token and the chart's
arguments (as in test_rbac_least_privilege.py), the emulator with `--log-level debug`. The scenario:
- `akvs csi-driver` + `akvs provider`: publish with a service principal and with workload identity (secretObjects
  sync; the API throttles one request, which the driver logs at debug level), a republish while the vault fails, a
  rotation on republish, publishes that fail with a wrong client secret and with the keys swapped, unpublish;
- `akvs sync-controller`: a SecretSync that syncs, fails while the vault does, then rotates; one whose service account
  has no federated identity; one whose object is missing from the vault; an AKVSync; a throttled API request;
- `akvs doctor pod|secretsync|cluster`, with and without `--probe`, text and `--output json`, on healthy and
  failing targets; `akvs migrate inventory|plan|translate|workloads` live and offline (`-f`), json and yaml;
  `akvs mount` (service principal, workload identity, a wrong secret, swapped keys, a pasted clientID); `akvs validate`
  on manifests holding the canaries (Secrets with stringData and data, an SPC with a pasted client secret, a Secret
  with misspelt keys), text and json, for csi and sync; `akvs demo` (its own canaries: examples/ and what it mounted).

Then every byte of: each process's stdout and stderr, every Event (core and events.k8s.io), every SecretSync,
SecretProviderClassPodStatus, AKVSync and SecretProviderClass, the metadata (annotations included, data not) of
every Secret, every /metrics page, every report the tools printed, the gRPC error of the failed publish and the
migration backup bundles is scanned for: the canary values (and their base64), any 32-character piece of a private
key's base64, a PEM private-key header, anything JWT-shaped, and any 12-character piece of a known token (so a
truncated token is caught too; the tokens of one issuer share their header, so a cut-off prefix of any of them is
caught). Not scanned: the data of Secrets (where synced values belong), mounted files, the emulator's state folder
(the vault) and the Kubernetes test server's own log (the stand-in for kube-apiserver). A hit fails naming where
and which canary, never the value. KNOWN_LEAKS lists findings that wait for a code fix; they still fail.

Needs root (the driver mounts tmpfs), as test_csi_driver_cli.py; helm as test_rbac_least_privilege.py finds it. Run
(AKVS_OUTPUT_DUMP=DIR also writes every scanned output into DIR, to read what the roles and tools print):

    AKVS_BIN=.build/debug/akvs KUBE_TEST_SERVER_BIN=.build/debug/akvs-kube-test-server \\
        python3 -m pytest -q Interop/kubernetes/test_no_secret_in_output.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

if not sys.platform.startswith("linux") or os.geteuid() != 0:
    pytest.skip("the CSI driver mounts a tmpfs at each target: run as root on Linux (CI does)", allow_module_level=True)

import yaml  # noqa: E402
from kubernetes import client, dynamic  # noqa: E402

from conftest import ADMIN_TOKEN, AKVSYNC, REPO_ROOT, SECRETSYNC, SPC, SPCPS, make_dynamic_client, wait_until  # noqa: E402
from test_rbac_least_privilege import (  # noqa: E402
    AKVS_BIN, NODE, SETTINGS, Kubelet, Volume, mounts_under, condition, ensure_namespace, get_cr, mint_token, patch_cr,
    prepare_roles, sdk_environment, secret_value, spc_body, start_emulator,
)

NS = "nsv-app"
VAULT = "nsv-kv"
TAG = uuid.uuid4().hex[:10]  # canaries are unique to this run, so no other text can hold them by chance
C = {
    "vault secret db": f"canary-db-1-{TAG}",
    "vault secret db, rotated": f"canary-db-2-{TAG}",
    "vault secret api v1": f"canary-api-1-{TAG}",
    "vault secret api v2": f"canary-api-2-{TAG}",
    "service principal client secret": f"canary-sp-secret-{TAG}",
    "wrong client secret": f"canary-wrong-secret-{TAG}",
    "client secret put into clientid": f"canary-swapped-{TAG}",
    "client secret pasted into an SPC": f"canary-pasted-{TAG}",
    "client secret in a Secret manifest": f"canary-manifest-{TAG}",
}
SP_ID = "5b5b5b5b-0000-4000-8000-0000000005b5"
WI_ID = "7c7c7c7c-0000-4000-8000-0000000007c7"
AUDIENCE = "api://AzureADTokenExchange"

# Findings that wait for a fix in the code, as (kind, where (a regex on the output's name), canary label, finding). A
# hit they match still fails, reported as a known finding; an entry that matches no hit fails too (remove it with the
# fix). None is open: the four this test found (a client secret in `clientid`, or pasted into an SPC's clientID, echoed
# by the mount error, the doctor, the migration and akvs validate) are fixed.
KNOWN_LEAKS: List[Tuple[str, str, str, str]] = []


# --------------------------------------------------------------------------------------------
# Canaries and the scan
# --------------------------------------------------------------------------------------------


@dataclass
class Canaries:
    values: Dict[str, str] = field(default_factory=dict)  # label -> exact text
    key_pieces: Dict[str, List[str]] = field(default_factory=dict)  # label -> 32-character pieces of a key's base64
    tokens: Dict[str, str] = field(default_factory=dict)  # label -> token

    def add_value(self, label: str, value: str) -> None:
        self.values[label] = value
        self.values[f"{label} (base64)"] = base64.b64encode(value.encode()).decode()

    def add_key(self, label: str, der: bytes) -> None:
        text = base64.b64encode(der).decode()
        self.key_pieces[label] = [text[i:i + 32] for i in range(0, len(text) - 31, 32)]

    def token_windows(self) -> Dict[str, str]:
        windows: Dict[str, str] = {}
        for label, token in self.tokens.items():
            for i in range(len(token) - 11):
                windows.setdefault(token[i:i + 12], label)
        return windows


JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def scan(canaries: Canaries, outputs: Dict[str, str]) -> Dict[str, List[Tuple[str, str]]]:
    """{kind: [(where, what)]} for every hit; `what` names the canary, never its value."""
    hits: Dict[str, List[Tuple[str, str]]] = {"value": [], "key": [], "token": []}
    windows = canaries.token_windows()
    for where, text in outputs.items():
        for label, value in canaries.values.items():
            if value in text:
                hits["value"].append((where, label))
        for label, pieces in canaries.key_pieces.items():
            if any(p in text for p in pieces):
                hits["key"].append((where, f"a piece of the private key of {label}"))
        if PEM_KEY.search(text):
            hits["key"].append((where, "a PEM private-key header"))
        for m in JWT.finditer(text):
            hits["token"].append((where, f"a JWT-shaped string at offset {m.start()} ({len(m.group(0))} characters)"))
            break
        found = set()
        for i in range(len(text) - 11):
            label = windows.get(text[i:i + 12])
            if label and label not in found:
                found.add(label)
                hits["token"].append((where, f"a 12-character piece of {label} at offset {i}"))
    return hits


def judge(kind: str, hits: List[Tuple[str, str]]) -> None:
    """Fails on every hit; known findings are grouped under their entry, and an entry that matches nothing fails too."""
    entries = [e for e in KNOWN_LEAKS if e[0] == kind]
    new: List[str] = []
    known: Dict[int, List[str]] = {}
    for where, what in hits:
        index = next((i for i, e in enumerate(entries) if e[2] == what and re.match(e[1], where)), None)
        if index is None:
            new.append(f"  {where}: {what}")
        else:
            known.setdefault(index, []).append(where)
    lines = (["new:"] + new if new else []) + [
        f"known finding ({entries[i][2]}): {entries[i][3]}\n  in: " + "; ".join(wheres) for i, wheres in sorted(known.items())]
    lines += [f"KNOWN_LEAKS entry for {e[2]!r} at {e[1]!r} matches nothing any more: remove it" for i, e in enumerate(entries) if i not in known]
    assert not lines, "secret material in outputs:\n" + "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    canaries: Canaries
    outputs: Dict[str, str]
    facts: Dict[str, Any]


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError as ex:
        return f"<cannot read {path}: {ex}>"


def http_text(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return response.read().decode("utf-8", "replace")


def run(args: Sequence[str], timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)


def record(outputs: Dict[str, str], name: str, proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    outputs[f"{name}: stdout"] = proc.stdout
    outputs[f"{name}: stderr"] = proc.stderr
    return proc


def entra_token(creds: Dict[str, Any], form: Dict[str, str]) -> str:
    """An access token from the emulator's Entra endpoint (client credentials or a federated assertion)."""
    import requests

    with requests.Session() as session:
        session.trust_env = False
        reply = session.post(f"{creds['authorityHost']}/{creds['tenantId']}/oauth2/v2.0/token", verify=creds["caFile"], timeout=30,
                             data={"grant_type": "client_credentials", "scope": f"{creds['resource']}/.default", **form})
    assert reply.status_code == 200, f"the emulator refused a token request: {reply.status_code}"
    return reply.json()["access_token"]


def private_keys(secret_value_text: str, pkcs12: bool) -> List[bytes]:
    """The DER private keys in a certificate's secret value (PEM text, or base64 PKCS#12)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12 as p12

    if pkcs12:
        key, _, _ = p12.load_key_and_certificates(base64.b64decode(secret_value_text), None)
        keys = [key]
    else:
        keys = [serialization.load_pem_private_key(m.group(0).encode(), None)
                for m in re.finditer(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", secret_value_text, re.S)]
    assert keys, "no private key in the certificate's secret"
    out = []
    for k in keys:
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
            out.append(k.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption()))
    return out


def objects_block(*entries: str) -> str:
    return "array:\n" + "".join("  - |\n" + "".join(f"    {line}\n" for line in e.strip().splitlines()) for e in entries)


def spc(name: str, creds: Dict[str, Any], objects: str, client_id: Optional[str] = None, secret_objects: Optional[list] = None) -> Dict[str, Any]:
    body = spc_body(name, creds, VAULT, [], client_id=client_id, secret_objects=secret_objects)
    body["spec"]["parameters"]["objects"] = objects
    body["metadata"]["namespace"] = NS
    return body


def csi_pod(name: str, service_account: str, spc_name: str, secret_ref: Optional[str]) -> Dict[str, Any]:
    volume: Dict[str, Any] = {"driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"secretProviderClass": spc_name}}
    if secret_ref:
        volume["nodePublishSecretRef"] = {"name": secret_ref}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"nodeName": NODE, "serviceAccountName": service_account,
                     "containers": [{"name": "app", "image": "busybox:1.36", "volumeMounts": [{"name": "secrets", "mountPath": "/mnt/secrets"}]}],
                     "volumes": [{"name": "secrets", "csi": volume}]}}


def apply_workloads(dyn: dynamic.DynamicClient, chart) -> None:
    """The chart's other objects (DaemonSets, Deployment, CSIDriver, Service, admission policies), for the doctor and
    the migration to read; kinds the test server does not serve are left out."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    for obj in chart.objects:
        if obj["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            continue
        try:
            resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError:
            continue
        resource.create(body=obj, namespace=obj["metadata"].get("namespace") if resource.namespaced else None)


def snapshot(server, outputs: Dict[str, str], label: str) -> None:
    """Events, the custom resources (status included) and the metadata of every Secret, as the API serves them."""
    def get(path: str) -> Dict[str, Any]:
        status, _, body = server.raw_request("GET", path)
        assert status == 200, f"GET {path}: {status}"
        return json.loads(body)

    outputs[f"{label}: core Events"] = json.dumps(get("/api/v1/events"))
    outputs[f"{label}: events.k8s.io Events"] = json.dumps(get("/apis/events.k8s.io/v1/events"))
    for coords in (SECRETSYNC, SPCPS, AKVSYNC, SPC):
        outputs[f"{label}: {coords['plural']}"] = json.dumps(get(f"/apis/{coords['group']}/{coords['version']}/{coords['plural']}"))
    secrets = get("/api/v1/secrets")
    outputs[f"{label}: Secrets' metadata"] = json.dumps([s.get("metadata") for s in secrets["items"]])


@pytest.fixture(scope="module")
def world(kube_server, tmp_path_factory, api_client, core, custom) -> World:
    started = time.monotonic()
    work = tmp_path_factory.mktemp("no-secret")
    outputs: Dict[str, str] = {}
    facts: Dict[str, Any] = {}
    canaries = Canaries()
    for label, value in C.items():
        canaries.add_value(label, value)
    canaries.tokens["the admin token"] = ADMIN_TOKEN

    roles = prepare_roles(kube_server, work, [*SETTINGS, "logVerbosity=4"])
    for role, token in roles.tokens.items():
        canaries.tokens[f"the {role}'s service-account token"] = token
    for role in ("sync-controller", "csi-driver", "provider"):
        assert "--log-level=debug" in roles.chart.container(role)["args"], f"logVerbosity=4 gives {role} --log-level=debug"
    apply_workloads(make_dynamic_client(kube_server, api_client), roles.chart)

    # The cluster: a namespace with a federated account (app), one that is not (stranger), the SP's Secret and a wrong one.
    ensure_namespace(core, NS)
    for sa in ("app", "stranger"):
        core.create_namespaced_service_account(NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=sa)))
    # The SP's Secret, one with a wrong secret, and one with clientid and clientsecret swapped (a user's mistake).
    for name, data in (("sp-creds", {"clientid": SP_ID, "clientsecret": C["service principal client secret"]}),
                       ("bad-creds", {"clientid": SP_ID, "clientsecret": C["wrong client secret"]}),
                       ("swapped-creds", {"clientid": C["client secret put into clientid"], "clientsecret": SP_ID})):
        core.create_namespaced_secret(NS, client.V1Secret(metadata=client.V1ObjectMeta(name=name, labels={"secrets-store.csi.k8s.io/used": "true"}),
                                                          string_data=data))

    jwks = kube_server.raw_request("GET", "/openid/v1/jwks", token=None)[2].decode()
    emulator = start_emulator(work,
        f"vaults:\n  - name: {VAULT}\n    secrets:\n      - {{name: db, value: {C['vault secret db']}}}\n"
        f"      - name: api\n        versions: [{{value: {C['vault secret api v1']}}}, {{value: {C['vault secret api v2']}}}]\n"
        "    certificates:\n      - {name: tls-pem, subject: CN=pem.test, issuer: Self, kty: EC, curve: P-256, contentType: application/x-pem-file}\n"
        "      - {name: tls-pfx, subject: CN=pfx.test, dnsNames: [pfx.test], issuer: Emulator, kty: RSA, size: 2048}\n"
        f"identities:\n  - name: sp\n    clientId: {SP_ID}\n    clientSecret: {C['service principal client secret']}\n    access: {{{VAULT}: read}}\n"
        f"  - name: wi\n    clientId: {WI_ID}\n    access: {{{VAULT}: read}}\n"
        f"    federatedCredentials:\n      - {{issuer: \"{kube_server.url}\", subject: \"system:serviceaccount:{NS}:app\"}}\n"
        f"issuers:\n  - issuer: \"{kube_server.url}\"\n    jwks: {jwks}\n", log_level="debug")
    creds = emulator.creds
    canaries.add_value("the emulator's admin client secret", creds["clientSecret"])
    procs = {"akvs emulator": emulator.proc}
    running: Dict[str, Any] = {}
    demo_dir = work / "demo"
    try:
        with sdk_environment(creds):
            vault = emulator.secret_client(VAULT)
            for name, pkcs12 in (("tls-pem", False), ("tls-pfx", True)):
                for n, der in enumerate(private_keys(vault.get_secret(name).value, pkcs12)):
                    canaries.add_key(f"certificate {name} ({'PKCS#8' if n % 2 == 0 else 'traditional'} DER)", der)

            pod_token = mint_token(core, NS, "app", AUDIENCE, 3600)
            canaries.tokens["the pod token kubelet passes"] = pod_token
            canaries.tokens["an Entra token (service principal)"] = entra_token(creds, {"client_id": SP_ID, "client_secret": C["service principal client secret"]})
            canaries.tokens["an Entra token (workload identity)"] = entra_token(creds, {
                "client_id": WI_ID, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": pod_token})

            providers = work / "providers"
            providers.mkdir()
            running["provider"] = roles.provider(emulator, providers)
            running["csi-driver"] = roles.csi_driver(providers)
            csi_scenario(roles, kube_server, running["csi-driver"], creds, vault, core, custom, pod_token, outputs, facts, work)
            # Started after the CSI steps, so that the API throttle above meets the driver's request and no other.
            running["sync-controller"] = roles.sync_controller(emulator)
            procs.update({name: r.proc for name, r in running.items()})
            sync_scenario(kube_server, creds, vault, core, custom, facts, running["sync-controller"])
            snapshot(kube_server, outputs, "cluster with pods mounted")
            tools(roles, kube_server, creds, core, custom, outputs, facts, work, pod_token, demo_dir, canaries)
            unpublish_all(roles, running["csi-driver"], custom, facts)
            for name, r in running.items():
                outputs[f"{name}: /metrics"] = http_text(f"http://127.0.0.1:{r.metrics_port}/metrics")
            vault.close()
    finally:
        for r in running.values():
            r.stop()
        emulator.proc.stop()
        for point in sorted(mounts_under(work), key=len, reverse=True):  # left only when a step failed
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
    snapshot(kube_server, outputs, "cluster at the end")
    for name, proc in procs.items():
        outputs[f"{name}: stdout"] = "".join(proc.stdout_lines)
        outputs[f"{name}: stderr"] = read_text(proc.log_path)
    facts["seconds"] = round(time.monotonic() - started, 1)
    dump = os.environ.get("AKVS_OUTPUT_DUMP")
    if dump:  # every scanned output as a file, to read what the roles and tools print
        folder = Path(dump)
        folder.mkdir(parents=True, exist_ok=True)
        for where, text in outputs.items():
            (folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", where)[:150] + ".txt")).write_text(text)
    print(f"\nscenario: {facts['seconds']} s, {len(outputs)} outputs, {sum(len(t) for t in outputs.values())} characters scanned")
    return World(canaries, outputs, facts)


NO_FAULTS = {"latencyMs": 0, "jitterMs": 0, "errorRate": 0, "throttle": {"limit": 4000, "windowSeconds": 10}, "outage": False}


def vault_faults(creds: Dict[str, Any], **faults: Any) -> None:
    """Replaces the vault's faults (emulator admin API); none given: clears them."""
    import requests

    with requests.Session() as session:
        session.trust_env = False
        reply = session.put(f"{creds['adminEndpoint']}/vaults/{VAULT}/faults", json={**NO_FAULTS, **faults}, verify=creds["caFile"], timeout=30)
    assert reply.status_code in (200, 204), f"setting the vault's faults: {reply.status_code} {reply.text[:300]}"


def csi_scenario(roles, server, driver, creds, vault, core, custom, pod_token, outputs, facts, work) -> None:
    objects = objects_block("objectName: db\nobjectType: secret", "objectName: api\nobjectType: secret\nobjectVersionHistory: 2",
                            "objectName: tls-pem\nobjectType: secret", "objectName: tls-pfx\nobjectType: secret\nobjectFormat: pfx")
    for name, client_id, synced in (("sp-class", None, "sp-synced"), ("wi-class", WI_ID, "wi-synced")):
        body = spc(name, creds, objects, client_id=client_id, secret_objects=[
            {"secretName": synced, "type": "Opaque", "data": [{"objectName": "db", "key": "password"}, {"objectName": "tls-pem", "key": "tls"}]}])
        custom.create_namespaced_custom_object(SPC["group"], SPC["version"], NS, SPC["plural"], body)
    volumes = {}
    for pod, sa, cls, ref in (("sp-pod", "default", "sp-class", "sp-creds"), ("wi-pod", "app", "wi-class", None), ("bad-pod", "default", "sp-class", "bad-creds"),
                              ("swapped-pod", "default", "sp-class", "swapped-creds")):
        created = core.create_namespaced_pod(NS, csi_pod(pod, sa, cls, ref))
        parent = work / "pods" / created.metadata.uid / "volumes" / "kubernetes.io~csi" / "secrets"
        parent.mkdir(parents=True)
        volumes[pod] = Volume(NS, pod, created.metadata.uid, cls, parent / "mount")
    facts["volumes"] = volumes
    tokens = json.dumps({AUDIENCE: {"token": pod_token, "expirationTimestamp": "2030-01-01T00:00:00Z"}})
    sp_secrets = {"clientid": SP_ID, "clientsecret": C["service principal client secret"]}
    wi_context = {"csi.storage.k8s.io/serviceAccount.name": "app", "csi.storage.k8s.io/serviceAccount.tokens": tokens}

    kubelet = Kubelet(roles_csi(roles), driver.socket)
    try:
        kubelet.publish(volumes["sp-pod"], sp_secrets)
        # The driver's next API request (the class read of this publish) is throttled once: its client retries
        # after Retry-After and logs that at debug level. Nothing else calls the API meanwhile.
        server.set_faults(throttle={"count": 1, "retryAfterSeconds": 1})
        kubelet.publish(volumes["wi-pod"], {}, wi_context)
        server.clear_faults()
        published = time.monotonic()
        facts["mounted"] = {p: (volumes[p].target / "db").read_bytes() == C["vault secret db"].encode() for p in ("sp-pod", "wi-pod")}
        wait_until(lambda: secret_value(core, NS, "wi-synced", "password") == C["vault secret db"].encode(), timeout=30,
                   message="the workload-identity pod's secretObjects Secret")

        # A republish while the vault fails: the provider retries (debug lines), gives up, the driver keeps the files
        # and records a MountRotationFailed Event with the error.
        vault_faults(creds, errorRate=1.0)
        time.sleep(max(0.0, published + 1.3 - time.monotonic()))
        try:
            kubelet.publish(volumes["sp-pod"], sp_secrets)
        finally:
            vault_faults(creds)
        facts["kept during outage"] = (volumes["sp-pod"].target / "db").read_bytes() == C["vault secret db"].encode()
        published = time.monotonic()

        vault.set_secret("db", C["vault secret db, rotated"])
        time.sleep(max(0.0, published + 1.3 - time.monotonic()))
        kubelet.publish(volumes["sp-pod"], sp_secrets)
        kubelet.publish(volumes["wi-pod"], {}, wi_context)
        facts["rotated"] = {p: (volumes[p].target / "db").read_bytes() == C["vault secret db, rotated"].encode() for p in ("sp-pod", "wi-pod")}

        error = kubelet.publish_error(volumes["bad-pod"], {"clientid": SP_ID, "clientsecret": C["wrong client secret"]})
        outputs["NodePublishVolume error with a wrong client secret (kubelet puts it in a FailedMount Event)"] = f"{error.code()} {error.details()}"
        facts["bad publish"] = str(error.code())
        error = kubelet.publish_error(volumes["swapped-pod"], {"clientid": C["client secret put into clientid"], "clientsecret": SP_ID})
        outputs["NodePublishVolume error with clientid and clientsecret swapped (kubelet puts it in a FailedMount Event)"] = f"{error.code()} {error.details()}"
    finally:
        kubelet.close()


def roles_csi(roles):
    """The CSI stubs, generated once per module run."""
    import csi_stubs

    if not hasattr(roles_csi, "stubs"):
        roles_csi.stubs = csi_stubs.generate(roles.work / "csi-stubs")
    return roles_csi.stubs


def unpublish_all(roles, driver, custom, facts) -> None:
    kubelet = Kubelet(roles_csi(roles), driver.socket)
    try:
        for vol in facts["volumes"].values():
            kubelet.unpublish(vol)
    finally:
        kubelet.close()
    facts["statuses left"] = [v.status_name for v in facts["volumes"].values() if get_cr(custom, SPCPS, NS, v.status_name) is not None]


def sync_scenario(server, creds, vault, core, custom, facts, controller) -> None:
    objects = objects_block("objectName: db\nobjectType: secret", "objectName: tls-pem\nobjectType: secret",
                            "objectName: no-such-object\nobjectType: secret\nobjectAlias: missing")
    custom.create_namespaced_custom_object(SPC["group"], SPC["version"], NS, SPC["plural"], spc("sync-class", creds, objects, client_id=WI_ID))
    log = controller.proc.log_path

    def secretsync(name: str, sa: str, items: Sequence[Tuple[str, str]]) -> None:
        custom.create_namespaced_custom_object(SECRETSYNC["group"], SECRETSYNC["version"], NS, SECRETSYNC["plural"], {
            "apiVersion": f"{SECRETSYNC['group']}/{SECRETSYNC['version']}", "kind": "SecretSync", "metadata": {"name": name},
            "spec": {"secretProviderClassName": "sync-class", "serviceAccountName": sa,
                     "secretObject": {"type": "Opaque", "data": [{"sourcePath": s, "targetKey": k} for s, k in items]}}})

    def reason(name: str, type_: str = "Create") -> str:
        return (condition(get_cr(custom, SECRETSYNC, NS, name) or {}, type_) or {}).get("reason", "")

    secretsync("ok", "app", [("db", "password"), ("tls-pem", "tls")])
    wait_until(lambda: reason("ok") == "CreateSucceeded", timeout=60, message=f"SecretSync ok syncs; log {log}")
    # A forced sync while the vault fails (the condition and an Event carry the error). Nothing else reads the vault
    # meanwhile, so the controller's circuit breaker (5 failing reconciles) stays closed.
    vault_faults(creds, errorRate=1.0)
    try:
        patch_cr(custom, SECRETSYNC, NS, "ok", {"spec": {"forceSynchronization": "while-failing"}})
        wait_until(lambda: reason("ok", "Update") == "ProviderError", timeout=60, message=f"a forced sync of ok fails while the vault does; log {log}")
    finally:
        vault_faults(creds)

    secretsync("wrong-identity", "stranger", [("db", "password")])
    secretsync("missing", "app", [("missing", "password")])
    custom.create_namespaced_custom_object(AKVSYNC["group"], AKVSYNC["version"], NS, AKVSYNC["plural"], {
        "apiVersion": f"{AKVSYNC['group']}/{AKVSYNC['version']}", "kind": "AKVSync", "metadata": {"name": "akv"},
        "spec": {"keyvaultName": VAULT, "clientID": WI_ID, "tenantID": creds["tenantId"], "serviceAccountName": "ghost",
                 "objects": [{"secretInAKV": "db", "kubernetesSecretName": "akv-db"}]}})
    wait_until(lambda: reason("wrong-identity") not in ("", "CreateSucceeded"), timeout=60, message="SecretSync wrong-identity reports its failure")
    wait_until(lambda: reason("missing") not in ("", "CreateSucceeded"), timeout=60, message="SecretSync missing reports its failure")
    wait_until(lambda: (condition(get_cr(custom, AKVSYNC, NS, "akv") or {}, "Ready") or {}).get("status") == "True", timeout=60, message="AKVSync akv")
    patch_cr(custom, SECRETSYNC, NS, "ok", {"spec": {"forceSynchronization": "rotate"}})
    wait_until(lambda: secret_value(core, NS, "ok", "password") == C["vault secret db, rotated"].encode(), timeout=60,
               message="a forced sync of SecretSync ok writes the rotated value")
    facts["sync reasons"] = {n: reason(n) for n in ("ok", "wrong-identity", "missing")}
    # The controller's next API request (a Lease renewal, most likely) is throttled once: it retries after Retry-After
    # and logs that at debug level. Only the log file is read meanwhile, so no other client takes the 429.
    before = log.stat().st_size
    server.set_faults(throttle={"count": 1, "retryAfterSeconds": 1})
    try:
        wait_until(lambda: "throttled" in read_text(log)[before:], timeout=60, interval=0.2, message=f"the controller meets the throttle; log {log}")
    finally:
        server.clear_faults()


def tools(roles, server, creds, core, custom, outputs, facts, work, pod_token, demo_dir, canaries) -> None:
    kubeconfig = str(server.kubeconfig)
    ca = creds["caFile"]
    jobs: List[Tuple[str, List[str]]] = []
    for target in (["pod", "sp-pod"], ["pod", "wi-pod"], ["pod", "bad-pod"], ["pod", "swapped-pod"], ["secretsync", "ok"], ["secretsync", "wrong-identity"],
                   ["secretsync", "missing"], ["cluster"]):
        for probe in ([], ["--probe", "--ca-file", ca]):
            for fmt in ([], ["--output", "json"]):
                ns = ["-n", NS] if target[0] != "cluster" else []
                jobs.append((f"akvs doctor {' '.join(target)}{' --probe' if probe else ''}{' json' if fmt else ''}",
                             [str(AKVS_BIN), "doctor", *target, *ns, *probe, *fmt, "--kubeconfig", kubeconfig]))

    # Offline manifests. For migrate -f: the nodePublishSecretRef Secret (stringData and data) beside the class and the
    # Deployment that use it. For validate, also the mistakes that put a secret where the linter reads: a client
    # secret pasted into a class's clientID (and a clientSecret parameter, and an object named like it), a Secret whose
    # keys are misspelt. migrate copies classes and workloads verbatim into its backup and translations (its job), so
    # the pasted class is not given to it.
    secret_manifests = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sp-creds", "namespace": "offline"}, "type": "Opaque",
         "stringData": {"clientid": SP_ID, "clientsecret": C["client secret in a Secret manifest"]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sp-creds-b64", "namespace": "offline"}, "type": "Opaque",
         "data": {"clientid": base64.b64encode(SP_ID.encode()).decode(),
                  "clientsecret": base64.b64encode(C["client secret in a Secret manifest"].encode()).decode()}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "swapped", "namespace": "offline"}, "type": "Opaque",
         "stringData": {"clientid": C["client secret put into clientid"], "clientsecret": SP_ID}},
    ]
    workload = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "offline"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{"name": "app", "image": "busybox", "volumeMounts": [{"name": "s", "mountPath": "/s"}],
                                    "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-env", "key": "password"}}}]}],
                    "volumes": [{"name": "s", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True,
                                                     "volumeAttributes": {"secretProviderClass": "vault"}, "nodePublishSecretRef": {"name": "sp-creds"}}}]}}}}
    clean_class = {"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": {"name": "vault", "namespace": "offline"},
                   "spec": {"provider": "azure", "parameters": {"keyvaultName": VAULT, "tenantId": creds["tenantId"],
                                                                "objects": objects_block("objectName: db\nobjectType: secret")},
                            "secretObjects": [{"secretName": "app-env", "type": "Opaque", "data": [{"objectName": "db", "key": "password"}]}]}}
    pasted = C["client secret pasted into an SPC"]
    pasted_class = {"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": {"name": "pasted", "namespace": "offline"},
                    "spec": {"provider": "azure", "parameters": {"keyvaultName": VAULT, "tenantId": creds["tenantId"], "clientSecret": pasted, "clientID": pasted,
                                                                 "objects": objects_block("objectName: db\nobjectType: secret", f"objectName: {pasted}\nobjectType: secret")}}}
    pasted_sync = {"apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": {"name": "db", "namespace": "offline"},
                   "spec": {"secretProviderClassName": "pasted", "serviceAccountName": "app",
                            "secretObject": {"type": "Opaque", "data": [{"sourcePath": pasted, "targetKey": "password"}]}}}
    migrate_manifests, validate_manifests = work / "migrate-manifests", work / "validate-manifests"
    migrate_manifests.mkdir()
    validate_manifests.mkdir()
    swapped_user = json.loads(json.dumps(workload).replace('"sp-creds"', '"swapped"').replace('"web"', '"web-swapped"'))
    (migrate_manifests / "app.yaml").write_text(yaml.safe_dump_all([*secret_manifests, clean_class, workload, swapped_user]))
    misspelt = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "misspelt", "namespace": "offline"}, "type": "Opaque",
                "stringData": {"client-id": SP_ID, "client-secret": C["client secret in a Secret manifest"]}}
    misspelt_user = json.loads(json.dumps(workload).replace('"sp-creds"', '"misspelt"').replace('"web"', '"web-misspelt"'))
    (validate_manifests / "app.yaml").write_text(yaml.safe_dump_all([*secret_manifests, clean_class, workload, pasted_class, pasted_sync,
                                                                     misspelt, misspelt_user]))
    for stage in ("inventory", "plan", "translate", "workloads"):
        for fmt in ("json", "yaml"):
            for live in (True, False):
                source = ["--kubeconfig", kubeconfig] if live else ["-f", str(migrate_manifests)]
                backup = ["--backup-dir", str(work / f"backup-{fmt}-{'live' if live else 'files'}")] if stage == "inventory" else []
                jobs.append((f"akvs migrate {stage} {fmt} {'live' if live else 'offline'}",
                             [str(AKVS_BIN), "migrate", stage, *source, "--client-id", WI_ID, "--output", fmt, *backup]))
    for fmt in ("text", "json"):
        for purpose in ("csi", "sync"):
            jobs.append((f"akvs validate {purpose} {fmt}", [str(AKVS_BIN), "validate", str(validate_manifests), "--for", purpose, "--output", fmt]))

    # akvs mount: a service principal, workload identity, a wrong secret.
    (work / "mount-spc.yaml").write_text(yaml.safe_dump(spc("vault", creds, objects_block(
        "objectName: db\nobjectType: secret", "objectName: tls-pem\nobjectType: secret", "objectName: tls-pfx\nobjectType: secret\nobjectFormat: pfx"))))
    (work / "mount-pasted-spc.yaml").write_text(yaml.safe_dump(pasted_class))
    (work / "mount-wi-spc.yaml").write_text(yaml.safe_dump(spc("vault", creds, objects_block("objectName: db\nobjectType: secret"), client_id=WI_ID)))
    for name, data in (("sp", {"clientid": SP_ID, "clientsecret": C["service principal client secret"]}),
                       ("bad", {"clientid": SP_ID, "clientsecret": C["wrong client secret"]}),
                       ("swapped", {"clientid": C["client secret put into clientid"], "clientsecret": SP_ID})):
        (work / f"mount-{name}-secret.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": data}))
    mount_token = mint_token(core, NS, "app", AUDIENCE, 3600)
    canaries.tokens["the token given to akvs mount"] = mount_token
    (work / "mount-token").write_text(mount_token)
    for name, extra in (("service principal", ["-f", work / "mount-spc.yaml", "--node-publish-secret", work / "mount-sp-secret.yaml"]),
                        ("workload identity", ["-f", work / "mount-wi-spc.yaml", "--service-account-token", work / "mount-token",
                                               "--pod-namespace", NS, "--pod-name", "wi-pod"]),
                        ("wrong secret", ["-f", work / "mount-spc.yaml", "--node-publish-secret", work / "mount-bad-secret.yaml"]),
                        ("swapped secret", ["-f", work / "mount-spc.yaml", "--node-publish-secret", work / "mount-swapped-secret.yaml"]),
                        ("pasted clientID", ["-f", work / "mount-pasted-spc.yaml", "--node-publish-secret", work / "mount-sp-secret.yaml"])):
        jobs.append((f"akvs mount ({name})", [str(AKVS_BIN), "mount", *map(str, extra), "--target", str(work / f"mount-{name.replace(' ', '-')}"), "--ca-file", ca]))

    # akvs demo (its own emulator and examples: canaries from examples/ and what it mounted, added below).
    jobs.append(("akvs demo", [str(AKVS_BIN), "demo", "--examples", str(REPO_ROOT / "examples"), "--work-dir", str(demo_dir)]))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: (job[0], run(job[1], cwd=work)), jobs))
    codes = {}
    for name, proc in results:
        record(outputs, name, proc)
        codes[name] = proc.returncode
    facts["exit codes"] = codes
    for backup in sorted(work.glob("backup-*")):
        for path in sorted(p for p in backup.rglob("*") if p.is_file()):
            outputs[f"migration backup bundle {path.relative_to(work)}"] = read_text(path)
    facts["bundles"] = sorted(p.name for p in work.glob("backup-*") if any(p.rglob("*.yaml")) or any(p.rglob("*.json")))

    # The demo's values: its seed and Secret, the rotated value and the private keys it mounted.
    seed = yaml.safe_load((REPO_ROOT / "examples" / "emulator-seed.yaml").read_text())
    for vault_seed in seed["vaults"]:
        for s in vault_seed.get("secrets", []):
            for n, v in enumerate([s["value"]] if "value" in s else [x["value"] for x in s["versions"]]):
                if len(str(v)) >= 8:
                    canaries.add_value(f"demo vault secret {s['name']} #{n}", str(v))
    for identity in seed["identities"]:
        if identity.get("clientSecret"):
            canaries.add_value(f"demo client secret of {identity['name']}", identity["clientSecret"])
    mount = demo_dir / "mount"
    if (mount / "db-password").exists():
        canaries.add_value("demo vault secret db-password, rotated", (mount / "db-password").read_text())
    for name, pkcs12 in (("web-tls.pem", False), ("web-tls.pfx", True)):
        if (mount / name).exists():
            data = (mount / name).read_bytes()
            for n, der in enumerate(private_keys(base64.b64encode(data).decode() if pkcs12 else data.decode(), pkcs12)):
                canaries.add_key(f"demo certificate {name} #{n}", der)


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


def test_the_scenario_ran(world):
    """The paths whose output is scanned really ran (and failed where they should)."""
    f, out = world.facts, world.outputs
    assert f["mounted"] == {"sp-pod": True, "wi-pod": True}, f"first mounts: {f['mounted']}"
    assert f["kept during outage"], "a republish while the vault fails keeps the files"
    assert f["rotated"] == {"sp-pod": True, "wi-pod": True}, f"rotation on republish: {f['rotated']}"
    assert f["bad publish"] != "StatusCode.OK"
    assert f["statuses left"] == [], f"pod statuses left after unpublish: {f['statuses left']}"
    reasons = f["sync reasons"]
    assert reasons["ok"] == "CreateSucceeded" and reasons["wrong-identity"] == "ProviderError" and reasons["missing"] == "ProviderError", reasons
    codes = f["exit codes"]
    usage = {name: rc for name, rc in codes.items() if rc not in (0, 1)}
    assert not usage, f"tools that did not run through (exit codes other than 0 and 1): {usage}"
    for probe in ("akvs doctor secretsync ok --probe", "akvs doctor pod sp-pod --probe", "akvs doctor pod wi-pod --probe"):
        assert "readable with this identity" in out[f"{probe}: stdout"], f"{probe} read nothing from the vault"
    for probe in ("akvs doctor secretsync wrong-identity --probe", "akvs doctor pod bad-pod --probe"):
        assert "✗ probe: token for" in out[f"{probe}: stdout"], f"{probe} did not report the refused token"
    assert codes["akvs mount (service principal)"] == 0 and codes["akvs mount (workload identity)"] == 0, codes
    assert all(codes[f"akvs mount ({m})"] != 0 for m in ("wrong secret", "swapped secret", "pasted clientID")), codes
    assert codes["akvs validate csi text"] == 1, "the manifests hold errors for validate to report"
    assert codes["akvs demo"] == 0
    assert any(b.endswith("live") for b in f["bundles"]) and any(b.endswith("files") for b in f["bundles"]), f["bundles"]
    # Debug lines (the roles log at debug only where they retry: the API throttles above make them; the provider calls no
    # API, and the Key Vault client's retries do not reach the roles' --log-level).
    assert "debug akvs.csi-driver" in out["csi-driver: stderr"] and "throttled" in out["csi-driver: stderr"], "the driver logged no debug line"
    assert "debug akvs.sync-controller" in out["sync-controller: stderr"] and "throttled" in out["sync-controller: stderr"], "the controller logged no debug line"
    assert "debug akvs.emulator" in out["akvs emulator: stderr"]


@pytest.fixture(scope="module")
def hits(world) -> Dict[str, List[Tuple[str, str]]]:
    return scan(world.canaries, world.outputs)


def test_no_secret_value_in_any_output(hits):
    judge("value", hits["value"])


def test_no_private_key_in_any_output(hits):
    judge("key", hits["key"])


def test_no_token_in_any_output(hits):
    judge("token", hits["token"])
