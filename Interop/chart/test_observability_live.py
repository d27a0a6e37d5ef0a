"""A real Prometheus scraping the real roles: `akvs sync-controller`, `akvs csi-driver` (driven over CSI gRPC as
kubelet drives it, real tmpfs mounts) and `akvs provider`, against `akvs emulator` and the Kubernetes test server.

The scenario is set up on purpose: objects that expire (in 3 days, in 6 hours, 2 days ago) with not-before dates, a
SecretSync that is refused by the vault (403) and one whose identity Entra ID refuses (AADSTS70021), a throttled vault
(the emulator's admin API: every request answered 429), a mount served from its last good content during a vault
outage, a mount refused by its vault, and a provider that goes down. Prometheus (Debian's package; its own
configuration, data folder and port) scrapes the roles every second as a ServiceMonitor would (job = the pods' `app`
label, honor_labels) and loads the chart's PrometheusRule. After two scrapes every dashboard query and every alert
expression is evaluated through Prometheus's HTTP API: any query that errors fails, and so does any query that returns
no series where the scenario must produce some (EXPECT says which, and why). Failures name the metrics no role exports.

Needs root (tmpfs mounts) and Linux, like Interop/kubernetes/test_csi_driver_cli.py, whose way of driving the driver
this follows; AKVS_BIN, KUBE_TEST_SERVER_BIN, PROMTOOL/PROMETHEUS (Scripts/install-prometheus.sh). AKVS_OBS_DUMP=FILE
writes every series the roles exported to FILE.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
import yaml

import observability as obs
from conftest import REPO_ROOT

if not sys.platform.startswith("linux"):
    pytest.skip("the CSI driver mounts tmpfs with mount(2): Linux only", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("the CSI driver mounts a tmpfs at each target: run as root (CI does)", allow_module_level=True)

sys.path.append(str(REPO_ROOT / "Interop" / "common"))
sys.path.append(str(REPO_ROOT / "Interop" / "kubernetes"))
import grpc  # noqa: E402
from kubernetes import client, config  # noqa: E402

import csi_stubs  # noqa: E402  (Interop/kubernetes: the CSI v1 stubs generated from Protos/)
from processes import Proc, free_port  # noqa: E402  (Interop/common)

NODE = "node-a"
NS = "obs"
SA = "app"
RELEASE_NS = "kube-system"  # the chart is rendered with -n kube-system: AkvsRoleDown watches that namespace
SYNC_ID = "0b5e0000-0000-4000-8000-00000000005c"
LONELY_ID = "0b5e0000-0000-4000-8000-0000000001e1"
READER_ID = "0b5e0000-0000-4000-8000-0000000000c5"
READER_SECRET = "obs-reader-secret"
SCRAPE_SECONDS = 1.0
SETTLE_SECONDS = 25.0  # how long a required query may take to get its series after the two scrapes

OBS_KV, DENIED_KV, THROTTLED_KV, MOUNT_KV = "obs-kv", "denied-kv", "throttled-kv", "mount-kv"
POD = {obs.SYNC: "akvs-secrets-store-sync-controller-6c9d-0", obs.DRIVER: "akvs-secrets-store-csi-driver-node-a",
       obs.PROVIDER: "akvs-secrets-store-provider-azure-node-a"}
DOWN_POD = "akvs-secrets-store-provider-azure-node-b"


# --------------------------------------------------------------------------------------------
# What the scenario must produce
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """`series`: the query returns at least one series; `positive`: its (single) value is above zero (for count(…) or
    vector(0)); `any`: it may be empty. `labels`: label values some returned series must carry (each a set of
    alternatives), `absent`: label values no series may carry. `why`: what in the scenario makes it so."""

    mode: str
    why: str
    labels: Tuple[Tuple[Tuple[str, Tuple[str, ...]], ...], ...] = ()
    absent: Tuple[Tuple[str, str], ...] = ()


def must(why: str, *labels: Dict[str, Any], absent: Sequence[Tuple[str, str]] = ()) -> Expect:
    def alts(v):
        return tuple(v) if isinstance(v, (list, tuple, set)) else (v,)
    return Expect("series", why, tuple(tuple((k, alts(v)) for k, v in sorted(d.items())) for d in labels), tuple(absent))


def positive(why: str) -> Expect:
    return Expect("positive", why)


def may(why: str) -> Expect:
    return Expect("any", why)


def vault(name: str) -> Tuple[str, ...]:
    """The vault label: the vault's name, or its host name (akvs_sync_vault_requests uses the host)."""
    return (name, f"{name}.vault.localhost")


