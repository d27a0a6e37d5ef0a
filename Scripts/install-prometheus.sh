#!/usr/bin/env bash
# Installs Prometheus (the server and promtool) for the observability checks (Interop/observability): Debian's
# `prometheus` package, when promtool is not on PATH yet. The package's own service is kept from starting: the
# tests run their own server with a temporary configuration and data folder.
#
# Usage: Scripts/install-prometheus.sh          The last line printed is the folder holding prometheus and promtool.
# Env: PROMTOOL (a promtool to use instead of the one on PATH; prometheus must be beside it).
set -euo pipefail

log() { echo "install-prometheus: $*" >&2; }

found() {
    local promtool="${PROMTOOL:-$(command -v promtool || true)}"
    [[ -n "$promtool" && -x "$promtool" ]] || return 1
    promtool="$(readlink -f "$promtool")"
    [[ -x "$(dirname "$promtool")/prometheus" ]] || return 1
    dirname "$promtool"
}

if ! dir="$(found)"; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        log "promtool is missing; install Debian's prometheus package as root (apt-get install prometheus)"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Exit status 101 of policy-rc.d: no service is started by the package's scripts (CI has no init system).
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        log "apt-get update"
        apt-get update -qq
    fi
    log "apt-get install prometheus"
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    dir="$(found)" || { log "the prometheus package is installed but promtool or prometheus is not on PATH"; exit 1; }
fi
log "$("$dir/promtool" --version 2>&1 | head -1)"
echo "$dir"
