#!/usr/bin/env bash
# Runs every test: Swift unit/integration tests, then the official Azure SDK for Python against
# the emulator, the official kubernetes client against the Kubernetes test server, and CRD checks. Installs what the Python tests need (pip; libnss-myhostname so *.localhost resolves).
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

echo "== swift build"
swift build --build-tests
echo "== swift test"
swift test --skip-build
echo "== python interop (official Azure SDK against akvs emulator)"
BIN="$(swift build --show-bin-path)"
AKVS_BIN="$BIN/akvs" python3 -m pytest -q Interop/python
echo "== python interop (official kubernetes client against akvs-kube-test-server)"
AKVS_BIN="$BIN/akvs" KUBE_TEST_SERVER_BIN="$BIN/akvs-kube-test-server" python3 -m pytest -q Interop/kubernetes
echo "== CRD manifests"
python3 -m pytest -q Interop/crds
