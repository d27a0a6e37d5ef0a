"""`akvs csi-driver` as a process, driven the way kubelet drives it.

A grpcio client generated at test time from the project's own Protos/csi/v1/csi.proto
(csi_stubs.py) calls the driver's CSI Identity and Node services over its unix socket. Behind the
driver run the real `akvs provider` (Azure provider, `<providers-dir>/azure.sock`), `akvs emulator`
(Key Vault + Entra ID) and the kube test server (SecretProviderClass, pods, pod statuses, Secrets,
read and written with the official kubernetes client).

What is checked: Identity/Node info, /metrics and /healthz; NodePublishVolume mounts a tmpfs at
the target and writes the files with the `..data` symlink swap, records the
SecretProviderClassPodStatus and syncs secretObjects into a managed Secret; NodeUnpublishVolume
unmounts, removes the target and deletes the status (idempotently); request errors map to the
upstream gRPC codes; with rotation a republish picks up a new vault version atomically (a reader
never sees a partial file); a driver killed with SIGKILL mid-rotation leaves the old mount intact
and, restarted, converges and still unpublishes; during a vault outage a first mount fails cleanly
and a republish keeps the old content.

Needs root (tmpfs mounts), `*.localhost` resolving to loopback (libnss-myhostname, as
Scripts/test.sh installs) for the Azure SDK writes, and the binaries `AKVS_BIN` and
`KUBE_TEST_SERVER_BIN` (defaults under .build/debug). Run it on its own:

    AKVS_BIN=.build/debug/akvs KUBE_TEST_SERVER_BIN=.build/debug/akvs-kube-test-server \
        python3 -m pytest -q Interop/kubernetes/test_csi_driver_cli.py

Secret values are test data, but assertion messages still describe file contents by length and
digest only.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("the CSI driver mounts tmpfs with mount(2): Linux only", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("the CSI driver mounts a tmpfs at each target: run as root", allow_module_level=True)

import grpc  # noqa: E402
from kubernetes import client  # noqa: E402

import csi_stubs  # noqa: E402
from processes import Proc, free_port  # noqa: E402  (csi_stubs puts Interop/common on sys.path)
from conftest import REPO_ROOT, SPC, SPCPS, create_namespace, delete_namespace_quietly, gone, unb64, wait_until  # noqa: E402

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
if not AKVS_BIN.is_absolute():
    AKVS_BIN = (REPO_ROOT / AKVS_BIN).resolve()

NODE = "node-a"
DRIVER_NAME = "secrets-store.csi.k8s.io"
NODE_LABEL = "internal.secrets-store.csi.k8s.io/node-name"
MANAGED_LABEL = "secrets-store.csi.k8s.io/managed"
READY_TIMEOUT = 30.0
RPC_TIMEOUT = 30.0
ROTATION_INTERVAL = 1.0  # --rotation-poll-interval 1s
DUE = ROTATION_INTERVAL + 0.3  # a republish this long after the last provider call is due

READER_ID = "c5100000-0000-4000-8000-00000000c510"
READER_SECRET = "csi-reader-secret"
READER = {"clientid": READER_ID, "clientsecret": READER_SECRET}

# Vaults, one per scenario, so faults and rotations never leak into another test.
BASIC_KV, ROT_KV, CRASH_KV, DOWN_KV = "csi-kv", "csi-rot-kv", "csi-crash-kv", "csi-down-kv"
V1 = {
    BASIC_KV: "basic-value-1",
    ROT_KV: "rot-old-" + "a" * 4096,
    CRASH_KV: "crash-old-" + "c" * 4096,
    DOWN_KV: "down-value-1",
}
STATIC_V1 = "static-value-1"

NO_FAULTS = {"latencyMs": 0, "jitterMs": 0, "errorRate": 0, "throttle": {"limit": 4000, "windowSeconds": 10}, "outage": False}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def describe(data: Optional[bytes]) -> str:
    """A file content as length and digest, never the value."""
    if data is None:
        return "<missing>"
    return f"<{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()[:12]}>"


def assert_content(path: Path, expected: str, what: str) -> None:
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise AssertionError(f"{path} cannot be read ({ex}); expected {what}") from None
    if data != expected.encode():
        raise AssertionError(f"{path} holds {describe(data)}, expected {what} {describe(expected.encode())}")


def mountinfo(path: Path) -> Optional[Dict[str, Any]]:
    """The /proc/self/mountinfo entry whose mount point is `path` (the last one), or None."""
    escaped = str(path).replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")
    found = None
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4] == escaped:
                tail = line.split(" - ", 1)[1].split()
                found = {"options": fields[5].split(","), "fstype": tail[0], "source": tail[1]}
    return found


def mounts_under(root: Path) -> List[str]:
    prefix = str(root).rstrip("/") + "/"
    result = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
                if point.startswith(prefix):
                    result.append(point)
    return result


def http_get(url: str, timeout: float = 10) -> Tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read().decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Driver:
    """`akvs csi-driver`, restartable on the same socket and ports; a gRPC channel per run."""

    def __init__(self, csi, name: str, work: Path, providers: Path, kubeconfig: Path, rotation: bool) -> None:
        self.csi, self.name = csi, name
        self.socket = work / f"{name}.sock"
        self.metrics_port, self.health_port = free_port(), free_port()
        self.log_path = work / f"{name}.log"
        self.args = [str(AKVS_BIN), "csi-driver", "--endpoint", f"unix://{self.socket}", "--nodeid", NODE,
                     "--provider-volume", str(providers), "--additional-provider-volume-paths", str(work / "no-such-providers"),
                     "--kubeconfig", str(kubeconfig), "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
                     "--health-addr", f"127.0.0.1:{self.health_port}"]
        if rotation:
            self.args += ["--enable-secret-rotation", "true", "--rotation-poll-interval", "1s"]
        self.proc: Optional[Proc] = None
        self.channel: Optional[grpc.Channel] = None

    def start(self) -> "Driver":
        self.proc = Proc(self.name, self.args, "akvs csi-driver ready", self.log_path)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        return self

    def _close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def stop(self) -> Optional[int]:
        self._close_channel()
        return self.proc.stop() if self.proc else None

    def kill(self) -> int:
        rc = self.proc.kill()
        self._close_channel()
        return rc

    @property
    def identity(self):
        return self.csi.IdentityStub(self.channel)

    @property
    def node(self):
        return self.csi.NodeStub(self.channel)

    def log_size(self) -> int:
        return self.proc.log_size() if self.proc else 0

    def log_tail(self, start: int = 0) -> str:
        return self.proc.log_tail(start) if self.proc else "<not started>"


# --------------------------------------------------------------------------------------------
# Module fixtures: stubs, emulator, provider, drivers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csi(tmp_path_factory):
    return csi_stubs.generate(tmp_path_factory.mktemp("csi-stubs"))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The module's folder; at the end every tmpfs still mounted under it is detached."""
    if not AKVS_BIN.is_file():
        pytest.fail(f"akvs binary not found at {AKVS_BIN}; run swift build or set AKVS_BIN", pytrace=False)
    root = tmp_path_factory.mktemp("csi-driver")
    yield root
    for point in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


