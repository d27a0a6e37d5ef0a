"""Every flag the chart passes is a flag the binary accepts: each rendered akvs container's command and
args run through the real binary with --check-config (parse + validate, print the configuration, exit 0
without starting anything)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import COMBINATIONS, akvs_containers

# Stand-ins for the values Kubernetes fills in from the downward API.
FIELD_VALUES = {
    "spec.nodeName": "node-1",
    "metadata.name": "akvs-pod-0",
    "metadata.uid": "00000000-0000-4000-8000-000000000001",
    "metadata.namespace": "kube-system",
}


def container_env(c) -> Dict[str, str]:
    env: Dict[str, str] = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "valueFrom" in e and "fieldRef" in e["valueFrom"]:
            env[e["name"]] = FIELD_VALUES.get(e["valueFrom"]["fieldRef"]["fieldPath"], "fake")
        else:
            env[e["name"]] = "fake"
    return env


def expand(arg: str, env: Dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables are replaced, $$ escapes, others stay as written."""
    def replace(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, arg)


def command_line(akvs_bin: Path, c) -> List[str]:
    env = container_env(c)
    command = [expand(a, env) for a in c["command"]] + [expand(a, env) for a in c.get("args", [])]
    assert command[0] == "/akvs", command
    return [str(akvs_bin), *command[1:], "--check-config"]


def run_check(argv: List[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")}
    env["HOME"] = str(tmp_path)  # no ~/.kube/config from the machine
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def checked_binary(akvs_bin: Path) -> Path:
    for role in ("csi-driver", "provider", "sync-controller"):
        help_text = subprocess.run([str(akvs_bin), role, "--help"], capture_output=True, text=True, timeout=60).stdout
        if "--check-config" not in help_text:
            pytest.fail(f"{akvs_bin} {role} has no --check-config yet (rebuild akvs)", pytrace=False)
    return akvs_bin


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_chart_flags_pass_check_config(render, checked_binary, tmp_path, combination):
    rendered = render(COMBINATIONS[combination])
    found = akvs_containers(rendered)
    assert found, "no akvs container rendered"
    for workload, c in found:
        argv = command_line(checked_binary, c)
        proc = run_check(argv, tmp_path)
        assert proc.returncode == 0, (
            f"{workload['kind']} {workload['metadata']['name']} container {c['name']}:\n  {' '.join(argv)}\n"
            f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
        assert "--check-config" not in proc.stderr
        assert "$(" not in " ".join(argv), argv


def test_every_role_is_covered(render):
    roles = set()
    for combination in COMBINATIONS.values():
        for _, c in akvs_containers(render(combination)):
            roles.add(c["command"][1])
    assert roles == {"csi-driver", "provider", "restarter", "sync-controller"}


@pytest.mark.parametrize("bad_flag", ["--enable-secret-rotaton=true", "--rotation-poll-interval=soon"])
def test_a_bad_flag_fails_the_check(render, checked_binary, tmp_path, bad_flag):
    """The method catches what it is for: a misspelled flag or a bad value exits non-zero naming it."""
    workload = render().get("DaemonSet", "akvs-secrets-store-csi-driver")
    c = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == "secrets-store"][0]
    argv = command_line(checked_binary, c)
    argv.insert(-1, bad_flag)
    proc = run_check(argv, tmp_path)
    assert proc.returncode != 0, proc.stdout
    name = bad_flag.split("=")[0]
    assert name.lstrip("-") in proc.stderr + proc.stdout, proc.stderr


def test_expand():
    env = {"A": "x"}
    assert expand("--nodeid=$(A)", env) == "--nodeid=x"
    assert expand("$(B)", env) == "$(B)"
    assert expand("$$(A)", env) == "$(A)"
