"""Least privilege, proven both ways: every API call each role makes is granted, and every grant is used.

The chart (charts/akvs) is rendered with both roles and every feature whose RBAC it makes conditional
(`syncSecret.enabled`, `enableDriftRepair`; rotation so that republishes rotate). Its ServiceAccounts,
ClusterRoles, ClusterRoleBindings, Roles and RoleBindings are applied to a fresh Kubernetes test server, which
enforces RBAC for service accounts and logs every decision (`GET /_testserver/access`). Each role gets a token of
its own service account (TokenRequest, audience = the server URL) in a kubeconfig of its own, and runs as a process
with the arguments the chart gives its container (sockets, ports and folders moved into the test's folder; the
emulator's CA added where the role talks to Entra and Key Vault):

- `akvs sync-controller` (the Deployment's `manager`): leader election, the hash-key Secret, SecretSync create,
  value rotation, drift repair (an edited and a deleted Secret), a repeated Event (series patch), AKVSync create
  and edit (generated objects created, updated, deleted), informers both as watch-list and as list + watch (the
  server refuses watch-list for the first run, as kube-apiserver on etcd without watch progress does), then a
  restart with an object missing from the vault and partial sync on: the restarted controller writes only the
  fetched keys and must not need to read the Secret.
- `akvs csi-driver` (the driver DaemonSet's `secrets-store`, needs root for the tmpfs mounts), driven over gRPC as
  kubelet drives it: its caches of SecretProviderClasses and of its node's pods (list + watch, watch-list after the
  restart), NodePublish with a SecretProviderClass using secretObjects, a second pod sharing the Secret, two
  rotations on republish (Events created, then patched as a series), a secretObjects type change (the Secret
  replaced), a driver restart, and the unpublish of both pods (their SecretProviderClassPodStatuses found by label
  after the restart and removed).
- `akvs provider` (the provider DaemonSet): the chart mounts no token for it and binds nothing to its account; it
  runs with KUBECONFIG pointing at a kubeconfig that holds its account's token, so a call would show in the log.

Then, per service account: (a) nothing missing: no request was refused; (b) nothing extra: every (API group,
resource, verb) the rendered rules grant it (apiGroups x resources x verbs, in the binding's namespace for a
RoleBinding) appears among its allowed requests. A grant the scenario cannot reach goes into UNUSED_GRANTS with
its reason; the test fails on a difference not listed and on a listed entry that no longer applies.

helm: env HELM, else next to env KUBECTL (Scripts/test.sh installs both into one folder), else
.build/tools/bin/helm, else `Scripts/install-kube-tools.sh` installs it. Run:

    AKVS_BIN=.build/debug/akvs KUBE_TEST_SERVER_BIN=.build/debug/akvs-kube-test-server \\
        python3 -m pytest -q Interop/kubernetes/test_rbac_least_privilege.py

Secret values are test data; assertion messages still describe them by length and digest only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from conftest import AKVSYNC, REPO_ROOT, SECRETSYNC, SPC, SPCPS, KubeTestServer, gone, make_configuration, wait_until
from processes import Proc, free_port

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
if not AKVS_BIN.is_absolute():
    AKVS_BIN = (REPO_ROOT / AKVS_BIN).resolve()
CHART = REPO_ROOT / "charts" / "akvs"
RELEASE, RELEASE_NS = "akvs", "kube-system"
NODE = "node-a"

# Both roles, and every feature whose RBAC the chart makes conditional. Rotation is on with a short interval so a
# republish rotates (the interval is a chart value; only its length differs from production).
SETTINGS = [
    "restarter.enabled=true",
    "syncController.enabled=true",
    "syncController.enableDriftRepair=true",
    "secrets-store-csi-driver.syncSecret.enabled=true",
    "secrets-store-csi-driver.enableSecretRotation=true",
    "secrets-store-csi-driver.rotationPollInterval=1s",
]
ROTATION_DUE = 1.3  # seconds after the last provider call a republish rotates (interval 1 s)

# The three akvs containers, by the role each is.
ROLE_CONTAINERS = {"sync-controller": ("Deployment", "manager"), "csi-driver": ("DaemonSet", "secrets-store"),
                   "provider": ("DaemonSet", "provider-azure-installer"), "restarter": ("Deployment", "restarter")}

# Grants the scenario cannot reach, as (role, "verb group/resource[ in namespace]") -> why. Keep it short: every entry is
# a grant no test proves is needed. The test fails when an entry is no longer granted or is now used.
UNUSED_GRANTS: Dict[Tuple[str, str], str] = {}

# Calls a role makes that its grants refuse and that only the Swift code can stop making ("Swift fix pending: <what>").
# They still fail the test, with this text, until the code is fixed and the entry removed.
SWIFT_FIX_PENDING: Dict[Tuple[str, str], str] = {}


# --------------------------------------------------------------------------------------------
# The chart
# --------------------------------------------------------------------------------------------


def helm_binary() -> Path:
    """HELM, else helm next to KUBECTL, else .build/tools/bin/helm, else Scripts/install-kube-tools.sh installs it."""
    configured = os.environ.get("HELM")
    candidates = [Path(configured)] if configured else []
    if os.environ.get("KUBECTL"):
        candidates.append(Path(os.environ["KUBECTL"]).parent / "helm")
    candidates.append(REPO_ROOT / ".build" / "tools" / "bin" / "helm")
    for candidate in candidates:
        path = candidate if candidate.is_absolute() else (REPO_ROOT / candidate)
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
    if configured:
        pytest.fail(f"HELM: no executable at {configured}", pytrace=False)
    proc = subprocess.run(["bash", str(REPO_ROOT / "Scripts" / "install-kube-tools.sh")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    folder = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    helm = Path(folder) / "helm"
    if proc.returncode != 0 or not helm.is_file():
        pytest.fail(f"no helm: set HELM, or run Scripts/install-kube-tools.sh (it exited {proc.returncode}: {proc.stderr[-2000:]})", pytrace=False)
    return helm


@dataclass
class Chart:
    """The rendered chart's objects, and what they say about each role."""

    objects: List[Dict[str, Any]]

    def of_kind(self, *kinds: str) -> List[Dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in kinds]

    def get(self, kind: str, name: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name and (namespace is None or o["metadata"].get("namespace") == namespace)]
        assert len(found) == 1, f"the chart renders {len(found)} {kind} named {name}"
        return found[0]

    def workload(self, role: str) -> Dict[str, Any]:
        kind, container = ROLE_CONTAINERS[role]
        found = [w for w in self.of_kind(kind) if any(c["name"] == container for c in w["spec"]["template"]["spec"]["containers"])]
        assert len(found) == 1, f"the chart renders {len(found)} {kind}s with a container {container}"
        return found[0]

    def container(self, role: str) -> Dict[str, Any]:
        _, name = ROLE_CONTAINERS[role]
        return next(c for c in self.workload(role)["spec"]["template"]["spec"]["containers"] if c["name"] == name)

    def service_account(self, role: str) -> Tuple[str, str]:
        w = self.workload(role)
        return w["metadata"]["namespace"], w["spec"]["template"]["spec"]["serviceAccountName"]

    def rbac(self) -> List[Dict[str, Any]]:
        return self.of_kind("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def render_chart(settings: Sequence[str] = SETTINGS) -> Chart:
    helm = helm_binary()
    home = Path(tempfile.gettempdir())
    args = [str(helm), "template", RELEASE, str(CHART), "--namespace", RELEASE_NS]
    for s in settings:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HELM_CACHE_HOME": str(home / "akvs-helm-cache"), "HELM_CONFIG_HOME": str(home / "akvs-helm-config"),
                               "HELM_DATA_HOME": str(home / "akvs-helm-data")})
    assert proc.returncode == 0, f"helm template failed: {proc.stderr}"
    return Chart([o for o in yaml.safe_load_all(proc.stdout) if o])


