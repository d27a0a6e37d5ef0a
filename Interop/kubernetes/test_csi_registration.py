"""kubelet plugin registration built into `akvs csi-driver`, checked by a client that behaves as
kubelet's plugin watcher does.

kubelet watches `<kubelet root>/plugins_registry/` for sockets. For each new one it calls
`pluginregistration.Registration/GetInfo`, checks the type (`CSIPlugin`), name and supported
versions, dials the endpoint the plugin returned and calls CSI `NodeGetInfo`, then reports the
outcome with `NotifyRegistrationStatus`. A socket that disappears deregisters the plugin; a new
one registers it again. The watcher below does exactly that over real unix sockets, with grpcio
stubs generated at test time from Protos/pluginregistration/v1/api.proto and Protos/csi/v1/csi.proto.

No mounts happen, so no root is needed. Binaries: `AKVS_BIN` (default .build/debug/akvs) and the
kube test server (conftest).
"""

from __future__ import annotations

import os
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Tuple

import grpc
import pytest

import csi_stubs
from conftest import REPO_ROOT, wait_until
from processes import Proc, free_port

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
if not AKVS_BIN.is_absolute():
    AKVS_BIN = (REPO_ROOT / AKVS_BIN).resolve()

DRIVER = "secrets-store.csi.k8s.io"
NODE = "node-reg"
RPC_TIMEOUT = 10.0
# The driver checks its registration socket every 5 s; a recreated socket must show up well within this.
RECREATE_TIMEOUT = 20.0


class PluginWatcher:
    """kubelet's plugin watcher, reduced to what it does for one CSI plugin."""

    def __init__(self, registry: Path, reg, csi) -> None:
        self.registry, self.reg, self.csi = registry, reg, csi
        self.registered: Dict[str, Tuple[int, str]] = {}  # socket path -> (inode, endpoint)

    def sockets(self) -> Dict[str, int]:
        found = {}
        for entry in self.registry.iterdir():
            if entry.name.startswith("."):
                continue  # kubelet ignores hidden files
            try:
                st = entry.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISSOCK(st.st_mode):
                found[str(entry)] = st.st_ino
        return found

    def scan(self) -> Optional[str]:
        """Registers every new socket (or a socket replaced by a new inode); returns the last path registered."""
        last = None
        current = self.sockets()
        for path in list(self.registered):
            if path not in current:
                del self.registered[path]  # deregistered, as kubelet does when the socket goes away
        for path, inode in current.items():
            if self.registered.get(path, (None,))[0] == inode:
                continue
            endpoint = self.register(path)
            self.registered[path] = (inode, endpoint)
            last = path
        return last

    def register(self, path: str) -> str:
        with grpc.insecure_channel(f"unix://{path}") as channel:
            stub = self.reg.RegistrationStub(channel)
            info = stub.GetInfo(self.reg.InfoRequest(), timeout=RPC_TIMEOUT)
            error = ""
            if info.type != "CSIPlugin":
                error = f"plugin type {info.type!r} is not CSIPlugin"
            elif info.name != DRIVER:
                error = f"plugin name {info.name!r} is not {DRIVER}"
            elif not any(v.startswith("1.") for v in info.supported_versions):
                error = f"no supported version in {list(info.supported_versions)}"
            else:
                with grpc.insecure_channel(f"unix://{info.endpoint}") as csi_channel:
                    node = self.csi.NodeStub(csi_channel).NodeGetInfo(self.csi.NodeGetInfoRequest(), timeout=RPC_TIMEOUT)
                    if node.node_id != NODE:
                        error = f"NodeGetInfo returned node {node.node_id!r}"
            stub.NotifyRegistrationStatus(self.reg.RegistrationStatus(plugin_registered=not error, error=error), timeout=RPC_TIMEOUT)
            assert not error, error
            return info.endpoint


def http_status(url: str) -> Tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    return (csi_stubs.generate_registration(tmp_path_factory.mktemp("reg-stubs")),
            csi_stubs.generate(tmp_path_factory.mktemp("csi-stubs")))


@pytest.fixture()
def node_dirs(tmp_path):
    """A kubelet root as the driver container sees it (short paths: unix socket paths are limited to 107 bytes)."""
    root = Path(f"/tmp/akvs-reg-{os.getpid()}-{time.monotonic_ns() % 100000}")
    (root / "plugins" / "csi-secrets-store").mkdir(parents=True)
    (root / "plugins_registry").mkdir()
    yield root
    for path in sorted(root.rglob("*"), key=lambda p: len(str(p)), reverse=True):
        try:
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:
            pass
    root.rmdir()