DASHBOARD_EXPECT: Dict[str, Expect] = {
    "Expired [A]": positive("secret gone (sync) expired 2 days ago"),
    "Expire within 1 day [A]": positive("secret today (sync) expires in 6 hours"),
    "Expire within 7 days [A]": positive("secrets soon (3 days), today (6 hours) and mnt-soon (5 days)"),
    "Objects with an expiry [A]": positive("four objects in use have an expiry"),
    "Objects by expiry, soonest first [A]": must("the objects with an expiry", {"object": "soon", "namespace": NS},
                                                 {"object": "mnt-soon", "secret_provider_class": "mounted"}),
    "Objects by expiry, soonest first [B]": must("the same objects", {"object": "today"}),
    "Objects by expiry, soonest first [C]": must("soon and mnt-soon have a not-before date", {"object": "soon"}, {"object": "mnt-soon"}),
    "SecretSyncs and mounts, stalest first [A]": must("SecretSync good and the mount of SecretProviderClass mounted succeeded",
                                                      {"kind": "SecretSync", "name": "good"}, {"kind": "SecretProviderClass", "name": "mounted"}),
    "SecretSyncs and mounts, stalest first [B]": must("every attempt has a result", {"kind": "SecretSync", "name": "denied"},
                                                      {"kind": "SecretProviderClass", "name": "mount-denied"}),
    "SecretSyncs and mounts, stalest first [C]": must("every attempt has a time", {"kind": "SecretSync", "name": "throttled"}),
    "Failing SecretSyncs per namespace [A]": must("SecretSyncs denied, unfederated and throttled fail", {"namespace": NS}),
    "Failing mounts per namespace [A]": must("the mount of SecretProviderClass mount-denied fails (403)", {"namespace": NS}),
    "Mounts served stale per namespace [A]": must("a republish of mounted during the outage of mount-kv", {"namespace": NS}),
    "Oldest success per namespace [A]": must("SecretSync good and the mount succeeded", {"kind": "SecretSync", "namespace": NS}),
    "Sync controller reconciles by reason [A]": must("the SecretSyncs were reconciled"),
    "Sync controller queue [A]": must("the sync controller's queue gauge"),
    "Sync controller queue [B]": must("the sync controller's oldest-unsynced gauge"),
    "Sync duration [A]": must("reconciles took time"),
    "Sync duration [B]": must("reconciles took time"),
    "CSI mounts and unmounts [A]": must("NodePublishVolume of mounted succeeded", {"provider": "azure"}),
    "CSI mounts and unmounts [B]": must("NodeUnpublishVolume of the refused mount's target"),
    "CSI mount and unmount errors [A]": must("NodePublishVolume of mount-denied failed"),
    "CSI mount and unmount errors [B]": may("no unpublish fails in the scenario"),
    "Key Vault responses by code [A]": must("2xx, 403 and 429 replies", {"code": "2xx"}, {"code": "403"}, {"code": "429"}),
    "Key Vault errors by vault [A]": must("denied-kv answers 403, throttled-kv 429", {"vault": vault(DENIED_KV), "code": "403"},
                                          {"vault": vault(THROTTLED_KV), "code": "429", "error": "Throttled"}),
    "Key Vault request latency [A]": must("the provider fetched from mount-kv"),
    "Key Vault request latency [B]": must("the provider fetched from mount-kv"),
    "Key Vault request latency [C]": must("the provider fetched from mount-kv"),
    "Entra ID token responses [A]": must("tokens issued, and AADSTS70021 for SecretSync unfederated",
                                         {"code": "2xx"}, {"aadsts": "AADSTS70021"}),
    "Vault circuit breakers [A]": must("the sync controller has a breaker per vault it calls", {"vault": vault(THROTTLED_KV)}),
    "Vault request budget [A]": must("the sync controller started requests", {"vault": vault(OBS_KV)}),
    "Vault request budget [B]": must("the budget gauge is kept for every vault called", {"vault": vault(OBS_KV)}),
    "Provider gRPC latency [A]": must("the driver called Mount", {"grpc_method": ("/v1alpha1.CSIDriverProvider/Mount", "Mount")}),
    "Provider calls and errors [A]": must("the sync controller called its provider", {"result": "ok"}, {"result": "error"}),
    "Provider calls and errors [B]": must("Mount of mount-denied failed in the provider"),
    "Rotation reconciles [A]": must("the republish of mounted ran a rotation reconcile"),
    "Rotation reconciles [B]": may("whether serving the last good content counts as a rotation error is the driver's choice"),
    "Rotation and Secret sync duration [A]": must("the rotation reconcile took time"),
    "Rotation and Secret sync duration [B]": must("mounted has secretObjects: the driver synced a Secret"),
    "Kubernetes writes [A]": must("the sync controller wrote Secrets and statuses", {"kind": "secret"}),
    "Kubernetes writes [B]": must("the driver synced secretObjects of mounted"),
    "Workload restarts by akvs [A]": may("no role restarts workloads yet (a future controller)"),
    "akvs process restarts [A]": must("every role has a start time", {"job": obs.SYNC}, {"job": obs.DRIVER}, {"job": obs.PROVIDER}),
    "Scrape targets up [A]": must("every role is scraped", {"job": obs.SYNC}, {"job": obs.DRIVER}, {"job": obs.PROVIDER}),
    "CPU per pod [A]": must("every role's process", {"job": obs.SYNC, "pod": POD[obs.SYNC]}, {"job": obs.DRIVER}, {"job": obs.PROVIDER}),
    "Memory per pod [A]": must("every role's process", {"job": obs.SYNC}, {"job": obs.DRIVER}, {"job": obs.PROVIDER, "pod": POD[obs.PROVIDER]}),
}