@dataclass(frozen=True)
class Grant:
    group: str
    resource: str
    verb: str
    namespace: str  # "" for a ClusterRoleBinding: every namespace and the cluster scope
    names: Tuple[str, ...]
    role: str

    @property
    def label(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {self.group or 'core'}/{self.resource}{where}"

    def covers(self, entry: Dict[str, Any]) -> bool:
        return (entry["group"], entry["resource"], entry["verb"]) == (self.group, self.resource, self.verb) and \
            (not self.namespace or entry["namespace"] == self.namespace)


def grants_of(chart: Chart, namespace: str, name: str) -> List[Grant]:
    """Every (group, resource, verb) the rendered bindings give this service account, expanded rule by rule."""
    grants: List[Grant] = []
    for binding in chart.of_kind("ClusterRoleBinding", "RoleBinding"):
        scope = binding["metadata"].get("namespace", "") if binding["kind"] == "RoleBinding" else ""
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == name and s.get("namespace", scope) == namespace
                   for s in binding.get("subjects") or []):
            continue
        ref = binding["roleRef"]
        role = chart.get(ref["kind"], ref["name"], scope if ref["kind"] == "Role" else None)
        for rule in role.get("rules") or []:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), f"{ref['kind']} {ref['name']} grants '*' {key}: not least privilege"
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        grants.append(Grant(group, resource, verb, scope, tuple(rule.get("resourceNames") or ()), f"{ref['kind']} {ref['name']}"))
    return grants


# --------------------------------------------------------------------------------------------
# The cluster side: RBAC objects, tokens, kubeconfigs, the access log
# --------------------------------------------------------------------------------------------


def ensure_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except ApiException as ex:
        if ex.status != 409:
            raise


def apply_rbac(api: client.ApiClient, chart: Chart) -> None:
    """Creates the chart's ServiceAccounts, ClusterRoles, ClusterRoleBindings, Roles and RoleBindings (admin token)."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    ensure_namespace(core, RELEASE_NS)
    create = {
        "ServiceAccount": lambda o: core.create_namespaced_service_account(o["metadata"]["namespace"], o),
        "ClusterRole": rbac.create_cluster_role,
        "ClusterRoleBinding": rbac.create_cluster_role_binding,
        "Role": lambda o: rbac.create_namespaced_role(o["metadata"]["namespace"], o),
        "RoleBinding": lambda o: rbac.create_namespaced_role_binding(o["metadata"]["namespace"], o),
    }
    for kind in ("ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"):
        for obj in chart.of_kind(kind):
            create[kind](obj)


def mint_token(core: client.CoreV1Api, namespace: str, name: str, audience: str, seconds: int = 3600) -> str:
    spec = client.V1TokenRequestSpec(audiences=[audience], expiration_seconds=seconds)
    return core.create_namespaced_service_account_token(name, namespace, client.AuthenticationV1TokenRequest(spec=spec)).status.token


def write_kubeconfig(server: KubeTestServer, token: str, namespace: str, path: Path) -> Path:
    """A kubeconfig for the same server (and CA, with TLS) as the admin's, authenticating with `token`."""
    admin = yaml.safe_load(server.kubeconfig.read_text())
    cluster = admin["clusters"][0]
    user = path.stem
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster], "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": cluster["name"], "user": user, "namespace": namespace}}], "current-context": user,
    }))
    path.chmod(0o600)
    return path


def access_log(server: KubeTestServer, reset: bool = False) -> List[Dict[str, Any]]:
    return server.admin("GET", "/_testserver/access" + ("?reset=true" if reset else ""))