def start_driver(kube_server, root: Path, log: Path) -> Tuple[Proc, int]:
    if not AKVS_BIN.is_file():
        pytest.fail(f"akvs binary not found at {AKVS_BIN}; run swift build or set AKVS_BIN", pytrace=False)
    socket = root / "plugins" / "csi-secrets-store" / "csi.sock"
    health = free_port()
    args = [str(AKVS_BIN), "csi-driver", "--endpoint", f"unix://{socket}", "--nodeid", NODE,
            "--kubeconfig", str(kube_server.kubeconfig), "--provider-volume", str(root / "providers"),
            "--metrics-addr", f"127.0.0.1:{free_port()}", "--health-addr", f"127.0.0.1:{health}",
            # On a node the two paths differ (host path vs. container mount); here they are the same folder.
            "--kubelet-registration-path", str(socket), "--plugin-registration-dir", str(root / "plugins_registry")]
    return Proc("csi-driver", args, "akvs csi-driver ready", log), health


def test_kubelet_registers_the_driver_and_again_after_the_socket_is_recreated(kube_server, stubs, node_dirs, tmp_path):
    reg, csi = stubs
    driver, health = start_driver(kube_server, node_dirs, tmp_path / "driver.log")
    try:
        registry = node_dirs / "plugins_registry"
        expected = registry / f"{DRIVER}-reg.sock"
        assert expected.is_socket(), f"no registration socket {expected}: {list(registry.iterdir())}"
        assert stat.S_IMODE(expected.stat().st_mode) == 0o600

        watcher = PluginWatcher(registry, reg, csi)
        assert watcher.scan() == str(expected)
        assert watcher.registered[str(expected)][1] == str(node_dirs / "plugins" / "csi-secrets-store" / "csi.sock")
        assert http_status(f"http://127.0.0.1:{health}/healthz") == (200, "ok")

        # kubelet's folder is cleaned (kubelet restart, node maintenance): the driver must come back by itself.
        first_inode = expected.lstat().st_ino
        expected.unlink()
        assert watcher.scan() is None and not watcher.registered
        wait_until(lambda: expected.is_socket(), timeout=RECREATE_TIMEOUT, message="the registration socket was not recreated")
        wait_until(lambda: watcher.scan() == str(expected), timeout=RPC_TIMEOUT, message="kubelet could not register the recreated socket")
        assert str(expected) in watcher.registered
        print(f"re-registered: inode {first_inode} -> {watcher.registered[str(expected)][0]}")

        # A refusal from kubelet fails the liveness check (so the container restarts), a later success heals it.
        with grpc.insecure_channel(f"unix://{expected}") as channel:
            stub = reg.RegistrationStub(channel)
            stub.NotifyRegistrationStatus(reg.RegistrationStatus(plugin_registered=False, error="version mismatch"), timeout=RPC_TIMEOUT)
            code, body = http_status(f"http://127.0.0.1:{health}/healthz")
            assert code == 500 and "registration" in body
            stub.NotifyRegistrationStatus(reg.RegistrationStatus(plugin_registered=True), timeout=RPC_TIMEOUT)
            assert http_status(f"http://127.0.0.1:{health}/healthz") == (200, "ok")
    finally:
        rc = driver.stop()
    assert rc == 0, driver.log_tail()
    assert not (node_dirs / "plugins_registry" / f"{DRIVER}-reg.sock").exists(), "the registration socket was left behind"
    assert not (node_dirs / "plugins" / "csi-secrets-store" / "csi.sock").exists(), "the CSI socket was left behind"
    log = driver.log_tail()
    assert "refused the registration" in log
    # A clean stop logs no error-level line except the refusal the test caused on purpose.
    errors = [line for line in log.splitlines() if " error " in line and "refused the registration" not in line]
    assert not errors, errors


def test_an_unusable_registration_folder_is_named(kube_server, node_dirs, tmp_path):
    blocker = node_dirs / "plugins_registry" / f"{DRIVER}-reg.sock"
    blocker.write_text("not a socket")
    socket = node_dirs / "plugins" / "csi-secrets-store" / "csi.sock"
    args = [str(AKVS_BIN), "csi-driver", "--endpoint", f"unix://{socket}", "--nodeid", NODE,
            "--kubeconfig", str(kube_server.kubeconfig), "--metrics-addr", f"127.0.0.1:{free_port()}", "--health-addr", f"127.0.0.1:{free_port()}",
            "--kubelet-registration-path", str(socket), "--plugin-registration-dir", str(node_dirs / "plugins_registry")]
    import subprocess
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert str(blocker) in result.stderr and "not a socket" in result.stderr, result.stderr
    assert "Usage:" not in result.stderr, "a runtime failure must not print usage"
    assert blocker.read_text() == "not a socket", "a file that is not a socket must never be removed"
    assert not socket.exists(), "the CSI socket was left behind after a failed start"