@dataclass
class Emulator:
    proc: Proc
    creds: Dict[str, Any]
    admin: Any  # requests.Session trusting the emulator CA

    def set_faults(self, vault: str, **faults: Any) -> None:
        url = f"{self.creds['authorityHost'].rstrip('/')}/_emulator/vaults/{vault}/faults"
        response = self.admin.put(url, json={**NO_FAULTS, **faults}, timeout=10)
        assert response.status_code in (200, 204), f"PUT {url}: {response.status_code} {response.text[:500]}"

    @contextmanager
    def faults(self, vault: str, **faults: Any):
        self.set_faults(vault, **faults)
        try:
            yield
        finally:
            self.set_faults(vault)


@pytest.fixture(scope="module")
def emulator(work):
    import requests

    seed = work / "seed.yaml"
    vaults = "".join(
        f"  - name: {name}\n    secrets:\n      - {{name: x, value: {value}}}\n" + (f"      - {{name: static, value: {STATIC_V1}}}\n" if name == BASIC_KV else "")
        for name, value in V1.items()
    )
    access = ", ".join(f"{name}: read" for name in V1)
    seed.write_text(f"vaults:\n{vaults}identities:\n  - name: csi-reader\n    clientId: {READER_ID}\n"
                    f"    clientSecret: {READER_SECRET}\n    access: {{{access}}}\n")
    proc = Proc("akvs emulator", [str(AKVS_BIN), "emulator", "--listen", "127.0.0.1:0", "--state-dir", str(work / "emu"), "--seed", str(seed)],
                "akvs emulator ready", work / "emulator.log")
    creds = json.loads((work / "emu" / "credentials.json").read_text())
    admin = requests.Session()
    admin.verify = creds["caFile"]
    admin.trust_env = False
    with pytest.MonkeyPatch.context() as mp:
        # For the Azure SDK (requests): trust the emulator CA, never use a proxy for loopback.
        mp.setenv("REQUESTS_CA_BUNDLE", creds["caFile"])
        for name in ("NO_PROXY", "no_proxy"):
            current = os.environ.get(name, "")
            mp.setenv(name, f"{current},localhost,127.0.0.1,.localhost" if current else "localhost,127.0.0.1,.localhost")
        yield Emulator(proc=proc, creds=creds, admin=admin)
    admin.close()
    proc.stop()