def user_of(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def compare(role: str, grants: List[Grant], entries: List[Dict[str, Any]]) -> Tuple[List[str], List[str]]:
    """(problems, table rows) for one role's access-log entries against its grants: refused calls, grants never
    used, grants another grant already covers, and allowlist entries that no longer apply.

    The access log does not record object names, so a grant limited by resourceNames counts as used by any allowed
    call of its verb and resource in its namespace; that the name matched is the server's decision (it allowed it)."""
    problems: List[str] = []
    denied = sorted({(e["verb"], e["group"], e["resource"], e["namespace"]) for e in entries if not e["allowed"]})
    pending_seen = set()
    for verb, group, resource, namespace in denied:
        key = (role, f"{verb} {group or 'core'}/{resource}")
        where = f"in namespace {namespace}" if namespace else "at the cluster scope"
        if key in SWIFT_FIX_PENDING:
            pending_seen.add(key)
            problems.append(f"{role}: refused {key[1]} {where}: {SWIFT_FIX_PENDING[key]}")
        else:
            problems.append(f"{role}: refused {key[1]} {where} (a grant is missing, or the role calls what it should not)")
    for key in SWIFT_FIX_PENDING:
        if key[0] == role and key not in pending_seen:
            problems.append(f"{role}: SWIFT_FIX_PENDING entry {key[1]!r} no longer happens: remove it")

    allowed = [e for e in entries if e["allowed"]]
    rows: List[str] = []
    by_label: Dict[str, Grant] = {}
    for grant in grants:
        if grant.label in by_label:
            problems.append(f"{role}: {grant.label} is granted twice ({by_label[grant.label].role} and {grant.role})")
            continue
        by_label[grant.label] = grant
        wider = [g for g in grants if g is not grant and (g.group, g.resource, g.verb) == (grant.group, grant.resource, grant.verb)
                 and not g.names and (not g.namespace or g.namespace == grant.namespace) and (g.namespace != grant.namespace or grant.names)]
        if wider:
            problems.append(f"{role}: {grant.label} ({grant.role}) is redundant: {wider[0].label} ({wider[0].role}) grants it already")
        calls = sum(e["count"] for e in allowed if grant.covers(e))
        key = (role, grant.label)
        names = f" named {','.join(grant.names)}" if grant.names else ""
        rows.append(f"{grant.label}{names} [{grant.role}]: {calls} call(s)")
        if calls == 0 and key not in UNUSED_GRANTS:
            problems.append(f"{role}: {grant.label}{names} is granted by {grant.role} but never called (an extra grant)")
        elif calls and key in UNUSED_GRANTS:
            problems.append(f"{role}: UNUSED_GRANTS entry {grant.label!r} is used now ({calls} calls): remove it")
    for key in UNUSED_GRANTS:
        if key[0] == role and key[1] not in by_label:
            problems.append(f"{role}: UNUSED_GRANTS entry {key[1]!r} is not granted any more: remove it")
    return problems, rows


# --------------------------------------------------------------------------------------------
# The roles as processes, with the chart's arguments
# --------------------------------------------------------------------------------------------


def field_env(container: Dict[str, Any], pod: Dict[str, str]) -> Dict[str, str]:
    """The container's env as kubelet fills it: literal values, and fieldRefs from `pod`."""
    env: Dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        else:
            path = item["valueFrom"]["fieldRef"]["fieldPath"]
            assert path in pod, f"env {item['name']}: fieldRef {path} not known to the test"
            env[item["name"]] = pod[path]
    return env


def chart_command(container: Dict[str, Any], env: Dict[str, str], replace: Dict[str, str], extra: Sequence[str] = ()) -> List[str]:
    """The container's command and args with `$(VAR)` expanded, the flags in `replace` given new values (each must be
    among the chart's args: a chart change that drops one is noticed) and `extra` appended."""
    assert container["command"][0] == "/akvs", container["command"]
    out: List[str] = []
    replaced = set()
    for arg in container.get("args") or []:
        m = re.match(r"^(--[A-Za-z0-9-]+)(?:=(.*))?$", arg, re.S)
        assert m, f"argument {arg!r} is not --flag or --flag=value"
        flag, value = m.group(1), m.group(2)
        if value is not None:
            value = re.sub(r"\$\((\w+)\)", lambda v: env[v.group(1)], value)
        if flag in replace:
            value = replace[flag]
            replaced.add(flag)
        out.append(flag if value is None else f"{flag}={value}")
    missing = sorted(set(replace) - replaced)
    assert not missing, f"the chart no longer passes {missing} to {container['name']}: {container.get('args')}"
    return [str(AKVS_BIN), *container["command"][1:], *out, *extra]


def start_role(name: str, args: List[str], ready: str, log: Path, env: Optional[Dict[str, str]] = None) -> Proc:
    if env:
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
    try:
        return Proc(name, args, ready, log, ready_timeout=60)
    finally:
        if env:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@dataclass
class Emulator:
    proc: Proc
    creds: Dict[str, Any]
    work: Path

    def secret_client(self, vault: str):
        """azure-keyvault-secrets with the emulator's admin (write) identity."""
        from azure.identity import ClientSecretCredential
        from azure.keyvault.secrets import SecretClient

        c = self.creds
        credential = ClientSecretCredential(c["tenantId"], c["clientId"], c["clientSecret"], authority=c["authorityHost"], disable_instance_discovery=True)
        return SecretClient(c["vaultUrls"][vault], credential)


@contextmanager
def sdk_environment(creds: Dict[str, Any]) -> Iterator[None]:
    """For the Azure SDK (requests): trust the emulator CA, never use a proxy for loopback."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", creds["caFile"])
        for name in ("NO_PROXY", "no_proxy"):
            current = os.environ.get(name, "")
            mp.setenv(name, f"{current},localhost,127.0.0.1,.localhost" if current else "localhost,127.0.0.1,.localhost")
        yield


def start_emulator(work: Path, seed: str, log_level: str = "warning") -> Emulator:
    (work / "seed.yaml").write_text(seed)
    proc = Proc("akvs emulator", [str(AKVS_BIN), "emulator", "--listen", "127.0.0.1:0", "--state-dir", str(work / "emu"),
                                  "--seed", str(work / "seed.yaml"), "--log-level", log_level], "akvs emulator ready", work / "emulator.log")
    return Emulator(proc, json.loads((work / "emu" / "credentials.json").read_text()), work)


@dataclass
class Roles:
    """Everything the roles need: the rendered chart, the server, the tokens and kubeconfigs, the folder."""

    chart: Chart
    server: KubeTestServer
    work: Path
    kubeconfigs: Dict[str, Path] = field(default_factory=dict)
    tokens: Dict[str, str] = field(default_factory=dict)

    def sync_controller(self, emulator: Emulator, name: str = "sync-controller") -> "Running":
        container = self.chart.container("sync-controller")
        env = field_env(container, {"metadata.name": f"{RELEASE}-sync-controller-5d9c7-x2k4q", "metadata.uid": str(uuid.uuid4()),
                                    "metadata.namespace": RELEASE_NS})
        providers = self.work / "sync-providers"
        providers.mkdir(exist_ok=True)
        metrics, health = free_port(), free_port()
        args = chart_command(container, env, {
            "--metrics-bind-address": f"127.0.0.1:{metrics}", "--health-probe-bind-address": f"127.0.0.1:{health}", "--provider-volume": str(providers),
        }, ["--kubeconfig", str(self.kubeconfigs["sync-controller"]), "--ca-file", emulator.creds["caFile"]])
        return Running(start_role(name, args, "akvs sync-controller starting", self.work / f"{name}.log", env), metrics, health)

    def restarter(self, name: str = "restarter") -> "Running":
        container = self.chart.container("restarter")
        metrics, health = free_port(), free_port()
        args = chart_command(container, field_env(container, {}), {
            "--metrics-bind-address": f"127.0.0.1:{metrics}", "--health-probe-bind-address": f"127.0.0.1:{health}", "--restart-debounce": "0s",
        }, ["--kubeconfig", str(self.kubeconfigs["restarter"])])
        return Running(start_role(name, args, "akvs restarter starting", self.work / f"{name}.log", {}), metrics, health)

    def provider(self, emulator: Emulator, providers: Path) -> "Running":
        container = self.chart.container("provider")
        metrics, health = free_port(), free_port()
        args = chart_command(container, field_env(container, {}), {
            "--endpoint": f"unix://{providers / 'azure.sock'}", "--healthz-port": str(health), "--prometheus-port": str(metrics),
        }, ["--ca-file", emulator.creds["caFile"]])
        # The chart gives the provider no token and no kubeconfig; a kubeconfig with its own account's token in the
        # environment would make any call it tried visible in the access log.
        proc = start_role("akvs provider", args, "akvs provider ready", self.work / "provider.log", {"KUBECONFIG": str(self.kubeconfigs["provider"])})
        return Running(proc, metrics, health)

    def csi_driver(self, providers: Path, name: str = "csi-driver") -> "Running":
        container = self.chart.container("csi-driver")
        env = field_env(container, {"spec.nodeName": NODE})
        registration = self.work / "registration"
        registration.mkdir(exist_ok=True)
        socket_path = self.work / "csi.sock"
        metrics, health = free_port(), free_port()
        args = chart_command(container, env, {
            "--endpoint": f"unix://{socket_path}", "--provider-volume": str(providers),
            "--additional-provider-volume-paths": str(self.work / "no-such-providers"), "--metrics-addr": f"127.0.0.1:{metrics}",
            "--health-addr": f"127.0.0.1:{health}", "--kubelet-registration-path": str(socket_path), "--plugin-registration-dir": str(registration),
        }, ["--kubeconfig", str(self.kubeconfigs["csi-driver"])])
        return Running(start_role(name, args, "akvs csi-driver ready", self.work / f"{name}.log", env), metrics, health, socket_path)


@dataclass
class Running:
    """A role's process and where it serves."""

    proc: Proc
    metrics_port: int
    health_port: int
    socket: Optional[Path] = None

    def stop(self) -> Optional[int]:
        return self.proc.stop()


def prepare_roles(server: KubeTestServer, work: Path, settings: Sequence[str] = SETTINGS) -> Roles:
    """Renders the chart, applies its RBAC, mints a token per role's service account and writes its kubeconfig."""
    chart = render_chart(settings)
    api = client.ApiClient(make_configuration(server))
    try:
        apply_rbac(api, chart)
        core = client.CoreV1Api(api)
        roles = Roles(chart, server, work)
        for role in ROLE_CONTAINERS:
            namespace, name = chart.service_account(role)
            roles.tokens[role] = mint_token(core, namespace, name, server.url)
            roles.kubeconfigs[role] = write_kubeconfig(server, roles.tokens[role], namespace, work / f"{role}.kubeconfig")
        return roles
    finally:
        api.close()


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def describe(value: Optional[bytes]) -> str:
    if value is None:
        return "<missing>"
    return f"<{len(value)} bytes sha256:{hashlib.sha256(value).hexdigest()[:12]}>"


def secret_value(core: client.CoreV1Api, namespace: str, name: str, key: str) -> Optional[bytes]:
    try:
        data = core.read_namespaced_secret(name, namespace).data or {}
    except ApiException as ex:
        if ex.status == 404:
            return None
        raise
    return base64.b64decode(data[key]) if key in data else None


def wait_value(core: client.CoreV1Api, namespace: str, name: str, key: str, expected: str, what: str, log: Path, timeout: float = 60) -> None:
    want = expected.encode()

    def check() -> bool:
        return secret_value(core, namespace, name, key) == want

    try:
        wait_until(check, timeout=timeout, interval=0.1, message=what)
    except AssertionError:
        raise AssertionError(f"{what}: Secret {namespace}/{name} key {key} holds {describe(secret_value(core, namespace, name, key))}, "
                             f"expected {describe(want)} within {timeout:.0f} s; log {log}") from None


def condition(obj: Dict[str, Any], type_: str) -> Optional[Dict[str, Any]]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


def events_for(api: client.ApiClient, namespace: str, name: str, reason: str) -> List[Any]:
    return [e for e in client.EventsV1Api(api).list_namespaced_event(namespace).items
            if e.regarding and e.regarding.name == name and e.reason == reason]


def series_count(event: Any) -> int:
    return event.series.count if event.series else 1


def spc_body(name: str, creds: Dict[str, Any], vault: str, objects: Sequence[Tuple[str, Optional[str]]], client_id: Optional[str] = None,
             secret_objects: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A SecretProviderClass reading `objects` ((objectName, objectAlias or None)) from the emulator's `vault`."""
    entries = "".join(f"  - |\n    objectName: {n}\n    objectType: secret\n" + (f"    objectAlias: {a}\n" if a else "") for n, a in objects)
    params = {"keyvaultName": vault, "tenantId": creds["tenantId"], "cloudName": "AzureStackCloud", "cloudEnvFileName": creds["cloudEnvFile"],
              "objects": "array:\n" + entries}
    if client_id:
        params["clientID"] = client_id
    body: Dict[str, Any] = {"apiVersion": f"{SPC['group']}/{SPC['version']}", "kind": "SecretProviderClass", "metadata": {"name": name},
                            "spec": {"provider": "azure", "parameters": params}}
    if secret_objects:
        body["spec"]["secretObjects"] = secret_objects
    return body


def secretsync_body(name: str, spc: str, sa: str, items: Sequence[Tuple[str, str]]) -> Dict[str, Any]:
    return {"apiVersion": f"{SECRETSYNC['group']}/{SECRETSYNC['version']}", "kind": "SecretSync", "metadata": {"name": name},
            "spec": {"secretProviderClassName": spc, "serviceAccountName": sa,
                     "secretObject": {"type": "Opaque", "data": [{"sourcePath": s, "targetKey": k} for s, k in items]}}}


def get_cr(custom: client.CustomObjectsApi, coords: Dict[str, str], namespace: str, name: str) -> Optional[Dict[str, Any]]:
    try:
        return custom.get_namespaced_custom_object(coords["group"], coords["version"], namespace, coords["plural"], name)
    except ApiException as ex:
        if ex.status == 404:
            return None
        raise


def patch_cr(custom: client.CustomObjectsApi, coords: Dict[str, str], namespace: str, name: str, body: Dict[str, Any]) -> None:
    custom.patch_namespaced_custom_object(coords["group"], coords["version"], namespace, coords["plural"], name, body)


def lease_holder(api: client.ApiClient) -> str:
    try:
        lease = client.CoordinationV1Api(api).read_namespaced_lease("29f1d54e.secret-sync.x-k8s.io", RELEASE_NS)
    except ApiException as ex:
        if ex.status == 404:
            return ""
        raise
    return lease.spec.holder_identity or ""


# --------------------------------------------------------------------------------------------
# Module fixtures
# --------------------------------------------------------------------------------------------

APP_NS, CSI_NS = "lp-app", "lp-csi"
VAULT = "lp-kv"
SYNC_CLIENT_ID = "5a5a5a5a-0000-4000-8000-00000000005a"
READER_ID = "c5c5c5c5-0000-4000-8000-0000000000c5"
READER_SECRET = "lp-reader-secret"
VALUES = {"a": "lp-a-value-1", "b": "lp-b-value-1", "x": "lp-x-value-1"}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    if not AKVS_BIN.is_file():
        pytest.fail(f"akvs binary not found at {AKVS_BIN}; run swift build or set AKVS_BIN", pytrace=False)
    root = tmp_path_factory.mktemp("least-privilege")
    yield root
    for point in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


def mounts_under(root: Path) -> List[str]:
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f if len(line.split()) > 4]
    return [p for p in points if p.startswith(prefix)]


@pytest.fixture(scope="module")
def roles(kube_server, work) -> Roles:
    return prepare_roles(kube_server, work)


@pytest.fixture(scope="module")
def emulator(kube_server, work, roles, core):
    ensure_namespace(core, APP_NS)
    ensure_namespace(core, CSI_NS)
    core.create_namespaced_service_account(APP_NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="app")))
    jwks = kube_server.raw_request("GET", "/openid/v1/jwks", token=None)[2].decode()
    emu = start_emulator(work,
        f"vaults:\n  - name: {VAULT}\n    secrets:\n" + "".join(f"      - {{name: {k}, value: {v}}}\n" for k, v in VALUES.items())
        + f"identities:\n  - name: sync\n    clientId: {SYNC_CLIENT_ID}\n    access: {{{VAULT}: read}}\n"
        f"    federatedCredentials:\n      - {{issuer: \"{kube_server.url}\", subject: \"system:serviceaccount:{APP_NS}:app\"}}\n"
        f"  - name: reader\n    clientId: {READER_ID}\n    clientSecret: {READER_SECRET}\n    access: {{{VAULT}: read}}\n"
        f"issuers:\n  - issuer: \"{kube_server.url}\"\n    jwks: {jwks}\n")
    with sdk_environment(emu.creds):
        yield emu
    emu.proc.stop()


