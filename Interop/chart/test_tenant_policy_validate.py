"""`akvs validate --tenant-policy VALUES` refuses exactly what the chart's tenant policy refuses, with its messages:
every case is judged by the rendered ValidatingAdmissionPolicies (cel-python, admission.py) and by akvs validate, and
the two verdicts must agree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

pytest.importorskip("celpy", reason="pip install cel-python (Interop/chart/requirements.txt)")

from test_tenant_policy import CLIENT_ID, GOOD, SETTINGS, Tenant, pod, spc, volume, workload  # noqa: E402

VALUES = """policy:
  enabled: true
  allowedVaults: [prod-vault, Shared-Vault]
  allowedCloudEnvDirs: [/etc/kubernetes, /opt/azurestack/]
"""

SPC_CASES: List[Dict[str, str]] = (
    [{**GOOD, "useVMManagedIdentity": v} for v in ["true", "True", "t", "1", " true ", "true\n", "yes", "false", "False", "0", "", " false "]]
    + [{**GOOD, "userAssignedIdentityID": v} for v in [CLIENT_ID, "", "  "]]
    + [{**GOOD, "keyvaultName": v} for v in ["prod-vault", "PROD-VAULT", " shared-vault ", "other", "prod-vault2", "prod_vault", ""]]
    + [{**GOOD, "cloudName": "AzureStackCloud", "cloudEnvFileName": v} for v in [
        "/etc/kubernetes/custom.json", "/opt/azurestack/cloud.json", "/etc/kubernetes/./custom.json", "/etc/kubernetes/custom.json ",
        "/etc/kubernetes/..custom.json", "", "   ", "/etc/kubernetes/../shadow", "/etc/kubernetes/..", "/etc/kubernetes/.. ",
        "/etc/kubernetes/..\n", "/etc/kubernetes-evil/cloud.json", "/etc/kubernetes", "etc/kubernetes/cloud.json",
        " /etc/kubernetes/cloud.json", "//etc/kubernetes/cloud.json", "/etc/shadow"]]
    + [{**GOOD, "keyvaultName": "other", "useVMManagedIdentity": "true", "cloudEnvFileName": "/etc/shadow"}]
)

POD_CASES = [
    [volume()],
    [volume("sp", secret_ref="sp-creds")],
    [volume("kv", {"keyvaultName": "other"})],
    [volume("kv", {"useVMManagedIdentity": "1"})],
    [volume("kv", {"cloudEnvFileName": "/etc/kubernetes/../shadow"})],
    [volume("kv", {"keyvaultName": "PROD-VAULT", "useVMManagedIdentity": "false", "cloudEnvFileName": "/etc/kubernetes/c.json"})],
    [volume("plain", driver="other.csi.k8s.io", secret_ref="anything")],
]

WORKLOAD_KINDS = {"Deployment": ("apps/v1", "apps", "deployments"), "StatefulSet": ("apps/v1", "apps", "statefulsets"),
                  "DaemonSet": ("apps/v1", "apps", "daemonsets"), "ReplicaSet": ("apps/v1", "apps", "replicasets"),
                  "Job": ("batch/v1", "batch", "jobs"), "CronJob": ("batch/v1", "batch", "cronjobs"),
                  "ReplicationController": ("v1", "", "replicationcontrollers")}


def validate_messages(akvs: Path, tmp_path: Path, manifests: Dict[str, dict]) -> Dict[str, List[str]]:
    """The tenant-policy messages akvs validate prints, by file."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    for name, manifest in manifests.items():
        (folder / f"{name}.json").write_text(json.dumps(manifest))
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    run = subprocess.run([str(akvs), "validate", "--tenant-policy", str(values), "--output", "json", str(folder)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    report = json.loads(run.stdout)
    found: Dict[str, List[str]] = {name: [] for name in manifests}
    for item in report.get("errors", []):
        if item["message"].startswith("tenant policy: "):
            found[Path(item["file"]).stem].append(item["message"][len("tenant policy: "):])
    return found


def test_akvs_validate_agrees_with_the_admission_policies(render, akvs_bin, tmp_path):
    tenant = Tenant(render(SETTINGS))
    manifests: Dict[str, dict] = {}
    verdicts: Dict[str, List[str]] = {}
    for index, parameters in enumerate(SPC_CASES):
        manifests[f"spc-{index}"] = spc(parameters)
        verdicts[f"spc-{index}"] = tenant.spc(parameters)
    for index, volumes in enumerate(POD_CASES):
        manifests[f"pod-{index}"] = pod(volumes)
        verdicts[f"pod-{index}"] = tenant.pod(volumes)
        for kind, (api_version, group, resource) in WORKLOAD_KINDS.items():
            manifest = {"apiVersion": api_version, **workload(kind, volumes)}
            manifests[f"{kind}-{index}"] = manifest
            verdicts[f"{kind}-{index}"] = tenant.review("CREATE", group, resource, manifest)
    messages = validate_messages(akvs_bin, tmp_path, manifests)
    refused = 0
    for name, cel in verdicts.items():
        # The policy names the first volume breaking each rule; akvs validate names every one: the policy's are a subset.
        assert bool(cel) == bool(messages[name]), f"{name}: admission policy says {cel}, akvs validate says {messages[name]}"
        # akvs prints one line per finding: a newline inside a value shows as a space.
        assert {m.replace("\n", " ") for m in cel} <= set(messages[name]), f"{name}: admission policy says {cel}, akvs validate says {messages[name]}"
        refused += bool(cel)
    assert refused > 30 and refused < len(verdicts)