@pytest.fixture(scope="module")
def vault_writer(emulator):
    """Factory: an azure-keyvault-secrets SecretClient with the emulator's admin (write) identity."""
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    try:
        socket.getaddrinfo(f"{BASIC_KV}.vault.localhost", 443)
    except OSError:
        pytest.fail("*.localhost does not resolve to loopback; install libnss-myhostname (see Scripts/test.sh)", pytrace=False)
    creds = emulator.creds
    credential = ClientSecretCredential(creds["tenantId"], creds["clientId"], creds["clientSecret"],
                                        authority=creds["authorityHost"], disable_instance_discovery=True)
    made = []

    def make(vault: str) -> SecretClient:
        made.append(SecretClient(creds["vaultUrls"][vault], credential))
        return made[-1]

    yield make
    for c in made:
        c.close()
    credential.close()


@pytest.fixture(scope="module")
def providers_dir(work, emulator):
    """`akvs provider` listening on <providers-dir>/azure.sock (no object cache)."""
    folder = work / "providers"
    folder.mkdir()
    proc = Proc("akvs provider", [str(AKVS_BIN), "provider", "--endpoint", f"unix://{folder / 'azure.sock'}",
                                  "--healthz-port", str(free_port()), "--prometheus-port", str(free_port()),
                                  "--ca-file", emulator.creds["caFile"], "--object-cache-ttl", "0"],
                "akvs provider ready", work / "provider.log")
    yield folder
    proc.stop()


def _driver(csi, work, providers_dir, kube_server, name: str, rotation: bool):
    driver = Driver(csi, name, work, providers_dir, kube_server.kubeconfig, rotation).start()
    yield driver
    driver.stop()


@pytest.fixture(scope="module")
def driver(csi, work, providers_dir, kube_server):
    """A driver without rotation."""
    yield from _driver(csi, work, providers_dir, kube_server, "driver", rotation=False)


@pytest.fixture(scope="module")
def rotating_driver(csi, work, providers_dir, kube_server):
    """A driver with --enable-secret-rotation true --rotation-poll-interval 1s."""
    yield from _driver(csi, work, providers_dir, kube_server, "rotating-driver", rotation=True)


@pytest.fixture(autouse=True)
def _driver_logs_on_failure(request):
    """Prints what the drivers logged during the test; pytest shows it only when the test fails."""
    drivers = [request.getfixturevalue(n) for n in ("driver", "rotating_driver") if n in request.fixturenames]
    start = {id(d): d.log_size() for d in drivers}
    yield
    for d in drivers:
        print(f"--- {d.name} stderr during this test ({d.log_path}) ---\n{d.log_tail(start.get(id(d), 0)) or '<empty>'}")


# --------------------------------------------------------------------------------------------
# Kubernetes objects and CSI requests
# --------------------------------------------------------------------------------------------


@pytest.fixture
def namespaces(core):
    """Factory for namespaces deleted after the test."""
    made: List[str] = []

    def make(prefix: str = "csi") -> str:
        made.append(create_namespace(core, prefix))
        return made[-1]

    yield make
    for name in made:
        delete_namespace_quietly(core, name)