@pytest.fixture(scope="module")
def vault(emulator):
    secrets = emulator.secret_client(VAULT)
    yield secrets
    secrets.close()


@pytest.fixture(scope="module")
def providers(work, roles, emulator):
    folder = work / "providers"
    folder.mkdir()
    provider = roles.provider(emulator, folder)
    yield folder
    provider.stop()


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


def test_the_chart_gives_the_provider_nothing(roles):
    chart = roles.chart
    namespace, name = chart.service_account("provider")
    assert grants_of(chart, namespace, name) == [], "a binding names the provider's service account"
    for binding in chart.of_kind("ClusterRoleBinding", "RoleBinding"):
        names = [s.get("name") for s in binding.get("subjects") or []]
        assert name not in names, f"{binding['kind']} {binding['metadata']['name']} binds {name}"
    pod = chart.workload("provider")["spec"]["template"]["spec"]
    assert pod.get("automountServiceAccountToken") is False
    assert chart.get("ServiceAccount", name, namespace).get("automountServiceAccountToken") is False
    projected = [v["name"] for v in pod.get("volumes") or [] if "projected" in v]
    assert projected == [], f"the provider pod projects {projected}"


def report(role: str, roles: Roles, entries: List[Dict[str, Any]]) -> None:
    namespace, name = roles.chart.service_account(role)
    mine = [e for e in entries if e["user"] == user_of(namespace, name)]
    assert mine, f"the access log has nothing from {user_of(namespace, name)}: did the role use its own kubeconfig?"
    problems, rows = compare(role, grants_of(roles.chart, namespace, name), mine)
    # Shown with -s (and with a failure): the table docs/security.md quotes.
    print(f"\n{role} ({user_of(namespace, name)}): grants and the calls that used them")
    for row in rows:
        print("  " + row)
    for e in mine:
        print(f"  call: {e['verb']} {e['group'] or 'core'}/{e['resource']} ns={e['namespace'] or '-'} allowed={e['allowed']} x{e['count']}")
    assert not problems, "\n".join(problems)