ALERT_EXPECT: Dict[Tuple[str, str], Expect] = {
    ("AkvsObjectExpiring", "warning"): must("soon, today, gone (sync) and mnt-soon (mount) expire within 7 days",
                                            {"object": "soon", "vault": vault(OBS_KV), "namespace": NS, "secret_provider_class": "obs-sync",
                                             "object_type": "secret"},
                                            {"object": "today"}, {"object": "gone"},
                                            {"object": "mnt-soon", "vault": vault(MOUNT_KV), "secret_provider_class": "mounted"},
                                            absent=[("object", "fine")]),
    ("AkvsObjectExpiring", "critical"): must("today expires in 6 hours, gone has expired", {"object": "today"}, {"object": "gone"},
                                             absent=[("object", "soon"), ("object", "mnt-soon")]),
    ("AkvsSecretSyncFailing", "warning"): must("denied, unfederated and throttled fail (the `for` is not evaluated here)",
                                               {"kind": "SecretSync", "namespace": NS, "name": "denied"}, {"name": "unfederated"},
                                               {"name": "throttled"}, absent=[("name", "good")]),
    ("AkvsMountServedStale", "warning"): must("mounted was served stale during the outage of mount-kv",
                                              {"namespace": NS, "secret_provider_class": "mounted"}),
    ("AkvsVaultThrottled", "warning"): must("throttled-kv answers every request 429", {"vault": vault(THROTTLED_KV)},
                                            absent=[("vault", OBS_KV)]),
    ("AkvsKeyVaultAccessDenied", "warning"): must("denied-kv refuses the identities (403)", {"vault": vault(DENIED_KV), "code": "403"}),
    ("AkvsEntraTokenRefused", "warning"): must("SecretSync unfederated: no federated credential matches (AADSTS70021)",
                                               {"aadsts": "AADSTS70021"}),
    ("AkvsRoleDown", "critical"): must("the provider on node-b was killed", {"job": obs.PROVIDER, "pod": DOWN_POD, "namespace": RELEASE_NS},
                                       absent=[("pod", POD[obs.PROVIDER])]),
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def iso(delta: datetime.timedelta) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) + delta).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_json(url: str, method: str = "GET", body: Any = None, context: Optional[ssl.SSLContext] = None, timeout: float = 10) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"} if data else {})
    handlers: List[Any] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip() else None


def wait_for(what: str, check: Callable[[], Any], timeout: float, logs: Sequence[Proc] = ()) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as ex:  # noqa: BLE001 - reported if it never succeeds
            last = ex
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.log_tail(limit=3000)}" for p in logs)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})\n{tails}", pytrace=False)


def spc(name: str, vault_name: str, objects: Sequence[str], creds: Dict[str, Any], client_id: Optional[str] = None,
        secret_objects: Optional[List[dict]] = None) -> dict:
    array = "".join(f"  - |\n    objectName: {o}\n    objectType: secret\n" for o in objects)
    params = {"keyvaultName": vault_name, "tenantId": creds["tenantId"], "cloudName": "AzureStackCloud",
              "cloudEnvFileName": creds["cloudEnvFile"], "objects": "array:\n" + array}
    if client_id:
        params["clientID"] = client_id
    body = {"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": {"name": name},
            "spec": {"provider": "azure", "parameters": params}}
    if secret_objects:
        body["spec"]["secretObjects"] = secret_objects
    return body