def create_spc(custom, namespace: str, name: str, creds: Dict[str, Any], vault: str, sync_secret: Optional[str] = None) -> None:
    body: Dict[str, Any] = {
        "apiVersion": f"{SPC['group']}/{SPC['version']}", "kind": "SecretProviderClass", "metadata": {"name": name},
        "spec": {"provider": "azure", "parameters": {
            "keyvaultName": vault, "tenantId": creds["tenantId"], "cloudName": "AzureStackCloud",
            "cloudEnvFileName": creds["cloudEnvFile"], "objects": "array:\n  - |\n    objectName: x\n    objectType: secret\n"}},
    }
    if sync_secret:
        body["spec"]["secretObjects"] = [{"secretName": sync_secret, "type": "Opaque", "data": [{"objectName": "x", "key": "value"}]}]
    custom.create_namespaced_custom_object(SPC["group"], SPC["version"], namespace, SPC["plural"], body)


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

    @property
    def context(self) -> Dict[str, str]:
        return {
            "secretProviderClass": self.spc,
            "csi.storage.k8s.io/pod.name": self.pod,
            "csi.storage.k8s.io/pod.namespace": self.namespace,
            "csi.storage.k8s.io/pod.uid": self.uid,
            "csi.storage.k8s.io/serviceAccount.name": "default",
            "csi.storage.k8s.io/ephemeral": "true",
        }


def make_volume(core, work: Path, namespace: str, spc: str, pod: Optional[str] = None) -> Volume:
    """A Pod object and the target path kubelet would use for its csi volume (parent made, target not)."""
    pod = pod or f"pod-{uuid.uuid4().hex[:6]}"
    created = core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name=pod),
        spec=client.V1PodSpec(node_name=NODE, containers=[client.V1Container(name="app", image="busybox:1.36")])))
    uid = created.metadata.uid
    parent = work / "pods" / uid / "volumes" / "kubernetes.io~csi" / "secrets"
    parent.mkdir(parents=True)
    return Volume(namespace=namespace, pod=pod, uid=uid, spc=spc, target=parent / "mount")


def publish_request(csi, vol: Volume, readonly: bool = True, secrets: Optional[Dict[str, str]] = None, context: Optional[Dict[str, str]] = None):
    capability = csi.VolumeCapability(mount=csi.VolumeCapability.MountVolume(),
                                      access_mode=csi.VolumeCapability.AccessMode(mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_READER_ONLY))
    return csi.NodePublishVolumeRequest(volume_id=vol.volume_id, target_path=str(vol.target), volume_capability=capability, readonly=readonly,
                                        secrets=READER if secrets is None else secrets, volume_context=vol.context if context is None else context)


def publish(csi, drv: Driver, vol: Volume, **kwargs: Any) -> None:
    try:
        drv.node.NodePublishVolume(publish_request(csi, vol, **kwargs), timeout=RPC_TIMEOUT)
    except grpc.RpcError as ex:
        raise AssertionError(f"NodePublishVolume {vol.target} failed: {ex.code()} {ex.details()}") from None


def unpublish(csi, drv: Driver, vol: Volume) -> None:
    try:
        drv.node.NodeUnpublishVolume(csi.NodeUnpublishVolumeRequest(volume_id=vol.volume_id, target_path=str(vol.target)), timeout=RPC_TIMEOUT)
    except grpc.RpcError as ex:
        raise AssertionError(f"NodeUnpublishVolume {vol.target} failed: {ex.code()} {ex.details()}") from None


def publish_error(csi, drv: Driver, vol: Volume, **kwargs: Any) -> grpc.RpcError:
    try:
        drv.node.NodePublishVolume(publish_request(csi, vol, **kwargs), timeout=RPC_TIMEOUT)
    except grpc.RpcError as ex:
        return ex
    raise AssertionError(f"NodePublishVolume {vol.target} succeeded; an error was expected")


def read_status(custom, vol: Volume) -> Dict[str, Any]:
    return custom.get_namespaced_custom_object(SPCPS["group"], SPCPS["version"], vol.namespace, SPCPS["plural"], vol.status_name)


def status_gone(custom, vol: Volume) -> bool:
    return gone(custom.get_namespaced_custom_object, SPCPS["group"], SPCPS["version"], vol.namespace, SPCPS["plural"], vol.status_name)


def status_versions(custom, vol: Volume) -> List[Dict[str, str]]:
    return (read_status(custom, vol).get("status") or {}).get("objects") or []