def test_sync_controller_least_privilege(kube_server, roles, emulator, vault, api_client, core, custom):
    creds = emulator.creds
    first_log = roles.work / "sync-controller.log"

    # The first run: the server refuses watch-list, so the informers list and then watch.
    kube_server.set_faults(watchListUnsupported=True)
    controller = roles.sync_controller(emulator)
    try:
        holder = wait_until(lambda: lease_holder(api_client), timeout=60, message=f"the controller takes the Lease; log {first_log}")

        custom.create_namespaced_custom_object(SPC["group"], SPC["version"], APP_NS, SPC["plural"],
                                               spc_body("vault", creds, VAULT, [("a", None), ("b", None)], client_id=SYNC_CLIENT_ID))
        for name, items in (("db", [("a", "password")]), ("multi", [("a", "a"), ("b", "b")]), ("broken", [("a", "password")])):
            spc = "no-such-class" if name == "broken" else "vault"
            custom.create_namespaced_custom_object(SECRETSYNC["group"], SECRETSYNC["version"], APP_NS, SECRETSYNC["plural"],
                                                   secretsync_body(name, spc, "app", items))
        wait_value(core, APP_NS, "db", "password", VALUES["a"], "SecretSync db creates its Secret", first_log)
        wait_value(core, APP_NS, "multi", "b", VALUES["b"], "SecretSync multi creates its Secret", first_log)
        wait_until(lambda: (condition(get_cr(custom, SECRETSYNC, APP_NS, "multi") or {}, "Create") or {}).get("reason") == "CreateSucceeded",
                   timeout=30, message="SecretSync multi reports CreateSucceeded")

        # A repeated Event: the same failure again after a spec edit is one Event with series.count 2 (a patch).
        wait_until(lambda: events_for(api_client, APP_NS, "broken", "ControllerSPCError"), timeout=30,
                   message=f"a ControllerSPCError Event for SecretSync broken; log {first_log}")
        patch_cr(custom, SECRETSYNC, APP_NS, "broken", {"spec": {"secretObject": {"labels": {"edited": "yes"}}}})
        wait_until(lambda: any(series_count(e) >= 2 for e in events_for(api_client, APP_NS, "broken", "ControllerSPCError")), timeout=30,
                   message="the repeated ControllerSPCError Event becomes a series (count 2)")

        # Value rotation: a new version in the vault, picked up by a forced sync.
        vault.set_secret("a", "lp-a-value-2")
        patch_cr(custom, SECRETSYNC, APP_NS, "db", {"spec": {"forceSynchronization": "rotate-1"}})
        wait_value(core, APP_NS, "db", "password", "lp-a-value-2", "a forced sync writes the rotated value", first_log)

        # Drift repair: an edited Secret is restored, a deleted one recreated.
        core.patch_namespaced_secret("db", APP_NS, {"data": {"password": base64.b64encode(b"tampered").decode()}})
        wait_value(core, APP_NS, "db", "password", "lp-a-value-2", "drift repair restores an edited Secret", first_log)
        wait_until(lambda: events_for(api_client, APP_NS, "db", "SecretRestored"), timeout=30, message="a SecretRestored Event")
        core.delete_namespaced_secret("db", APP_NS)
        wait_value(core, APP_NS, "db", "password", "lp-a-value-2", "drift repair recreates a deleted Secret", first_log)

        # AKVSync: its class and SecretSyncs are created; an edit updates the class and one SecretSync and deletes
        # the other. Its service account does not exist, so the generated SecretSyncs fail at the TokenRequest
        # (the generated class names the public cloud, which this test must not call).
        custom.create_namespaced_custom_object(AKVSYNC["group"], AKVSYNC["version"], APP_NS, AKVSYNC["plural"], {
            "apiVersion": f"{AKVSYNC['group']}/{AKVSYNC['version']}", "kind": "AKVSync", "metadata": {"name": "akv"},
            "spec": {"keyvaultName": VAULT, "clientID": SYNC_CLIENT_ID, "tenantID": creds["tenantId"], "serviceAccountName": "ghost",
                     "objects": [{"secretInAKV": "a"}, {"secretInAKV": "b"}]}})
        wait_until(lambda: (condition(get_cr(custom, AKVSYNC, APP_NS, "akv") or {}, "Ready") or {}).get("status") == "True",
                   timeout=30, message=f"AKVSync akv is Ready; log {first_log}")
        assert get_cr(custom, SECRETSYNC, APP_NS, "b") is not None, "the AKVSync generated SecretSync b"
        patch_cr(custom, AKVSYNC, APP_NS, "akv", {"spec": {"objects": [{"secretInAKV": "a", "labels": {"tier": "edited"}}]}})
        wait_until(lambda: get_cr(custom, SECRETSYNC, APP_NS, "b") is None, timeout=30, message="the edit deletes SecretSync b")
        wait_until(lambda: ((get_cr(custom, SECRETSYNC, APP_NS, "a") or {}).get("spec", {}).get("secretObject", {}).get("labels") or {}).get("tier") == "edited",
                   timeout=30, message="the edit updates SecretSync a")
        wait_until(lambda: (get_cr(custom, AKVSYNC, APP_NS, "akv") or {}).get("status", {}).get("observedGeneration") == 2,
                   timeout=30, message="AKVSync akv observed its edit")
        assert "objectName: b" not in get_cr(custom, SPC, APP_NS, "akv")["spec"]["parameters"]["objects"], "the edit updates the class"
    finally:
        rc = controller.stop()
        kube_server.clear_faults()
    assert rc == 0, f"the controller exited {rc} after SIGTERM; log {first_log}"
    wait_until(lambda: lease_holder(api_client) == "", timeout=10, message="the stopped controller releases the Lease")

    # The restart: b is now missing from the vault (the class names an object that does not exist), a changed.
    # With partial sync the new process writes only a and keeps b, without reading the Secret.
    patch_cr(custom, SPC, APP_NS, "vault", {"spec": {"parameters": {
        "objects": spc_body("x", creds, VAULT, [("a", None), ("lp-no-such-object", "b")])["spec"]["parameters"]["objects"]}}})
    vault.set_secret("a", "lp-a-value-3")
    second_log = roles.work / "sync-controller-restarted.log"
    controller = roles.sync_controller(emulator, name="sync-controller-restarted")
    try:
        wait_until(lambda: lease_holder(api_client) not in ("", holder), timeout=60, message=f"the restarted controller takes the Lease; log {second_log}")
        patch_cr(custom, SECRETSYNC, APP_NS, "multi", {"spec": {"forceSynchronization": "after-restart"}})
        wait_value(core, APP_NS, "multi", "a", "lp-a-value-3", "the restarted controller writes the fetched key", second_log)
        wait_until(lambda: (condition(get_cr(custom, SECRETSYNC, APP_NS, "multi") or {}, "Update") or {}).get("reason") == "PartialSync",
                   timeout=30, message="SecretSync multi reports PartialSync")
        assert secret_value(core, APP_NS, "multi", "b") == VALUES["b"].encode(), "the missing object's key keeps its last value"
    finally:
        rc = controller.stop()
    assert rc == 0, f"the restarted controller exited {rc} after SIGTERM; log {second_log}"

    entries = access_log(kube_server)
    namespace, name = roles.chart.service_account("sync-controller")
    reads = [e for e in entries if e["user"] == user_of(namespace, name) and e["resource"] == "secrets" and e["verb"] in ("get", "list")
             and e["namespace"] == APP_NS]
    assert reads == [], f"the sync controller read Secrets of {APP_NS}: {reads}"
    report("sync-controller", roles, entries)


