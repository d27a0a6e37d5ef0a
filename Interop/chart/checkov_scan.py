"""checkov (framework kubernetes, default checks) on the chart as rendered for each combination of settings.

Used by test_checkov.py, and on its own to print the table in docs/security.md:

    python3 Interop/chart/checkov_scan.py [--helm PATH] [--chart DIR] [--only NAME ...]

Each combination is rendered with `helm template <name> <chart> -n <name>`: the release name and namespace are the
combination's, so that checkov's graph checks (which join objects by labels across every file of a scan, whatever
their namespace) never join one combination's NetworkPolicy or RoleBinding to another's pods or roles. Object names
are reported with the `<name>-akvs` prefix turned back into `akvs`, the default release's names.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CHART = REPO_ROOT / "charts" / "akvs"
ALLOWLIST = HERE / "checkov-allowlist.yaml"

DIGEST = "sha256:" + "0123456789abcdef" * 4
SYNC = ["syncController.enabled=true"]
IN_PROCESS = ["secrets-store-csi-driver.azureProvider.mode=in-process"]
HARDENED = [f"image.digest={DIGEST}", "networkPolicy.enabled=true", "linux.hostNetwork=false"]

# name -> --set arguments. Every role and mode the chart has, the optional grants, the tenant policy, and the
# settings that clear what the defaults cannot (a pinned digest, the NetworkPolicies, no host network), and the
# monitoring objects (metrics.*: headless Services, ServiceMonitors or PodMonitors, a PrometheusRule, a ConfigMap).
COMBINATIONS: Dict[str, List[str]] = {
    "csi": [],
    "csi-sidecars": ["secrets-store-csi-driver.registration.mode=sidecars"],
    "csi-in-process": IN_PROCESS,
    "sync": ["csiDriver.enabled=false"] + SYNC,
    "both": SYNC,
    "both-in-process": SYNC + IN_PROCESS,
    "everything": SYNC + ["syncController.enableDriftRepair=true", "secrets-store-csi-driver.enableSecretRotation=true",
                          "secrets-store-csi-driver.syncSecret.enabled=true", "secrets-store-csi-driver.registration.mode=sidecars"],
    "tenant-policy": SYNC + ["policy.enabled=true", "policy.allowedVaults[0]=prod-vault",
                             "policy.allowedCloudEnvDirs[0]=/etc/kubernetes"],
    "hardened": SYNC + HARDENED,
    "hardened-in-process": SYNC + IN_PROCESS + HARDENED,
    "observability": SYNC + ["metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
                             "metrics.grafanaDashboard.enabled=true"],
    "observability-pods": SYNC + IN_PROCESS + ["metrics.podMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
                                               "metrics.grafanaDashboard.enabled=true"],
}

CHECKOV_ARGS = ["--framework", "kubernetes", "--skip-download", "-o", "json"]

Finding = Tuple[str, str, str]  # (check id, "Kind/name", combination)


def render_all(helm: Path, outdir: Path, chart: Path = CHART, combinations: Optional[Dict[str, List[str]]] = None) -> Dict[str, List[dict]]:
    """Renders every combination into outdir/<name>.yaml; returns the objects of each."""
    combinations = COMBINATIONS if combinations is None else combinations
    rendered: Dict[str, List[dict]] = {}
    env = {**os.environ, "HELM_CACHE_HOME": str(Path(tempfile.gettempdir()) / "akvs-helm-cache"),
           "HELM_CONFIG_HOME": str(Path(tempfile.gettempdir()) / "akvs-helm-config"),
           "HELM_DATA_HOME": str(Path(tempfile.gettempdir()) / "akvs-helm-data")}
    for name, settings in combinations.items():
        args = [str(helm), "template", name, str(chart), "--namespace", name]
        for s in settings:
            args += ["--set", s]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"helm template {name}: {proc.stderr.strip()}")
        (outdir / f"{name}.yaml").write_text(proc.stdout)
        rendered[name] = [o for o in yaml.safe_load_all(proc.stdout) if o]
    return rendered


def checkov_binary() -> Optional[str]:
    return shutil.which("checkov")


def run_checkov(directory: Path, passed_too: bool = False) -> List[dict]:
    """One checkov run over the folder; the JSON reports (one per framework)."""
    binary = checkov_binary()
    if binary is None:
        raise FileNotFoundError("checkov is not installed: pip install -r Interop/chart/requirements.txt")
    args = [binary, "-d", str(directory), *CHECKOV_ARGS] + ([] if passed_too else ["--quiet", "--compact"])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]


def combination_of(file_path: str) -> str:
    return Path(file_path).stem


def resource_key(resource: str, combination: str) -> str:
    """checkov's "Kind.namespace.name[.labels…]" -> "Kind/name" with the default release's name. Pod ids come
    from the graph checks: the pod template of the workload of that name."""
    parts = resource.split(".")
    kind = parts[0]
    name = parts[2] if len(parts) > 2 else parts[-1]
    prefix = f"{combination}-akvs"
    if name.startswith(prefix):
        name = "akvs" + name[len(prefix):]
    return f"{kind}/{name}"


def findings(reports: Sequence[dict]) -> Set[Finding]:
    out: Set[Finding] = set()
    for report in reports:
        for check in report.get("results", {}).get("failed_checks", []):
            combination = combination_of(check["file_path"])
            out.add((check["check_id"], resource_key(check["resource"], combination), combination))
    return out


def counts(reports: Sequence[dict]) -> Dict[str, Tuple[int, int]]:
    """combination -> (passed, failed)."""
    per: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for report in reports:
        for check in report.get("results", {}).get("passed_checks", []):
            per[combination_of(check["file_path"])][0] += 1
        for check in report.get("results", {}).get("failed_checks", []):
            per[combination_of(check["file_path"])][1] += 1
    return {k: (v[0], v[1]) for k, v in per.items()}


def rendered_resources(objects: Sequence[dict], combination: str) -> Set[str]:
    """The "Kind/name" keys checkov can report for these objects (workloads also as their Pod)."""
    out = set()
    for o in objects:
        key = resource_key(f"{o['kind']}.{o['metadata'].get('namespace', 'default')}.{o['metadata']['name']}", combination)
        out.add(key)
        if o["kind"] in ("DaemonSet", "Deployment"):
            out.add("Pod/" + key.split("/", 1)[1])
    return out


def load_allowlist(path: Path = ALLOWLIST) -> dict:
    return yaml.safe_load(path.read_text())


def expected(allowlist: dict, rendered: Dict[str, List[dict]]) -> Dict[Finding, str]:
    """Every (check, resource, combination) the allowlist accepts -> the entry's reason. An entry applies to every
    combination that renders its resource, or to those in `only`, minus those in `except`."""
    out: Dict[Finding, str] = {}
    for entry in allowlist["findings"]:
        combos = entry.get("only") or list(rendered)
        for combination in combos:
            assert combination in rendered, f"allowlist {entry['check']} {entry['resource']}: unknown combination {combination}"
            if combination in (entry.get("except") or []):
                continue
            if entry["resource"] in rendered_resources(rendered[combination], combination):
                out[(entry["check"], entry["resource"], combination)] = entry["reason"]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--helm", default=os.environ.get("HELM") or str(REPO_ROOT / ".build" / "tools" / "bin" / "helm"))
    parser.add_argument("--chart", default=str(CHART))
    parser.add_argument("--only", nargs="*", help="combination names (default: all)")
    args = parser.parse_args(argv)
    combinations = {k: v for k, v in COMBINATIONS.items() if not args.only or k in args.only}
    failed: Dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="akvs-checkov-") as tmp:
        rendered = {}
        for name, settings in combinations.items():
            try:
                rendered.update(render_all(Path(args.helm), Path(tmp), Path(args.chart), {name: settings}))
            except RuntimeError as e:
                failed[name] = str(e).splitlines()[0][:160]
        table = counts(run_checkov(Path(tmp), passed_too=True)) if rendered else {}
    print("| combination | passed | failed |\n|---|---:|---:|")
    for name in combinations:
        if name in table:
            print(f"| {name} | {table[name][0]} | {table[name][1]} |")
        else:
            print(f"| {name} | — | — ({failed.get(name, 'nothing rendered')}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
