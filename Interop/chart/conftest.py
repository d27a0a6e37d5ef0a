"""Fixtures for the chart suite (charts/akvs).

Tools (env overrides):
  HELM                  default <repo>/.build/tools/bin/helm      (Scripts/install-kube-tools.sh)
  KUBECTL               default <repo>/.build/tools/bin/kubectl
  AKVS_BIN              default <repo>/.build/debug/akvs
  KUBE_TEST_SERVER_BIN  default <repo>/.build/debug/akvs-kube-test-server
  PROMTOOL, PROMETHEUS  default promtool and prometheus on PATH                 (Scripts/install-prometheus.sh)
Python: kubernetes-validate (Kubernetes 1.36 schemas), cel-python (the admission policies' CEL), PyYAML
(Interop/chart/requirements.txt).

Run: `python3 -m pytest -q Interop/chart` from the repository root. A missing tool fails the tests that
need it with the command that installs it; nothing is skipped silently.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CHART = REPO_ROOT / "charts" / "akvs"
RELEASE = "akvs"
NAMESPACE = "kube-system"

# The settings combinations of issue 12 (and a few more), by name: the --set arguments of each.
COMBINATIONS: Dict[str, List[str]] = {
    "defaults": [],
    "rotation": [
        "secrets-store-csi-driver.enableSecretRotation=true",
        "secrets-store-csi-driver.rotationPollInterval=3m",
        "secrets-store-csi-driver.syncSecret.enabled=true",
    ],
    "kubelet-dir": [
        "linux.kubeletRootDir=/path/to/kubelet",
        "secrets-store-csi-driver.linux.kubeletRootDir=/path/to/kubelet",
    ],
    "sse-settings": [
        "syncController.enabled=true",
        "rotationPollIntervalInSeconds=120",
        "jitterSeconds=30",
        "enablePartialSecretSync=false",
    ],
    "sync-only": ["csiDriver.enabled=false", "syncController.enabled=true"],
    "both-roles": ["syncController.enabled=true", "syncController.replicas=2"],
    "sidecars": ["secrets-store-csi-driver.registration.mode=sidecars"],
    "builtin": ["secrets-store-csi-driver.registration.mode=builtin"],
    "one-process": ["secrets-store-csi-driver.azureProvider.mode=in-process", "constructPEMChain=false",
                    "linux.volumes[0].name=cloud", "linux.volumes[0].hostPath.path=/etc/kubernetes",
                    "linux.volumeMounts[0].name=cloud", "linux.volumeMounts[0].mountPath=/etc/kubernetes", "linux.volumeMounts[0].readOnly=true"],
    "aks-names": ["fullnameOverride=aks", "syncController.enabled=true"],
    "tenant-policy": ["syncController.enabled=true", "policy.enabled=true", "policy.allowedVaults[0]=prod-vault",
                      "policy.allowedCloudEnvDirs[0]=/etc/kubernetes", "policy.namespaceSelector.matchLabels.tenancy=shared"],
    "hardened": ["syncController.enabled=true", "image.digest=sha256:" + "0123456789abcdef" * 4, "networkPolicy.enabled=true",
                 "linux.hostNetwork=false", "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.team=observability"],
    "observability": ["syncController.enabled=true", "metrics.serviceMonitor.enabled=true",
                      "metrics.serviceMonitor.labels.release=kube-prometheus-stack", "metrics.prometheusRule.enabled=true",
                      "metrics.prometheusRule.labels.release=kube-prometheus-stack", "metrics.grafanaDashboard.enabled=true",
                      "metrics.grafanaDashboard.namespace=monitoring"],
    "observability-pods": ["syncController.enabled=true", "secrets-store-csi-driver.azureProvider.mode=in-process",
                           "metrics.podMonitor.enabled=true", "metrics.podMonitor.namespace=monitoring", "metrics.podMonitor.interval=1m",
                           "metrics.podMonitor.scrapeTimeout=30s", "metrics.prometheusRule.enabled=true",
                           "metrics.prometheusRule.expiryWarningDays=14", "metrics.prometheusRule.expiryCriticalDays=2",
                           "metrics.prometheusRule.alertLabels.team=platform", "metrics.grafanaDashboard.enabled=true"],
    "restarter": ["restarter.enabled=true", "restarter.debounce=1m", "restarter.maxConcurrentRestarts=3", "restarter.replicas=2"],
    "everything": [
        "restarter.enabled=true",
        "syncController.enabled=true",
        "syncController.enableDriftRepair=true",
        "secrets-store-csi-driver.enableSecretRotation=true",
        "secrets-store-csi-driver.syncSecret.enabled=true",
        "secrets-store-csi-driver.registration.mode=sidecars",
        "logVerbosity=6",
        "logFormatJSON=true",
        "constructPEMChain=false",
        "writeCertAndKeyInSeparateFiles=true",
        "secrets-store-csi-driver.maxCallRecvMsgSize=8388608",
        "secrets-store-csi-driver.tokenRequests[0].audience=api://custom",
    ],
}

INSTALL_HINT = "run Scripts/install-kube-tools.sh (helm, kubectl, kubernetes-validate)"


def _tool(env: str, default: Path, hint: str) -> Path:
    path = Path(os.environ.get(env) or default)
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()  # the suite runs binaries from other folders
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"{env}: no executable at {path}; {hint}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def helm() -> Path:
    return _tool("HELM", REPO_ROOT / ".build" / "tools" / "bin" / "helm", INSTALL_HINT)


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return _tool("KUBECTL", REPO_ROOT / ".build" / "tools" / "bin" / "kubectl", INSTALL_HINT)


@pytest.fixture(scope="session")
def akvs_bin() -> Path:
    return _tool("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs", "build it with `swift build`")


@pytest.fixture(scope="session")
def kube_test_server_bin() -> Path:
    return _tool("KUBE_TEST_SERVER_BIN", REPO_ROOT / ".build" / "debug" / "akvs-kube-test-server", "build it with `swift build`")


@pytest.fixture(scope="session")
def promtool_bin() -> Path:
    """promtool (PROMTOOL, else PATH): Debian's prometheus package, Scripts/install-prometheus.sh."""
    import observability

    path = observability.promtool_path()
    if path is None:
        pytest.fail(f"promtool not found: {observability.INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def prometheus_bin() -> Path:
    """prometheus (PROMETHEUS, else beside promtool, else PATH)."""
    import observability

    path = observability.prometheus_path()
    if path is None:
        pytest.fail(f"prometheus not found: {observability.INSTALL_HINT}", pytrace=False)
    return path


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@dataclass
class Rendered:
    """One `helm template` result: the objects, by kind and name."""

    args: List[str]
    text: str
    objects: List[Dict[str, Any]]

    def of_kind(self, kind: str) -> List[Dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert found, f"no {kind} {name} among {[(o['kind'], o['metadata']['name']) for o in self.objects]}"
        assert len(found) == 1, f"{kind} {name} rendered {len(found)} times"
        return found[0]

    def names(self, kind: str) -> List[str]:
        return sorted(o["metadata"]["name"] for o in self.of_kind(kind))

    def workloads(self) -> List[Dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in ("DaemonSet", "Deployment")]


class HelmError(Exception):
    def __init__(self, args: Sequence[str], returncode: int, stderr: str):
        super().__init__(f"helm {' '.join(args)} exited {returncode}: {stderr}")
        self.returncode = returncode
        self.stderr = stderr


def run_helm(helm: Path, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HELM_CACHE_HOME": str(Path(tempfile.gettempdir()) / "akvs-helm-cache"),
                               "HELM_CONFIG_HOME": str(Path(tempfile.gettempdir()) / "akvs-helm-config"),
                               "HELM_DATA_HOME": str(Path(tempfile.gettempdir()) / "akvs-helm-data")})
    if check and proc.returncode != 0:
        raise HelmError(args, proc.returncode, proc.stderr)
    return proc


def set_args(settings: Iterable[str]) -> List[str]:
    out: List[str] = []
    for s in settings:
        out += ["--set", s]
    return out


@pytest.fixture(scope="session")
def render(helm: Path):
    """render(settings, extra_args=()) -> Rendered, for `helm template akvs charts/akvs -n kube-system`."""
    cache: Dict[tuple, Rendered] = {}

    def _render(settings: Sequence[str] = (), extra: Sequence[str] = (), include_crds: bool = False) -> Rendered:
        key = (tuple(settings), tuple(extra), include_crds)
        if key not in cache:
            args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, *set_args(settings), *extra]
            if include_crds:
                args.append("--include-crds")
            text = run_helm(helm, args).stdout
            objects = [o for o in yaml.safe_load_all(text) if o]
            cache[key] = Rendered(list(settings), text, objects)
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def render_error(helm: Path):
    """render_error(settings) -> stderr of a `helm template` that must fail."""

    def _render_error(settings: Sequence[str] = (), extra: Sequence[str] = ()) -> str:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, *set_args(settings), *extra]
        proc = run_helm(helm, args, check=False)
        assert proc.returncode != 0, f"helm template {' '.join(args)} succeeded, expected a failure:\n{proc.stdout[:2000]}"
        return proc.stderr

    return _render_error