# --- the CSI driver (root: tmpfs mounts) ------------------------------------------------------


@dataclass
class Volume:
    namespace: str
    pod: str
    uid: str
    spc: str
    target: Path
    volume_id: str = field(default_factory=lambda: f"csi-{uuid.uuid4().hex}")

    @property
    def status_name(self) -> str:
        return f"{self.pod}-{self.namespace}-{self.spc}"

    def context(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        return {"secretProviderClass": self.spc, "csi.storage.k8s.io/pod.name": self.pod, "csi.storage.k8s.io/pod.namespace": self.namespace,
                "csi.storage.k8s.io/pod.uid": self.uid, "csi.storage.k8s.io/serviceAccount.name": "default",
                "csi.storage.k8s.io/ephemeral": "true", **(extra or {})}


def make_volume(core: client.CoreV1Api, work: Path, namespace: str, spc: str, pod: str) -> Volume:
    """A Pod object and the target path kubelet would use for its csi volume (parent made, target not)."""
    created = core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name=pod), spec=client.V1PodSpec(node_name=NODE, containers=[client.V1Container(name="app", image="busybox:1.36")])))
    parent = work / "pods" / created.metadata.uid / "volumes" / "kubernetes.io~csi" / "secrets"
    parent.mkdir(parents=True)
    return Volume(namespace, pod, created.metadata.uid, spc, parent / "mount")


