"""`akvs validate` as a process: exit codes, the FILE:LINE:COL text lines and the JSON report.

Runs the binary from AKVS_BIN (default <repo>/.build/debug/akvs) on manifests written to a temp dir:
a clean set (exit 0, warnings allowed), a broken set (exit 1, one line per finding, positions inside
the SecretProviderClass `objects` string), `--for sync`, `--output json`, usage errors (exit 64),
and a Secret whose value must never appear in the output. No cluster is needed.

Run: `python3 -m pytest -q Interop/kubernetes/test_validate_cli.py` (after `swift build`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
SECRET_VALUE = "do-not-print-this-value"

CLASS = """\
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: kv, namespace: apps}
spec:
  provider: azure
  parameters:
    keyvaultName: kv1
    tenantId: 00000000-0000-4000-8000-000000000002
    objects: |
      array:
        - |
          objectName: db
          objectType: secret
          objectVersionHistory: 2
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  containers: [{name: c, image: app}]
  volumes:
    - name: s
      csi:
        driver: secrets-store.csi.k8s.io
        readOnly: true
        volumeAttributes: {secretProviderClass: kv}
        nodePublishSecretRef: {name: creds}
    - name: t
      csi:
        driver: secrets-store.csi.k8s.io
        readOnly: true
        volumeAttributes: {secretProviderClass: in-cluster}
        nodePublishSecretRef: {name: creds}
"""

SECRET = f"""\
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: apps}}
stringData:
  clientid: {SECRET_VALUE}
  clientsecret: {SECRET_VALUE}
"""

SYNC = """\
apiVersion: secret-sync.x-k8s.io/v1alpha1
kind: SecretSync
metadata: {name: db, namespace: apps}
spec:
  secretProviderClassName: kv
  serviceAccountName: app
  secretObject:
    data:
      - {sourcePath: db/1, targetKey: previous}
"""

BROKEN_CLASS = """\
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: kv, namespace: apps}
spec:
  provider: azure
  parameters:
    keyvaultName: kv1
    tenantId: 00000000-0000-4000-8000-000000000002
    useVMManagedIdentity: true
    objects: |
      array:
        - |
          objectName: db
          objectType: secrets
"""

BROKEN_SYNC = """\
apiVersion: secret-sync.x-k8s.io/v1alpha1
kind: SecretSync
metadata: {name: db, namespace: apps}
spec:
  secretProviderClassName: kv
  serviceAccountName: app
  secretObject:
    data:
      - {sourcePath: db/2, targetKey: previous}
"""


def run(*args: str) -> subprocess.CompletedProcess:
    if not AKVS_BIN.is_file():
        pytest.fail(f"akvs binary not found at {AKVS_BIN}; run swift build or set AKVS_BIN", pytrace=False)
    return subprocess.run([str(AKVS_BIN), "validate", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def clean_dir(tmp_path: Path) -> Path:
    (tmp_path / "class.yaml").write_text(CLASS + "---\n" + SYNC)
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "pod.yml").write_text(POD + "---\n" + SECRET)
    (tmp_path / "apps" / "notes.txt").write_text("not a manifest: [")
    return tmp_path


def test_clean_manifests_exit_zero_with_warnings(clean_dir: Path):
    result = run(str(clean_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines == [
        f"{clean_dir}/apps/pod.yml:18:49: spec.volumes[1].csi.volumeAttributes.secretProviderClass: warning: SecretProviderClass in-cluster "
        "is not defined in the given files; it must exist in the cluster in the pod's namespace",
        "2 files, 4 documents, 4 checked: 0 errors, 1 warning",
    ]
    assert SECRET_VALUE not in result.stdout + result.stderr


def test_errors_exit_one_with_positions_inside_objects(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_CLASS + "---\n" + BROKEN_SYNC)
    result = run(str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    # The class has errors, so the SecretSync's sourcePaths are not checked against it.
    assert result.stdout.strip().splitlines() == [
        f'{path}:9:27: spec.parameters.useVMManagedIdentity: must be a string, not a boolean: quote it, e.g. "true"',
        f"{path}:14:23: spec.parameters.objects.array[0].objectType: invalid objectType: 'secrets', should be secret, key or cert",
        "1 file, 2 documents, 2 checked: 2 errors, 0 warnings",
    ]


def test_sourcepaths_are_checked_against_the_class(tmp_path: Path):
    path = tmp_path / "set.yaml"
    path.write_text(CLASS + "---\n" + BROKEN_SYNC)
    result = run(str(path))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        f"{path}:24:22: spec.secretObject.data[0].sourcePath: 'db/2' is not a file of SecretProviderClass apps/kv (files: db/0, db/1); "
        "use an objectAlias or objectName, or name/N with objectVersionHistory",
        "1 file, 2 documents, 2 checked: 1 error, 0 warnings",
    ]


def test_for_sync_adds_the_secret_store_extension_rules(clean_dir: Path):
    result = run("--for", "sync", str(clean_dir))
    assert result.returncode == 1
    text = result.stdout
    assert f"{clean_dir}/class.yaml:6:3: spec.parameters.clientID: is not set: the Secret Store extension syncs with workload identity only" in text
    assert f"{clean_dir}/apps/pod.yml:5:36: spec.nodeSelector.kubernetes.io/os: Windows workloads are not supported by the Secret Store extension" in text
    assert SECRET_VALUE not in text + result.stderr


def test_json_output(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_CLASS)
    result = run("--output", "json", str(path))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["files"] == 1
    assert report["errorCount"] == 2 and report["warningCount"] == 0
    assert report["errors"][1] == {
        "file": str(path), "line": 14, "column": 23, "field": "spec.parameters.objects.array[0].objectType",
        "message": "invalid objectType: 'secrets', should be secret, key or cert", "severity": "error",
    }


def test_usage_errors_exit_64(tmp_path: Path):
    assert run().returncode == 64
    missing = run(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 64
    assert "nope.yaml: no such file or directory" in missing.stderr
    assert run("--for", "mars", str(tmp_path)).returncode == 64