def secret_sync(name: str, spc_name: str, keys: Sequence[str]) -> dict:
    return {"apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": {"name": name},
            "spec": {"secretProviderClassName": spc_name, "serviceAccountName": SA,
                     "secretObject": {"type": "Opaque", "data": [{"sourcePath": k, "targetKey": k} for k in keys]}}}


def mounts_under(root: Path) -> List[str]:
    prefix = str(root).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4].replace("\\040", " ").startswith(prefix):
                found.append(fields[4].replace("\\040", " "))
    return found


class Background:
    """A process that prints no ready line (Prometheus logs to stderr): started, stopped, its log kept."""

    def __init__(self, name: str, args: List[str], log_path: Path) -> None:
        self.name, self.args, self.log_path = name, args, log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def log_tail(self, start: int = 0, limit: int = 8000) -> str:
        text = self.log_path.read_text(errors="replace")[start:]
        return text if len(text) <= limit else "…" + text[-limit:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def scrape_time(text: str) -> float:
    """A target's lastScrape (RFC 3339 with nanoseconds) as a Unix time."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return 0.0
    base = datetime.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base.timestamp() + float("0" + (m.group(2) or ""))


@dataclass
class Volume:
    pod: str
    uid: str
    spc: str
    target: Path
    volume_id: str = field(default_factory=lambda: f"csi-{uuid.uuid4().hex}")


# --------------------------------------------------------------------------------------------
# The stack and the scenario
# --------------------------------------------------------------------------------------------


@dataclass
class Stack:
    prometheus_url: str
    procs: Dict[str, Proc]
    prometheus: "Background"
    config: dict

    def query(self, expr: str) -> Tuple[Optional[List[dict]], str]:
        """(result, "") or (None, error) of an instant query now."""
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            reply = http_json(url)
        except urllib.error.HTTPError as ex:
            reply = json.loads(ex.read().decode() or "{}")
        if reply.get("status") != "success":
            return None, f"{reply.get('errorType')}: {reply.get('error')}"
        data = reply["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}], ""
        return data["result"], ""

    def exported(self) -> Dict[str, set]:
        """job -> the contract metric families its targets export right now."""
        out: Dict[str, set] = {}
        result, error = self.query('count by (job, __name__) ({job=~"%s"})' % "|".join(obs.JOBS))
        assert result is not None, error
        for r in result:
            family = obs.family_of(r["metric"]["__name__"])
            if family is not None:
                out.setdefault(r["metric"]["job"], set()).add(family.name)
        return out

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.log_tail(limit=2500)}" for p in [*self.procs.values(), self.prometheus])


@pytest.fixture(scope="module")
def stack(kube_server, akvs_bin, prometheus_bin, promtool_bin, render, tmp_path_factory):
    work = tmp_path_factory.mktemp("observability")
    procs: Dict[str, Proc] = {}
    volumes: List[Tuple[Any, Volume]] = []
    prometheus: Optional[Background] = None
    channel: Optional[grpc.Channel] = None
    try:
        # --- emulator ------------------------------------------------------------------------------
        # The test server's service-account issuer (HTTPS, its CA in <state>/pki), trusted by the emulator for workload identity.
        kube_tls = ssl.create_default_context(cafile=str(kube_server.kubeconfig.parent / "pki" / "root-ca.pem"))
        issuer = http_json(kube_server.url + "/.well-known/openid-configuration", context=kube_tls)["issuer"]
        jwks = http_json(kube_server.url + "/openid/v1/jwks", context=kube_tls)
        seed = {
            "vaults": [
                {"name": OBS_KV, "secrets": [
                    {"name": "fine", "value": "fine-value"},
                    {"name": "soon", "value": "soon-value", "notBefore": iso(datetime.timedelta(days=-30)), "expires": iso(datetime.timedelta(days=3))},
                    {"name": "today", "value": "today-value", "expires": iso(datetime.timedelta(hours=6))},
                    {"name": "gone", "value": "gone-value", "expires": iso(datetime.timedelta(days=-2))}]},
                {"name": DENIED_KV, "secrets": [{"name": "x", "value": "denied-value"}]},
                {"name": THROTTLED_KV, "secrets": [{"name": "x", "value": "throttled-value"}]},
                {"name": MOUNT_KV, "secrets": [
                    {"name": "mnt-soon", "value": "mount-value", "notBefore": iso(datetime.timedelta(days=-1)), "expires": iso(datetime.timedelta(days=5))}]},
            ],
            "identities": [
                {"name": "sync", "clientId": SYNC_ID, "access": {OBS_KV: "read", THROTTLED_KV: "read"},
                 "federatedCredentials": [{"issuer": issuer, "subject": f"system:serviceaccount:{NS}:{SA}"}]},
                {"name": "lonely", "clientId": LONELY_ID, "access": {OBS_KV: "read"},
                 "federatedCredentials": [{"issuer": issuer, "subject": f"system:serviceaccount:{NS}:someone-else"}]},
                {"name": "csi-reader", "clientId": READER_ID, "clientSecret": READER_SECRET, "access": {MOUNT_KV: "read"}},
            ],
            "issuers": [{"issuer": issuer, "jwks": jwks}],
        }
        (work / "seed.yaml").write_text(yaml.safe_dump(seed))
        procs["emulator"] = Proc("akvs emulator", [str(akvs_bin), "emulator", "--listen", "127.0.0.1:0", "--state-dir", str(work / "emu"),
                                                   "--seed", str(work / "seed.yaml")], "akvs emulator ready", work / "emulator.log")
        creds = json.loads((work / "emu" / "credentials.json").read_text())
        tls = ssl.create_default_context(cafile=creds["caFile"])
        admin = creds["authorityHost"].rstrip("/")
        # Every request to throttled-kv is answered 429 Throttled with Retry-After 1.
        http_json(f"{admin}/_emulator/vaults/{THROTTLED_KV}/faults", "PUT",
                  {"latencyMs": 0, "jitterMs": 0, "errorRate": 0, "throttle": {"limit": 0, "writeLimit": 0, "windowSeconds": 1}, "outage": False},
                  context=tls)

        # --- Kubernetes objects ------------------------------------------------------------------------
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kube_server.kubeconfig), client_configuration=cfg, persist_config=False)
        cfg.proxy = None
        api = client.ApiClient(cfg)
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        core.create_namespaced_service_account(NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=SA)))
        for body in (spc("obs-sync", OBS_KV, ["fine", "soon", "today", "gone"], creds, SYNC_ID),
                     spc("denied", DENIED_KV, ["x"], creds, SYNC_ID),
                     spc("throttled", THROTTLED_KV, ["x"], creds, SYNC_ID),
                     spc("unfederated", OBS_KV, ["fine"], creds, LONELY_ID),
                     spc("mounted", MOUNT_KV, ["mnt-soon"], creds,
                         secret_objects=[{"secretName": "mounted-synced", "type": "Opaque", "data": [{"objectName": "mnt-soon", "key": "value"}]}]),
                     spc("mount-denied", DENIED_KV, ["x"], creds)):
            custom.create_namespaced_custom_object("secrets-store.csi.x-k8s.io", "v1", NS, "secretproviderclasses", body)
        for body in (secret_sync("good", "obs-sync", ["fine", "soon", "today", "gone"]), secret_sync("denied", "denied", ["x"]),
                     secret_sync("throttled", "throttled", ["x"]), secret_sync("unfederated", "unfederated", ["fine"])):
            custom.create_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", NS, "secretsyncs", body)

        # --- the roles -----------------------------------------------------------------------------------
        ports = {job: free_port() for job in obs.JOBS}
        down_port = free_port()
        procs[obs.SYNC] = Proc("akvs sync-controller", [
            str(akvs_bin), "sync-controller", "--kubeconfig", str(kube_server.kubeconfig), "--ca-file", creds["caFile"],
            "--rotation-poll-interval", "2s", "--object-cache-ttl", "0", "--metrics-bind-address", f"127.0.0.1:{ports[obs.SYNC]}",
            "--health-probe-bind-address", f"127.0.0.1:{free_port()}", "--log-level", "warning"],
            "akvs sync-controller starting", work / "sync-controller.log")
        providers, providers_b = work / "providers", work / "providers-b"
        providers.mkdir()
        providers_b.mkdir()
        procs[obs.PROVIDER] = Proc("akvs provider", [
            str(akvs_bin), "provider", "--endpoint", f"unix://{providers / 'azure.sock'}", "--healthz-port", str(free_port()),
            "--prometheus-port", str(ports[obs.PROVIDER]), "--ca-file", creds["caFile"], "--object-cache-ttl", "0"],
            "akvs provider ready", work / "provider.log")
        procs["down"] = Proc("akvs provider (node-b)", [
            str(akvs_bin), "provider", "--endpoint", f"unix://{providers_b / 'azure.sock'}", "--healthz-port", str(free_port()),
            "--prometheus-port", str(down_port), "--ca-file", creds["caFile"]], "akvs provider ready", work / "provider-b.log")
        csi_socket = work / "csi.sock"
        procs[obs.DRIVER] = Proc("akvs csi-driver", [
            str(akvs_bin), "csi-driver", "--endpoint", f"unix://{csi_socket}", "--nodeid", NODE, "--provider-volume", str(providers),
            "--additional-provider-volume-paths", str(work / "no-such-providers"), "--kubeconfig", str(kube_server.kubeconfig),
            "--metrics-addr", f"127.0.0.1:{ports[obs.DRIVER]}", "--health-addr", f"127.0.0.1:{free_port()}",
            "--enable-secret-rotation", "true", "--rotation-poll-interval", "1s"],
            "akvs csi-driver ready", work / "csi-driver.log")

        # --- Prometheus, scraping as the ServiceMonitors would, with the chart's rules ----------------------------
        [rule] = render(["syncController.enabled=true", "metrics.prometheusRule.enabled=true"]).of_kind("PrometheusRule")
        obs.write_yaml(work / "akvs-rules.yaml", obs.rules_of(rule))

        def target(port: int, pod: str) -> dict:
            """A target labelled as the operator labels a pod's (namespace, pod); the job comes from the scrape config."""
            return {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": RELEASE_NS, "pod": pod}}

        prom_config = {
            "global": {"scrape_interval": f"{int(SCRAPE_SECONDS)}s", "scrape_timeout": f"{int(SCRAPE_SECONDS)}s",
                       "evaluation_interval": f"{int(SCRAPE_SECONDS)}s"},
            "rule_files": ["akvs-rules.yaml"],
            "scrape_configs": [
                {"job_name": obs.SYNC, "honor_labels": True, "static_configs": [target(ports[obs.SYNC], POD[obs.SYNC])]},
                {"job_name": obs.DRIVER, "honor_labels": True, "static_configs": [target(ports[obs.DRIVER], POD[obs.DRIVER])]},
                {"job_name": obs.PROVIDER, "honor_labels": True, "static_configs": [
                    target(ports[obs.PROVIDER], POD[obs.PROVIDER]), target(down_port, DOWN_POD)]},
            ],
        }
        obs.write_yaml(work / "prometheus.yml", prom_config)
        check = obs.promtool("check", "config", str(work / "prometheus.yml"))
        assert check.returncode == 0, check.stdout + check.stderr
        prom_port = free_port()
        prometheus = Background("prometheus", [str(prometheus_bin), f"--config.file={work / 'prometheus.yml'}",
                                                f"--storage.tsdb.path={work / 'prometheus-data'}",
                                                f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], work / "prometheus.log")
        stack = Stack(f"http://127.0.0.1:{prom_port}", procs, prometheus, prom_config)

        def ready() -> bool:
            try:
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{stack.prometheus_url}/-/ready", timeout=2)
                return True
            except (urllib.error.URLError, OSError):
                return False

        wait_for("Prometheus answers /-/ready", ready, 30, [prometheus])

        # --- the CSI driver, as kubelet drives it -------------------------------------------------------------
        csi = csi_stubs.generate(work / "csi-stubs")
        channel = grpc.insecure_channel(f"unix://{csi_socket}")
        node = csi.NodeStub(channel)

        def volume(spc_name: str) -> Volume:
            pod = f"pod-{spc_name}"
            created = core.create_namespaced_pod(NS, client.V1Pod(metadata=client.V1ObjectMeta(name=pod), spec=client.V1PodSpec(
                node_name=NODE, containers=[client.V1Container(name="app", image="busybox:1.36")])))
            parent = work / "pods" / created.metadata.uid / "volumes" / "kubernetes.io~csi" / "secrets"
            parent.mkdir(parents=True)
            return Volume(pod, created.metadata.uid, spc_name, parent / "mount")

        def publish(v: Volume) -> None:
            capability = csi.VolumeCapability(mount=csi.VolumeCapability.MountVolume(), access_mode=csi.VolumeCapability.AccessMode(
                mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_READER_ONLY))
            context = {"secretProviderClass": v.spc, "csi.storage.k8s.io/pod.name": v.pod, "csi.storage.k8s.io/pod.namespace": NS,
                       "csi.storage.k8s.io/pod.uid": v.uid, "csi.storage.k8s.io/serviceAccount.name": "default",
                       "csi.storage.k8s.io/ephemeral": "true"}
            node.NodePublishVolume(csi.NodePublishVolumeRequest(
                volume_id=v.volume_id, target_path=str(v.target), volume_capability=capability, readonly=True,
                secrets={"clientid": READER_ID, "clientsecret": READER_SECRET}, volume_context=context), timeout=30)

        mounted, refused = volume("mounted"), volume("mount-denied")
        publish(mounted)
        volumes.append((csi, mounted))
        with pytest.raises(grpc.RpcError):
            publish(refused)  # denied-kv refuses the reader: 403
        node.NodeUnpublishVolume(csi.NodeUnpublishVolumeRequest(volume_id=refused.volume_id, target_path=str(refused.target)), timeout=30)
        # kubelet's republish once the rotation interval (1 s) has passed: a rotation reconcile.
        time.sleep(1.3)
        publish(mounted)
        # mount-kv goes down; the next republish is served from the last good content.
        http_json(f"{admin}/_emulator/vaults/{MOUNT_KV}/faults", "PUT",
                  {"latencyMs": 0, "jitterMs": 0, "errorRate": 0, "throttle": {"limit": 4000, "windowSeconds": 10}, "outage": True}, context=tls)
        time.sleep(1.3)
        publish(mounted)
        assert (mounted.target / "mnt-soon").read_text() == "mount-value", "the republish during the outage keeps the last good content"

        # --- the SecretSyncs have run, and the provider on node-b has gone down -----------------------------------
        def conditions(name: str) -> Optional[list]:
            body = custom.get_namespaced_custom_object("secret-sync.x-k8s.io", "v1alpha1", NS, "secretsyncs", name)
            return (body.get("status") or {}).get("conditions")

        wait_for("Secret obs/good synced", lambda: core.read_namespaced_secret("good", NS), 30, [procs[obs.SYNC]])
        for name in ("denied", "throttled", "unfederated"):
            wait_for(f"SecretSync {NS}/{name} has a status", lambda: conditions(name), 30, [procs[obs.SYNC]])

        def scraped(pod: str, health: str) -> bool:
            active = http_json(f"{stack.prometheus_url}/api/v1/targets")["data"]["activeTargets"]
            return any(t["labels"].get("pod") == pod and t["health"] == health for t in active)

        wait_for("Prometheus scraped the provider on node-b", lambda: scraped(DOWN_POD, "up"), 15, [prometheus])
        procs["down"].kill()
        wait_for("Prometheus sees the provider on node-b down", lambda: scraped(DOWN_POD, "down"), 15, [prometheus])

        # --- two more scrapes of every target ------------------------------------------------------------------------
        t0 = time.time()

        def two_scrapes() -> bool:
            active = http_json(f"{stack.prometheus_url}/api/v1/targets")["data"]["activeTargets"]
            return len(active) == 4 and all(scrape_time(t["lastScrape"]) > t0 + SCRAPE_SECONDS for t in active)

        wait_for("two scrapes of every target", two_scrapes, 20, [prometheus])
        yield stack
    finally:
        if channel is not None:
            for csi_api, v in volumes:
                try:
                    csi_api.NodeStub(channel).NodeUnpublishVolume(csi_api.NodeUnpublishVolumeRequest(
                        volume_id=v.volume_id, target_path=str(v.target)), timeout=30)
                except grpc.RpcError:
                    pass
            channel.close()
        if prometheus is not None:
            prometheus.stop()
        for p in reversed(list(procs.values())):
            p.stop()
        for point in sorted(mounts_under(work), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def problem(stack: Stack, key: str, expr: str, expect: Expect) -> Optional[str]:
    """None when the query meets its expectation now; else what is wrong."""
    result, error = stack.query(expr)
    if result is None:
        return f"{key}: the query fails: {error}"
    if expect.mode == "any":
        return None
    if not result:
        return f"{key}: no series ({expect.why})"
    if expect.mode == "positive":
        value = float(result[0]["value"][1])
        if not value > 0:
            return f"{key}: {value}, expected more than 0 ({expect.why})"
    for wanted in expect.labels:
        if not any(all(r["metric"].get(k) in alts for k, alts in wanted) for r in result):
            return f"{key}: no series with {dict((k, list(a)) for k, a in wanted)} ({expect.why}); got {[r['metric'] for r in result][:6]}"
    for k, v in expect.absent:
        if any(r["metric"].get(k) == v for r in result):
            return f"{key}: a series with {k}={v}, which the scenario must not produce"
    return None


def check_all(stack: Stack, items: Dict[str, Tuple[str, Expect]]) -> List[str]:
    """Evaluates every query; the ones that miss their expectation are tried again until SETTLE_SECONDS have passed
    (rates need two samples after a counter first moves), unless a metric they read is exported by no role at all.
    Returns one line per query that still misses, naming the metrics no role exports."""
    pending = dict(items)
    failures: Dict[str, str] = {}
    absent: Dict[str, List[str]] = {}
    deadline = time.monotonic() + SETTLE_SECONDS
    while pending:
        exported = set().union(set(), *stack.exported().values())
        for key, (expr, expect) in pending.items():
            found = problem(stack, key, expr, expect)
            if found:
                failures[key] = found
                absent[key] = sorted({obs.family_of(n).name for n in obs.uses(expr).metrics
                                      if obs.family_of(n) is not None and n != "up"} - exported)
            else:
                failures.pop(key, None)
        pending = {k: v for k, v in pending.items() if k in failures and not absent[k] and "the query fails" not in failures[k]}
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(SCRAPE_SECONDS)
    return [text + (f" [not exported by any role: {', '.join(absent[key])}]" if absent[key] else "")
            for key, text in sorted(failures.items())]


def test_every_dashboard_query_has_an_expectation():
    keys = {q.key for q in obs.panel_queries(obs.load_dashboard())}
    assert keys == set(DASHBOARD_EXPECT), f"classify: {sorted(keys - set(DASHBOARD_EXPECT))}; stale: {sorted(set(DASHBOARD_EXPECT) - keys)}"


def test_every_alert_has_an_expectation(render):
    [rule] = render(["syncController.enabled=true", "metrics.prometheusRule.enabled=true"]).of_kind("PrometheusRule")
    assert {(a["alert"], a["labels"]["severity"]) for a in obs.alert_rules(rule)} == set(ALERT_EXPECT)


def test_prometheus_loads_the_rules(stack):
    groups = http_json(f"{stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == len(ALERT_EXPECT)
    bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") not in ("ok", "unknown") or r.get("lastError")]
    assert not bad, bad


def test_targets(stack):
    active = http_json(f"{stack.prometheus_url}/api/v1/targets")["data"]["activeTargets"]
    health = {t["labels"]["pod"]: (t["labels"]["job"], t["health"], t.get("lastError", "")) for t in active}
    assert health[DOWN_POD][1] == "down"
    for job, pod in POD.items():
        assert health[pod][:2] == (job, "up"), (pod, health[pod], stack.logs())


def test_each_role_exports_its_metrics(stack):
    """The contract, per role: which metric families each job exports (the new ones included)."""
    exported = stack.exported()
    lines = []
    for job in obs.JOBS:
        wanted = {m.name for m in obs.CONTRACT.values() if job in m.roles}
        # The scenario produces no unpublish error and no rotation error on purpose; they appear when they happen.
        optional = {"node_unpublish_error_total", "rotation_reconcile_error_total"}
        missing = sorted(wanted - exported.get(job, set()) - optional)
        if missing:
            lines.append(f"{job} does not export: {', '.join(missing)} (it exports {', '.join(sorted(exported.get(job, set()))) or 'none'})")
    assert not lines, "\n".join(lines)


def test_dashboard_queries(stack):
    items = {q.key: (q.expr, DASHBOARD_EXPECT[q.key]) for q in obs.panel_queries(obs.load_dashboard())}
    failures = check_all(stack, items)
    assert not failures, f"{len(failures)} of {len(items)} dashboard queries:\n" + "\n".join(failures)


def test_alert_expressions(stack, render):
    [rule] = render(["syncController.enabled=true", "metrics.prometheusRule.enabled=true"]).of_kind("PrometheusRule")
    items = {f"{a['alert']} ({a['labels']['severity']})": (a["expr"], ALERT_EXPECT[(a["alert"], a["labels"]["severity"])])
             for a in obs.alert_rules(rule)}
    failures = check_all(stack, items)
    assert not failures, f"{len(failures)} of {len(items)} alert expressions:\n" + "\n".join(failures)


def test_no_secret_value_in_any_scrape(stack):
    """Labels never carry a value: no series of any role holds a secret's value in a label."""
    result, error = stack.query('{job=~"%s"}' % "|".join(obs.JOBS))
    assert result is not None, error
    values = {"fine-value", "soon-value", "today-value", "gone-value", "denied-value", "throttled-value", "mount-value", READER_SECRET}
    leaks = [r["metric"] for r in result if values & set(r["metric"].values())]
    if os.environ.get("AKVS_OBS_DUMP"):  # every scraped series, for looking at what the roles export
        Path(os.environ["AKVS_OBS_DUMP"]).write_text("".join(f"{json.dumps(r['metric'], sort_keys=True)} {r['value'][1]}\n"
                                                             for r in sorted(result, key=lambda r: json.dumps(r["metric"], sort_keys=True))))
    assert result and not leaks, leaks