class Kubelet:
    """NodePublishVolume / NodeUnpublishVolume as kubelet sends them, over the driver's socket."""

    def __init__(self, csi, socket_path: Path) -> None:
        import grpc

        self.grpc, self.csi = grpc, csi
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")
        self.node = csi.NodeStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def publish_request(self, vol: Volume, secrets: Dict[str, str], context: Optional[Dict[str, str]] = None):
        csi = self.csi
        capability = csi.VolumeCapability(mount=csi.VolumeCapability.MountVolume(),
                                          access_mode=csi.VolumeCapability.AccessMode(mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_READER_ONLY))
        return csi.NodePublishVolumeRequest(volume_id=vol.volume_id, target_path=str(vol.target), volume_capability=capability, readonly=True,
                                            secrets=secrets, volume_context=vol.context(context))

    def publish(self, vol: Volume, secrets: Dict[str, str], context: Optional[Dict[str, str]] = None) -> None:
        try:
            self.node.NodePublishVolume(self.publish_request(vol, secrets, context), timeout=60)
        except self.grpc.RpcError as ex:
            raise AssertionError(f"NodePublishVolume {vol.target} failed: {ex.code()} {ex.details()}") from None

    def publish_error(self, vol: Volume, secrets: Dict[str, str], context: Optional[Dict[str, str]] = None):
        try:
            self.node.NodePublishVolume(self.publish_request(vol, secrets, context), timeout=60)
        except self.grpc.RpcError as ex:
            return ex
        raise AssertionError(f"NodePublishVolume {vol.target} succeeded; an error was expected")

    def unpublish(self, vol: Volume) -> None:
        try:
            self.node.NodeUnpublishVolume(self.csi.NodeUnpublishVolumeRequest(volume_id=vol.volume_id, target_path=str(vol.target)), timeout=60)
        except self.grpc.RpcError as ex:
            raise AssertionError(f"NodeUnpublishVolume {vol.target} failed: {ex.code()} {ex.details()}") from None