def containers(workload: Dict[str, Any]) -> List[Dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def container(workload: Dict[str, Any], name: str) -> Dict[str, Any]:
    found = [c for c in containers(workload) if c["name"] == name]
    assert found, f"{workload['metadata']['name']} has no container {name}: {[c['name'] for c in containers(workload)]}"
    return found[0]


def akvs_containers(rendered: Rendered) -> List[tuple]:
    """(workload, container) for every container that runs the akvs binary."""
    out = []
    for w in rendered.workloads():
        for c in containers(w):
            if (c.get("command") or [""])[0] == "/akvs":
                out.append((w, c))
    return out


def flag_values(args: Sequence[str]) -> Dict[str, List[str]]:
    """--name=value (and bare --name) -> {name: [values]}."""
    out: Dict[str, List[str]] = {}
    for a in args:
        m = re.match(r"^--?([A-Za-z0-9-]+)(?:=(.*))?$", a)
        assert m, f"argument {a!r} is not --flag or --flag=value"
        out.setdefault(m.group(1), []).append(m.group(2) if m.group(2) is not None else "")
    return out


def flag(args: Sequence[str], name: str) -> str:
    values = flag_values(args).get(name)
    assert values, f"--{name} missing from {list(args)}"
    assert len(values) == 1, f"--{name} given {len(values)} times: {list(args)}"
    return values[0]


# --------------------------------------------------------------------------------------------
# The Kubernetes test server (for the apply test and kubectl)
# --------------------------------------------------------------------------------------------

READY_RE = re.compile(r"^akvs kube-test-server ready (?P<url>https://127\.0\.0\.1:\d+) kubeconfig=(?P<kubeconfig>\S.*)$")


@dataclass
class KubeServer:
    """The test server over HTTPS, as kube-apiserver serves: its kubeconfig carries the CA (certificate-authority-data)
    and the admin token, so the kubernetes client and kubectl (which sends no token over plain HTTP) both use it as is."""

    process: subprocess.Popen
    url: str
    kubeconfig: Path
    stderr_path: Path

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def kube_server(kube_test_server_bin: Path, tmp_path_factory) -> Iterable[KubeServer]:
    state = tmp_path_factory.mktemp("kube-state")
    stdout_path, stderr_path = state / "stdout.log", state / "stderr.log"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen([str(kube_test_server_bin), "--state-dir", str(state), "--bookmark-interval-seconds", "1", "--tls"],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    server: Optional[KubeServer] = None
    deadline = time.monotonic() + 60
    try:
        while server is None and time.monotonic() < deadline and proc.poll() is None:
            for line in stdout_path.read_text(errors="replace").splitlines():
                m = READY_RE.match(line.strip())
                if m:
                    server = KubeServer(proc, m.group("url"), Path(m.group("kubeconfig")), stderr_path)
            time.sleep(0.1)
        if server is None:
            pytest.fail(f"akvs-kube-test-server did not print its ready line: {stderr_path.read_text(errors='replace')[-2000:]}")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def pytest_configure(config):
    config.addinivalue_line("markers", "kube_apply: applies the rendered chart to akvs-kube-test-server (kinds it lacks are skipped)")
