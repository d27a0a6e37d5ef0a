"""Every serving role as a process: a port that cannot be bound is named (address and flag) with no usage
text, a usage error still shows usage, `--check-config` validates without starting, and SIGTERM stops
the role cleanly: exit 0, its socket removed, no error-level log line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import List

import pytest

from conftest import REPO_ROOT
from processes import Proc, free_port

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
if not AKVS_BIN.is_absolute():
    AKVS_BIN = (REPO_ROOT / AKVS_BIN).resolve()

# swift-log's default handler prints "<time> <level> <label>: …"; JSON lines carry "level":"…".
ERROR_LINE = re.compile(r"^\S+ (error|critical) |\"level\":\"(error|critical)\"")


def run(args: List[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(AKVS_BIN)] + args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture()
def taken_port():
    """A TCP port held open on every interface for the test."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 0))
        s.listen(1)
        yield s.getsockname()[1]


def roles(tmp_path: Path, kubeconfig: Path, port: int):
    """Each role with one listen flag pointing at `port`, and the flag's name."""
    sock = tmp_path / "s"
    sock.mkdir(exist_ok=True)
    return {
        "provider": (["provider", "--endpoint", f"unix://{sock}/azure.sock", "--healthz-port", str(free_port()), "--prometheus-port", str(port)],
                     "--prometheus-port", f"0.0.0.0:{port}"),
        "csi-driver": (["csi-driver", "--endpoint", f"unix://{sock}/csi.sock", "--nodeid", "n1", "--kubeconfig", str(kubeconfig),
                        "--metrics-addr", f"127.0.0.1:{free_port()}", "--health-addr", f"0.0.0.0:{port}"],
                       "--health-addr", f"0.0.0.0:{port}"),
        "sync-controller": (["sync-controller", "--kubeconfig", str(kubeconfig), "--metrics-bind-address", f"0.0.0.0:{port}",
                             "--health-probe-bind-address", f"127.0.0.1:{free_port()}"],
                            "--metrics-bind-address", f"0.0.0.0:{port}"),
    }


@pytest.mark.parametrize("role", ["provider", "csi-driver", "sync-controller"])
def test_a_taken_port_is_named_without_usage(role, kube_server, taken_port, tmp_path):
    args, flag, address = roles(tmp_path, kube_server.kubeconfig, taken_port)[role]
    result = run(args)
    assert result.returncode != 0
    assert address in result.stderr and flag in result.stderr and "in use" in result.stderr, result.stderr
    assert "Usage:" not in result.stderr, f"a runtime failure printed usage:\n{result.stderr}"
    assert not list((tmp_path / "s").glob("*.sock")), "a role that could not start left its socket behind"


@pytest.mark.parametrize("role,required", [("provider", []), ("csi-driver", ["--nodeid", "n1"]), ("sync-controller", []),
                                           ("emulator", ["--state-dir", "/tmp/x"])])
def test_usage_errors_show_usage_and_name_the_flag(role, required):
    result = run([role] + required + ["--no-such-flag"])
    assert result.returncode == 64 and "--no-such-flag" in result.stderr and "Usage:" in result.stderr, result.stderr


@pytest.mark.parametrize("role,args,flag", [
    ("provider", ["--healthz-path", "healthz"], "--healthz-path"),
    ("provider", ["--cloud-name", "AzureMoonCloud"], "--cloud-name"),
    ("provider", ["--ca-file", "/nonexistent.pem"], "--ca-file"),
    ("csi-driver", ["--nodeid", "n1", "--rotation-poll-interval", "soon"], "--rotation-poll-interval"),
    ("csi-driver", ["--nodeid", "n1", "--kubelet-registration-path", "relative.sock"], "--kubelet-registration-path"),
    ("csi-driver", ["--nodeid", "n1", "--metrics-addr", "8095"], "--metrics-addr"),
    ("sync-controller", ["--jitter-seconds", "-1"], "--jitter-seconds"),
    ("sync-controller", ["--token-request-audience", "a,,b"], "--token-request-audience"),
    ("sync-controller", ["--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig"),
    ("emulator", ["--state-dir", "/tmp/x", "--seed", "/nonexistent/seed.yaml"], "--seed"),
    ("provider", ["--log-level", "loud"], "--log-level"),
])
def test_check_config_names_the_bad_flag(role, args, flag):
    result = run([role] + args + ["--check-config"])
    assert result.returncode != 0 and flag in result.stderr, result.stderr


def test_check_config_prints_the_effective_configuration_and_starts_nothing(tmp_path, kube_server):
    sock = tmp_path / "never.sock"
    result = run(["provider", "--endpoint", f"unix://{sock}", "--object-cache-ttl", "30", "--check-config"])
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout and re.search(r"object-cache-ttl\s+30\.0 seconds", result.stdout), result.stdout
    assert not sock.exists()
    result = run(["sync-controller", "--kubeconfig", str(kube_server.kubeconfig), "--rotation-poll-interval", "5s",
                  "--object-cache-ttl", "60", "--check-config"])
    assert result.returncode == 0, result.stderr
    # The cache never outlives the poll interval.
    assert re.search(r"object-cache-ttl\s+5\.0 seconds", result.stdout), result.stdout
    assert kube_server.url in result.stdout


def test_sigterm_stops_every_role_cleanly(kube_server, tmp_path):
    sock = tmp_path / "sockets"
    started = {
        "provider": Proc("provider", [str(AKVS_BIN), "provider", "--endpoint", f"unix://{sock}/azure.sock", "--healthz-port", str(free_port()),
                                      "--prometheus-port", str(free_port())], "akvs provider ready", tmp_path / "provider.log"),
        "csi-driver": Proc("csi-driver", [str(AKVS_BIN), "csi-driver", "--endpoint", f"unix://{sock}/csi.sock", "--nodeid", "n1",
                                          "--kubeconfig", str(kube_server.kubeconfig), "--metrics-addr", f"127.0.0.1:{free_port()}",
                                          "--health-addr", f"127.0.0.1:{free_port()}"], "akvs csi-driver ready", tmp_path / "driver.log"),
        "sync-controller": Proc("sync-controller", [str(AKVS_BIN), "sync-controller", "--kubeconfig", str(kube_server.kubeconfig), "--leader-elect",
                                                    "--metrics-bind-address", f"127.0.0.1:{free_port()}", "--health-probe-bind-address",
                                                    f"127.0.0.1:{free_port()}"], "akvs sync-controller starting", tmp_path / "sync.log"),
        "emulator": Proc("emulator", [str(AKVS_BIN), "emulator", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "emu"),
                                      "--log-level", "info"], "akvs emulator ready", tmp_path / "emulator.log"),
    }
    import time
    time.sleep(1.5)  # let the controller take its Lease and start its informers
    for name, proc in started.items():
        rc = proc.stop(timeout=15)
        log = proc.log_tail()
        assert rc == 0, f"{name} exited {rc} on SIGTERM:\n{log}"
        errors = [line for line in log.splitlines() if ERROR_LINE.search(line)]
        assert not errors, f"{name} logged errors on a clean stop:\n" + "\n".join(errors)
    assert not list(sock.glob("*.sock")), "sockets left behind"