def read_file(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except OSError:
        return None


def needs_root() -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the CSI driver mounts a tmpfs at each target: run as root on Linux (CI does)")


@pytest.fixture(scope="module")
def csi(tmp_path_factory):
    import csi_stubs

    return csi_stubs.generate(tmp_path_factory.mktemp("csi-stubs"))


def test_csi_driver_least_privilege(kube_server, roles, emulator, vault, providers, csi, api_client, core, custom):
    needs_root()
    creds = emulator.creds
    secrets = {"clientid": READER_ID, "clientsecret": READER_SECRET}
    custom.create_namespaced_custom_object(SPC["group"], SPC["version"], CSI_NS, SPC["plural"], spc_body(
        "vault", creds, VAULT, [("x", None)], secret_objects=[{"secretName": "synced", "type": "Opaque", "data": [{"objectName": "x", "key": "value"}]}]))
    a = make_volume(core, roles.work, CSI_NS, "vault", "pod-a")
    b = make_volume(core, roles.work, CSI_NS, "vault", "pod-b")

    # The first run fills its caches by list + watch (the server refuses watch-list, as kube-apiserver on etcd
    # without watch progress does); the restarted one below by watch-list.
    kube_server.set_faults(watchListUnsupported=True)
    driver = roles.csi_driver(providers)
    kubelet = Kubelet(csi, driver.socket)
    try:
        kubelet.publish(a, secrets)
        kube_server.clear_faults()
        published = time.monotonic()
        assert read_file(a.target / "x") == VALUES["x"].encode(), f"pod-a's file holds {describe(read_file(a.target / 'x'))}"
        wait_value(core, CSI_NS, "synced", "value", VALUES["x"], "secretObjects sync creates the Secret", driver.proc.log_path)
        kubelet.publish(b, secrets)  # a second pod sharing the Secret: it becomes one of its owners
        owners = wait_until(lambda: len(core.read_namespaced_secret("synced", CSI_NS).metadata.owner_references or []) == 2 or None, timeout=30,
                            message="both pod statuses own the synced Secret")
        assert owners

        # Two rotations on kubelet's republish: files, pod status and Secret follow; the second time the rotation
        # Events repeat and become series (a patch).
        for n, value in enumerate(["lp-x-value-2", "lp-x-value-3"], start=1):
            vault.set_secret("x", value)
            time.sleep(max(0.0, published + ROTATION_DUE - time.monotonic()))
            kubelet.publish(a, secrets)
            published = time.monotonic()
            assert read_file(a.target / "x") == value.encode(), f"rotation {n}: pod-a's file holds {describe(read_file(a.target / 'x'))}"
            wait_value(core, CSI_NS, "synced", "value", value, f"rotation {n} updates the synced Secret", driver.proc.log_path)
        wait_until(lambda: any(series_count(e) >= 2 for e in events_for(api_client, CSI_NS, "pod-a", "MountRotationComplete")), timeout=30,
                   message="the second MountRotationComplete Event is a series (count 2)")

        # A changed secretObjects type: a Secret's type cannot be updated, so the managed Secret is replaced (delete).
        spc_now = custom.get_namespaced_custom_object(SPC["group"], SPC["version"], CSI_NS, SPC["plural"], "vault")
        spc_now["spec"]["secretObjects"][0]["type"] = "example.com/synced"
        custom.replace_namespaced_custom_object(SPC["group"], SPC["version"], CSI_NS, SPC["plural"], "vault", spc_now)
        time.sleep(max(0.0, published + ROTATION_DUE - time.monotonic()))
        deadline = time.monotonic() + 30
        while core.read_namespaced_secret("synced", CSI_NS).type != "example.com/synced":
            assert time.monotonic() < deadline, f"the secretObjects type change did not reach the Secret; log {driver.proc.log_path}"
            kubelet.publish(a, secrets)
            time.sleep(0.3)

        # A restart forgets which status belongs to which target: the unpublish finds them by the node label.
        kubelet.close()
        assert driver.proc.stop() == 0, f"the driver exited non-zero after SIGTERM; log {driver.proc.log_path}"
        driver = roles.csi_driver(providers, name="csi-driver-restarted")
        kubelet = Kubelet(csi, driver.socket)
        for vol in (a, b):
            kubelet.unpublish(vol)
            assert not os.path.ismount(vol.target) and not os.path.lexists(vol.target), f"{vol.target} is left after NodeUnpublishVolume"
            assert gone(custom.get_namespaced_custom_object, SPCPS["group"], SPCPS["version"], vol.namespace, SPCPS["plural"], vol.status_name), \
                f"SecretProviderClassPodStatus {vol.status_name} is left after NodeUnpublishVolume"
    finally:
        kubelet.close()
        driver.proc.stop()
    report("csi-driver", roles, access_log(kube_server))


def test_restarter_least_privilege(kube_server, roles, api_client, core, custom):
    """`akvs restarter` with the chart's arguments: an annotated Deployment, StatefulSet and DaemonSet (their inputs
    recorded: a patch of each kind), a Secret changed twice (two restarts of the Deployment; the second Event is a
    series patch), a rotation recorded in a SecretProviderClassPodStatus (a restart of the StatefulSet), leader
    election on its Lease."""
    apps = client.AppsV1Api(api_client)
    namespace = "lp-restart"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="db"), string_data={"password": "lp-restart-1"}))

    def template(name: str) -> client.V1PodTemplateSpec:
        env = [client.V1EnvVar(name="PASSWORD", value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(name="db", key="password")))]
        volumes = [client.V1Volume(name="secrets", csi=client.V1CSIVolumeSource(driver="secrets-store.csi.k8s.io", read_only=True,
                                                                                  volume_attributes={"secretProviderClass": "vault"}))]
        return client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": name}),
                                        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox:1.36", env=env)], volumes=volumes))

    auto = {"reloader.stakater.com/auto": "true"}
    selector = lambda name: client.V1LabelSelector(match_labels={"app": name})
    apps.create_namespaced_deployment(namespace, client.V1Deployment(metadata=client.V1ObjectMeta(name="web", annotations=auto),
                                                                     spec=client.V1DeploymentSpec(selector=selector("web"), template=template("web"))))
    apps.create_namespaced_stateful_set(namespace, client.V1StatefulSet(metadata=client.V1ObjectMeta(name="db", annotations=auto),
                                                                        spec=client.V1StatefulSetSpec(selector=selector("db"), service_name="db", template=template("db"))))
    apps.create_namespaced_daemon_set(namespace, client.V1DaemonSet(metadata=client.V1ObjectMeta(name="agent", annotations=auto),
                                                                    spec=client.V1DaemonSetSpec(selector=selector("agent"), template=template("agent"))))
    status = custom.create_namespaced_custom_object(SPCPS["group"], SPCPS["version"], namespace, SPCPS["plural"], {
        "apiVersion": f"{SPCPS['group']}/{SPCPS['version']}", "kind": "SecretProviderClassPodStatus", "metadata": {"name": "db-0-lp-restart-vault"},
        "status": {"podName": "db-0", "secretProviderClassName": "vault", "mounted": True, "targetPath": "/t", "objects": [{"id": "secret/x", "version": "v1"}]}})
    # Its informers fill by list + watch here (the server refuses watch-list); the driver's scenario shows watch-list.
    kube_server.set_faults(watchListUnsupported=True)
    restarter = roles.restarter()

    def annotation(read, name, path):
        obj = read(name, namespace)
        return ((obj.spec.template.metadata.annotations if path == "template" else obj.metadata.annotations) or {}).get(
            "kubectl.kubernetes.io/restartedAt" if path == "template" else "akvs.io/restart-inputs")

    try:
        readers = [apps.read_namespaced_deployment, apps.read_namespaced_stateful_set, apps.read_namespaced_daemon_set]
        for read, name in zip(readers, ["web", "db", "agent"]):
            wait_until(lambda: annotation(read, name, "metadata"), timeout=30, message=f"the restarter records the inputs of {name}")
        for n, value in enumerate(["lp-restart-2", "lp-restart-3"], start=1):
            before = annotation(apps.read_namespaced_deployment, "web", "template")
            core.patch_namespaced_secret("db", namespace, {"stringData": {"password": value}})
            wait_until(lambda: annotation(apps.read_namespaced_deployment, "web", "template") not in (None, before), timeout=30,
                       message=f"change {n} restarts the Deployment; log {restarter.proc.log_path}")
            time.sleep(1.1)  # restartedAt has whole seconds
        status["status"]["objects"] = [{"id": "secret/x", "version": "v2"}]
        custom.replace_namespaced_custom_object(SPCPS["group"], SPCPS["version"], namespace, SPCPS["plural"], "db-0-lp-restart-vault", status)
        wait_until(lambda: (apps.read_namespaced_stateful_set("db", namespace).spec.template.metadata.annotations or {}).get("akvs.io/restarted-for"),
                   timeout=30, message="the rotation restarts the StatefulSet")
    finally:
        restarter.stop()
        kube_server.clear_faults()
    report("restarter", roles, access_log(kube_server))


def test_provider_makes_no_api_call(kube_server, roles, providers):
    """Last: the provider (started with the module, serving every mount above) never showed up in the access log."""
    namespace, name = roles.chart.service_account("provider")
    calls = [e for e in access_log(kube_server) if e["user"] == user_of(namespace, name)]
    assert calls == [], f"akvs provider called the API as {user_of(namespace, name)}: {calls}"