def assert_unpublished(custom, vol: Volume) -> None:
    assert not os.path.ismount(vol.target), f"{vol.target} is still a mount point after NodeUnpublishVolume"
    assert not os.path.lexists(vol.target), f"{vol.target} still exists after NodeUnpublishVolume"
    assert vol.target.parent.is_dir(), "the driver removes the target only, never its parent"
    assert status_gone(custom, vol), f"SecretProviderClassPodStatus {vol.namespace}/{vol.status_name} still exists after NodeUnpublishVolume"


def wait_due(since: float) -> None:
    """Sleeps until a republish is due (the poll interval has passed since `since`, a monotonic time)."""
    time.sleep(max(0.0, since + DUE - time.monotonic()))


# --------------------------------------------------------------------------------------------
# Identity, info, metrics, health
# --------------------------------------------------------------------------------------------


def test_ready_line_and_identity(csi, driver):
    line = driver.proc.ready_line
    assert line.startswith(f"akvs csi-driver ready unix://{driver.socket} node={NODE} "), line
    assert f"metrics=127.0.0.1:{driver.metrics_port}" in line and f"health=127.0.0.1:{driver.health_port}" in line, line
    assert line.endswith("rotation=false"), line
    assert (driver.socket.stat().st_mode & 0o077) == 0, "the CSI socket is private to root"

    info = driver.identity.GetPluginInfo(csi.GetPluginInfoRequest(), timeout=RPC_TIMEOUT)
    assert info.name == DRIVER_NAME
    assert info.vendor_version, "GetPluginInfo carries the driver version"
    probe = driver.identity.Probe(csi.ProbeRequest(), timeout=RPC_TIMEOUT)
    assert probe.HasField("ready") and probe.ready.value is True
    caps = driver.identity.GetPluginCapabilities(csi.GetPluginCapabilitiesRequest(), timeout=RPC_TIMEOUT)
    assert [c.service.type for c in caps.capabilities] == [csi.PluginCapability.Service.CONTROLLER_SERVICE], \
        "the controller service is advertised, as it is served (with no capabilities)"
    controller = csi.ControllerStub(driver.channel)
    capabilities = controller.ControllerGetCapabilities(csi.ControllerGetCapabilitiesRequest(), timeout=RPC_TIMEOUT).capabilities
    assert [c.rpc.type for c in capabilities] == [csi.ControllerServiceCapability.RPC.UNKNOWN], "upstream's answer: none"
    with pytest.raises(grpc.RpcError) as raised:
        controller.CreateVolume(csi.CreateVolumeRequest(), timeout=RPC_TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert driver.node.NodeGetInfo(csi.NodeGetInfoRequest(), timeout=RPC_TIMEOUT).node_id == NODE


def test_rotating_driver_ready_line(rotating_driver):
    assert rotating_driver.proc.ready_line.endswith("rotation=true"), rotating_driver.proc.ready_line


# --------------------------------------------------------------------------------------------
# Publish and unpublish
# --------------------------------------------------------------------------------------------


def test_publish_and_unpublish(csi, driver, emulator, core, custom, namespaces, work, vault_writer):
    ns = namespaces()
    create_spc(custom, ns, "vault", emulator.creds, BASIC_KV, sync_secret="synced")
    vol = make_volume(core, work, ns, "vault")
    version = vault_writer(BASIC_KV).get_secret("x").properties.version

    publish(csi, driver, vol)

    # A tmpfs mounted by the driver at the target it made itself.
    assert os.path.ismount(vol.target), f"{vol.target} is not a mount point after NodePublishVolume"
    info = mountinfo(vol.target)
    assert info is not None and info["fstype"] == "tmpfs", f"mountinfo entry for the target: {info}"
    assert {"nosuid", "nodev", "noexec"} <= set(info["options"]), f"mount options {info['options']}"

    # Files through the `..data` symlink swap layout.
    data_link = vol.target / "..data"
    assert data_link.is_symlink(), "..data is a symlink"
    timestamped = os.readlink(data_link)
    assert timestamped.startswith("..") and "/" not in timestamped and (vol.target / timestamped).is_dir(), timestamped
    assert (vol.target / "x").is_symlink() and os.readlink(vol.target / "x") == "..data/x"
    assert_content(vol.target / "x", V1[BASIC_KV], "the vault's value of x")
    assert sorted(p for p in os.listdir(vol.target) if not p.startswith("..")) == ["x"]

    # The pod status.
    status = read_status(custom, vol)
    meta = status["metadata"]
    assert meta["labels"].get(NODE_LABEL) == NODE, meta.get("labels")
    assert [(o["apiVersion"], o["kind"], o["name"], o["uid"]) for o in meta.get("ownerReferences") or []] == [("v1", "Pod", vol.pod, vol.uid)]
    body = status.get("status") or {}
    assert body.get("mounted") is True, body
    assert body.get("objects") == [{"id": "secret/x", "version": version}], body.get("objects")
    assert body.get("podName") == vol.pod and body.get("secretProviderClassName") == "vault", body
    assert body.get("targetPath") == str(vol.target), body.get("targetPath")

    # The synced Secret, owned by the pod status.
    secret = core.read_namespaced_secret("synced", ns)
    assert (secret.metadata.labels or {}).get(MANAGED_LABEL) == "true", secret.metadata.labels
    assert [(o.kind, o.name, o.uid) for o in secret.metadata.owner_references or []] == \
        [("SecretProviderClassPodStatus", vol.status_name, meta["uid"])]
    assert secret.type == "Opaque"
    assert unb64(secret.data["value"]) == V1[BASIC_KV], "the synced Secret holds the vault value"

    # A republish of a mounted volume without rotation: nothing changes.
    publish(csi, driver, vol)
    assert os.readlink(data_link) == timestamped, "a republish without rotation rewrites nothing"

    unpublish(csi, driver, vol)
    assert_unpublished(custom, vol)
    # The Secret goes with its owner (garbage collection).
    wait_until(lambda: gone(core.read_namespaced_secret, "synced", ns), timeout=10, message="the synced Secret is collected with its pod status")
    # Idempotent: unpublishing again succeeds.
    unpublish(csi, driver, vol)
    assert_unpublished(custom, vol)


def test_republish_without_rotation_keeps_content(csi, driver, emulator, core, custom, namespaces, work, vault_writer):
    ns = namespaces()
    spc = "static"
    body = {
        "apiVersion": f"{SPC['group']}/{SPC['version']}", "kind": "SecretProviderClass", "metadata": {"name": spc},
        "spec": {"provider": "azure", "parameters": {
            "keyvaultName": BASIC_KV, "tenantId": emulator.creds["tenantId"], "cloudName": "AzureStackCloud",
            "cloudEnvFileName": emulator.creds["cloudEnvFile"], "objects": "array:\n  - |\n    objectName: static\n    objectType: secret\n"}},
    }
    custom.create_namespaced_custom_object(SPC["group"], SPC["version"], ns, SPC["plural"], body)
    vol = make_volume(core, work, ns, spc)
    publish(csi, driver, vol)
    assert_content(vol.target / "static", STATIC_V1, "the first value")
    before = status_versions(custom, vol)
    vault_writer(BASIC_KV).set_secret("static", "static-value-2")
    time.sleep(DUE)
    publish(csi, driver, vol)
    assert_content(vol.target / "static", STATIC_V1, "the first value (rotation is off)")
    assert status_versions(custom, vol) == before
    unpublish(csi, driver, vol)
    assert_unpublished(custom, vol)


def test_readonly_false_is_invalid_argument(csi, driver, emulator, core, custom, namespaces, work):
    ns = namespaces()
    create_spc(custom, ns, "vault", emulator.creds, BASIC_KV)
    vol = make_volume(core, work, ns, "vault")
    error = publish_error(csi, driver, vol, readonly=False)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    assert "Readonly is not true in request" in error.details(), error.details()
    assert not os.path.ismount(vol.target) and not os.path.lexists(vol.target), "a refused request mounts nothing"
    assert status_gone(custom, vol)


def test_missing_spc_is_not_found(csi, driver, emulator, core, custom, namespaces, work):
    elsewhere, ns = namespaces("csi-other"), namespaces()
    # The class exists, but in another namespace: a pod only sees its own namespace's classes.
    create_spc(custom, elsewhere, "vault", emulator.creds, BASIC_KV)
    vol = make_volume(core, work, ns, "vault")
    error = publish_error(csi, driver, vol)
    assert error.code() == grpc.StatusCode.NOT_FOUND, f"{error.code()} {error.details()}"
    assert f"{ns}/vault" in error.details(), error.details()
    assert not os.path.ismount(vol.target) and not os.path.lexists(vol.target), "a refused request mounts nothing"
    assert status_gone(custom, vol)


def test_metrics_and_health(csi, driver, emulator, core, custom, namespaces, work):
    ns = namespaces()
    create_spc(custom, ns, "vault", emulator.creds, BASIC_KV)
    vol = make_volume(core, work, ns, "vault")
    publish(csi, driver, vol)
    unpublish(csi, driver, vol)

    status, text = http_get(f"http://127.0.0.1:{driver.metrics_port}/metrics")
    assert status == 200, f"/metrics answered {status}"
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    key = 'node_publish_total{os_type="linux",provider="azure"}'
    assert samples.get(key, 0) >= 1, f"{key} missing or zero in /metrics:\n{text[:3000]}"
    assert samples.get('node_unpublish_total{os_type="linux"}', 0) >= 1, text[:3000]
    assert V1[BASIC_KV] not in text

    status, text = http_get(f"http://127.0.0.1:{driver.health_port}/healthz")
    assert (status, text) == (200, "ok")


# --------------------------------------------------------------------------------------------
# Rotation
# --------------------------------------------------------------------------------------------


class Reader(threading.Thread):
    """Reads a mounted file in a loop and records which value it saw (old, new, or anything else)."""

    def __init__(self, path: Path, old: str, new: str) -> None:
        super().__init__(name="mounted-file-reader", daemon=True)
        self.path, self.old, self.new = path, old.encode(), new.encode()
        self.stop_event = threading.Event()
        self.sequence: List[str] = []  # the labels seen, consecutive repeats collapsed
        self.counts = {"old": 0, "new": 0, "missing": 0}
        self.others: List[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 30  # bounded even if stop() is never called
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            try:
                with open(self.path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                # The path walk can meet the old timestamped folder just as it is removed (the same
                # window exists with kubelet's atomic writer); no content was seen, retry.
                self.counts["missing"] += 1
                continue
            label = "old" if data == self.old else "new" if data == self.new else "other"
            if label == "other":
                self.others.append(describe(data))
            else:
                self.counts[label] += 1
            if not self.sequence or self.sequence[-1] != label:
                self.sequence.append(label)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


def test_rotation_on_republish(csi, rotating_driver, emulator, core, custom, namespaces, work, vault_writer):
    drv = rotating_driver
    ns = namespaces()
    create_spc(custom, ns, "vault", emulator.creds, ROT_KV, sync_secret="rotated")
    vol = make_volume(core, work, ns, "vault")
    writer = vault_writer(ROT_KV)
    old, new = V1[ROT_KV], "rot-new-" + "b" * 4096

    publish(csi, drv, vol)
    published = time.monotonic()
    assert_content(vol.target / "x", old, "the first value")
    v_old = status_versions(custom, vol)
    assert [o["id"] for o in v_old] == ["secret/x"], v_old
    assert unb64(core.read_namespaced_secret("rotated", ns).data["value"]) == old, "the synced Secret holds the first value"

    reader = Reader(vol.target / "x", old, new)
    reader.start()
    try:
        v_new = writer.set_secret("x", new).properties.version
        assert v_new != v_old[0]["version"]
        wait_due(published)
        publish(csi, drv, vol)  # kubelet's periodic republish
        assert_content(vol.target / "x", new, "the new value")
        wait_until(lambda: reader.counts["new"] >= 20 or not reader.is_alive(), timeout=5, message="the reader sees the new value")
    finally:
        reader.stop()
    print(f"reader: sequence {reader.sequence}, counts {reader.counts}")
    assert os.path.ismount(vol.target), "still mounted after the rotation"
    assert not reader.others, f"the reader saw content that is neither the old nor the new value: {reader.others[:5]}"
    assert reader.sequence == ["old", "new"], \
        f"the reader must see the old value, then only the new one; sequence {reader.sequence}, counts {reader.counts}"
    assert status_versions(custom, vol) == [{"id": "secret/x", "version": v_new}], "the pod status records the new version"
    wait_until(lambda: unb64(core.read_namespaced_secret("rotated", ns).data["value"]) == new, timeout=10,
               message="the synced Secret is updated to the new value")

    unpublish(csi, drv, vol)
    assert_unpublished(custom, vol)


def test_sigkill_during_rotation_then_restart(csi, rotating_driver, emulator, core, custom, namespaces, work, vault_writer):
    drv = rotating_driver
    ns = namespaces()
    create_spc(custom, ns, "vault", emulator.creds, CRASH_KV)
    a = make_volume(core, work, ns, "vault", pod="pod-a")
    b = make_volume(core, work, ns, "vault", pod="pod-b")
    old, new = V1[CRASH_KV], "crash-new-" + "d" * 4096

    publish(csi, drv, a)
    publish(csi, drv, b)
    published = time.monotonic()
    assert_content(a.target / "x", old, "the first value")
    v_new = vault_writer(CRASH_KV).set_secret("x", new).properties.version

    outcome: Dict[str, Any] = {}

    def republish() -> None:
        try:
            drv.node.NodePublishVolume(publish_request(csi, a), timeout=RPC_TIMEOUT)
            outcome["ok"] = True
        except grpc.RpcError as ex:
            outcome["error"] = ex.code()

    with emulator.faults(CRASH_KV, latencyMs=4000):
        wait_due(published)
        thread = threading.Thread(target=republish, name="republish-in-flight", daemon=True)
        thread.start()
        time.sleep(1.0)  # the provider now waits on the slowed vault
        assert thread.is_alive(), f"the republish should still be in flight (vault latency 4 s); outcome {outcome}"
        rc = drv.kill()
        assert rc == -signal.SIGKILL, rc
        thread.join(timeout=15)
        assert not thread.is_alive(), "the in-flight republish ends once the driver is gone"
        assert outcome.get("error") is not None, f"a republish cut by SIGKILL cannot succeed: {outcome}"

        # The mount outlives the driver, with a complete value.
        assert os.path.ismount(a.target), "the target is still mounted after the driver was killed"
        data = (a.target / "x").read_bytes()
        assert data in (old.encode(), new.encode()), f"after SIGKILL the file holds {describe(data)}, neither the old nor the new value"
        assert os.path.ismount(b.target)
        assert drv.socket.exists(), "SIGKILL leaves the socket behind (the restart must cope)"

        drv.start()  # same socket path: the stale socket is replaced
    # Fault cleared: the restarted driver converges on the next republish.
    publish(csi, drv, a)
    assert_content(a.target / "x", new, "the new value after the restart")
    assert os.path.ismount(a.target)
    assert status_versions(custom, a) == [{"id": "secret/x", "version": v_new}]

    # b was not touched since the restart: the driver finds its pod status by target path.
    unpublish(csi, drv, b)
    assert_unpublished(custom, b)
    unpublish(csi, drv, a)
    assert_unpublished(custom, a)


def test_vault_outage(csi, rotating_driver, emulator, core, custom, namespaces, work):
    drv = rotating_driver
    ns = namespaces()
    create_spc(custom, ns, "vault", emulator.creds, DOWN_KV)
    mounted = make_volume(core, work, ns, "vault", pod="pod-up")
    fresh = make_volume(core, work, ns, "vault", pod="pod-new")

    publish(csi, drv, mounted)
    published = time.monotonic()
    versions = status_versions(custom, mounted)
    with emulator.faults(DOWN_KV, outage=True):
        # A first mount fails and leaves nothing behind.
        error = publish_error(csi, drv, fresh)
        assert error.code() not in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), \
            f"{error.code()} {error.details()}"
        assert not os.path.ismount(fresh.target), "a failed first mount leaves no tmpfs behind"
        assert status_gone(custom, fresh), "a failed first mount records no pod status"

        # A republish of a mounted volume reports success and keeps the old files.
        wait_due(published)
        publish(csi, drv, mounted)
        assert os.path.ismount(mounted.target)
        assert_content(mounted.target / "x", V1[DOWN_KV], "the old value (the vault is down)")
        assert status_versions(custom, mounted) == versions

    unpublish(csi, drv, mounted)
    assert_unpublished(custom, mounted)
    unpublish(csi, drv, fresh)  # nothing mounted there: still succeeds
    assert not os.path.lexists(fresh.target)


# --------------------------------------------------------------------------------------------
# Shutdown (last: stops the plain driver)
# --------------------------------------------------------------------------------------------


def test_sigterm_stops_and_removes_socket(driver):
    assert driver.socket.exists()
    rc = driver.stop()
    assert rc == 0, f"akvs csi-driver exited with {rc} after SIGTERM"
    assert not driver.socket.exists(), "SIGTERM removes the CSI socket"
