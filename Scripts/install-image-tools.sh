#!/usr/bin/env bash
# Installs the Debian packages the image checks use (Interop/image), once; safe to run again.
#   skopeo, umoci      read the archive as other OCI tools do (digests, both manifests)
#   podman             `podman load` of the archive (vfs storage, no daemon)
#   containerd         `ctr -n k8s.io images import` against a throwaway containerd
#   runc, crun         run the unpacked root filesystem as an OCI bundle
#   ca-certificates    the CA bundle copied into the image
#   binutils           strip (release image) and readelf
# Run as root on Debian/Ubuntu (CI is). Without root it only reports what is missing.
set -euo pipefail

packages=(skopeo umoci podman containerd runc crun ca-certificates binutils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "image tools: all installed"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "image tools missing (install as root with apt-get): ${missing[*]}" >&2
    exit 1
fi
echo "== installing image tools: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# containerd's package may try to start its service; the checks start their own instance.
command -v systemctl >/dev/null && systemctl disable --now containerd >/dev/null 2>&1 || true
echo "image tools: installed ${missing[*]}"
