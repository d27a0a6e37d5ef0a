#!/usr/bin/env python3
"""Idle resident memory of every akvs role, as BENCHMARKS.md ("Idle RSS per role") records it.

Usage: python3 Scripts/idle-rss.py [AKVS_BIN] [KUBE_TEST_SERVER_BIN] [--env NAME=VALUE ...] [--inherit-env] [--seconds 5]

Starts `akvs-kube-test-server`, then each role on its own against it (the CSI driver without tmpfs mounts or kubelet
registration, so no root is needed), and reads VmRSS from /proc 5 s after the role said it is ready; the floor is
`akvs --version`'s peak RSS. Prints a Markdown table. `--env` adds a variable to every role's environment (e.g.
MALLOC_ARENA_MAX=2), to compare settings in one run. The roles run in the container image's environment (PATH
only): variables such as SSL_CERT_FILE and SSL_CERT_DIR, set on many build machines, make the Azure roles parse
those CA bundles at start (several MiB) where the image would not; `--inherit-env` keeps the caller's environment.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def breakdown(pid: int, binary: str) -> tuple:
    """(anonymous MiB, the binary's own resident pages MiB, other files' MiB) from /proc/PID/smaps."""
    anon = own = files = 0
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:
            name = fields[5] if len(fields) > 5 else ""
        elif fields[0] == "Anonymous:":
            anon += int(fields[1])
        elif fields[0] == "Rss:":
            rss = int(fields[1])
            if name and not name.startswith("["):
                if os.path.realpath(name) == os.path.realpath(binary):
                    own += rss
                else:
                    files += rss
    return anon / 1024, own / 1024, files / 1024


def start(args, ready: str, env) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith(ready):
        proc.kill()
        raise SystemExit(f"{args[1]} did not start: {line!r}")
    return proc


def main() -> None:
    argv = sys.argv[1:]
    extra, settle, positional, inherit = {}, 5.0, [], False
    while argv:
        a = argv.pop(0)
        if a == "--inherit-env":
            inherit = True
        elif a == "--env":
            name, _, value = argv.pop(0).partition("=")
            extra[name] = value
        elif a == "--seconds":
            settle = float(argv.pop(0))
        else:
            positional.append(a)
    akvs = positional[0] if positional else ".build-release/release/akvs"
    server = positional[1] if len(positional) > 1 else str(Path(akvs).parent / "akvs-kube-test-server")
    image = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}  # the Containerfile's ENV
    env = {**(os.environ if inherit else image), **extra}
    work = Path(tempfile.mkdtemp(prefix="akvs-idle-rss-"))
    kube = start([server, "--state-dir", str(work / "kube")], "akvs kube-test-server ready", os.environ)
    kubeconfig = str(work / "kube" / "kubeconfig")
    (work / "providers").mkdir()
    roles = {
        "csi-driver": ([akvs, "csi-driver", "--endpoint", f"unix://{work}/csi.sock", "--nodeid", "node-1", "--kubeconfig", kubeconfig,
                        "--provider-volume", str(work / "providers"), "--mount-tmpfs", "false", "--stale-store-dir", str(work / "stale"),
                        "--metrics-addr", f"127.0.0.1:{free_port()}", "--health-addr", f"127.0.0.1:{free_port()}"], "akvs csi-driver ready"),
        "csi-driver --azure-provider in-process": ([akvs, "csi-driver", "--endpoint", f"unix://{work}/csi2.sock", "--nodeid", "node-1", "--kubeconfig", kubeconfig,
                                                    "--provider-volume", str(work / "providers"), "--mount-tmpfs", "false", "--azure-provider", "in-process",
                                                    "--stale-store-dir", str(work / "stale2"),
                                                    "--metrics-addr", f"127.0.0.1:{free_port()}", "--health-addr", f"127.0.0.1:{free_port()}"], "akvs csi-driver ready"),
        "provider": ([akvs, "provider", "--endpoint", f"unix://{work}/providers/azure.sock", "--healthz-port", str(free_port()),
                      "--prometheus-port", str(free_port())], "akvs provider ready"),
        "sync-controller": ([akvs, "sync-controller", "--kubeconfig", kubeconfig, "--metrics-bind-address", f"127.0.0.1:{free_port()}",
                             "--health-probe-bind-address", f"127.0.0.1:{free_port()}"], "akvs sync-controller starting"),
        "restarter": ([akvs, "restarter", "--kubeconfig", kubeconfig, "--metrics-bind-address", f"127.0.0.1:{free_port()}",
                       "--health-probe-bind-address", f"127.0.0.1:{free_port()}"], "akvs restarter starting"),
    }
    rows = []
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run([akvs, "--version"], stdout=subprocess.DEVNULL, env=env, check=True)
        floor = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rows.append(("`akvs --version` (peak; the floor)", max(floor, before) / 1024, None))
        for name, (args, ready) in roles.items():
            proc = start(args, ready, env)
            time.sleep(settle)
            rows.append((f"`akvs {name}`", rss_mib(proc.pid), breakdown(proc.pid, akvs)))
            proc.terminate()
            proc.wait(timeout=20)
    finally:
        kube.terminate()
        kube.wait(timeout=20)
    label = ", ".join(f"{k}={v}" for k, v in extra.items()) or ("the caller's environment" if inherit else "the image's environment")
    print(f"| role, idle {settle:.0f} s after ready ({label}) | RSS MiB | anonymous (heap, stacks, relocated data) | akvs binary pages | shared libraries |")
    print("|---|---:|---:|---:|---:|")
    for name, mib, parts in rows:
        cells = " | ".join(f"{p:.1f}" for p in parts) if parts else "– | – | –"
        print(f"| {name} | {mib:.1f} | {cells} |")


if __name__ == "__main__":
    main()
