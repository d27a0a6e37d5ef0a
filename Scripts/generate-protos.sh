#!/usr/bin/env bash
# Regenerates the Swift code of the ProviderAPI and CSIAPI targets from the protos under Protos/.
#
#   Protos/provider/v1alpha1/service.proto -> Sources/ProviderAPI/Generated/service.{pb,grpc}.swift
#   Protos/grpc/health/v1/health.proto     -> Sources/ProviderAPI/Generated/Health/health.{pb,grpc}.swift
#   Protos/csi/v1/csi.proto                -> Sources/CSIAPI/Generated/csi.{pb,grpc}.swift
#   Protos/pluginregistration/v1/api.proto -> Sources/CSIAPI/Generated/PluginRegistration/api.{pb,grpc}.swift
#
# The generated files are committed (unlike everything else generated in this repo), so a normal
# `swift build` never needs protoc or the plugins. Run this only after changing a .proto file or
# bumping swift-protobuf / grpc-swift-protobuf, and commit its output together with that change.
#
# Tools:
#   protoc                  Debian package protobuf-compiler (installed here when running as root
#                           with apt-get; otherwise install it yourself).
#   protoc-gen-swift        from apple/swift-protobuf          $SWIFT_PROTOBUF_VERSION
#   protoc-gen-grpc-swift-2 from grpc/grpc-swift-protobuf      $GRPC_SWIFT_PROTOBUF_VERSION
#
# The two plugins are built from source with SwiftPM in a throwaway package outside this repo
# (release build, roughly 10 minutes on 2 cores). To skip that, point the variables below at
# already built binaries:
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift
#   PROTOC_GEN_GRPC_SWIFT=/path/to/protoc-gen-grpc-swift-2
# PLUGIN_BUILD_DIR=/some/dir keeps the plugin package (and its .build) there for reuse instead of
# in a temporary directory that is deleted on exit. It must not be inside this repository.
set -euo pipefail

SWIFT_PROTOBUF_VERSION=1.39.0
GRPC_SWIFT_PROTOBUF_VERSION=2.4.1

# Relative paths given in the environment are taken relative to the caller's directory.
[ -n "${PLUGIN_BUILD_DIR:-}" ] && PLUGIN_BUILD_DIR="$(realpath -m "$PLUGIN_BUILD_DIR")"
[ -n "${PROTOC_GEN_SWIFT:-}" ] && PROTOC_GEN_SWIFT="$(realpath -m "$PROTOC_GEN_SWIFT")"
[ -n "${PROTOC_GEN_GRPC_SWIFT:-}" ] && PROTOC_GEN_GRPC_SWIFT="$(realpath -m "$PROTOC_GEN_GRPC_SWIFT")"

cd "$(dirname "$0")/.."
REPO_ROOT="$(pwd)"
PROTO_ROOT="$REPO_ROOT/Protos"
OUT_PROVIDER="$REPO_ROOT/Sources/ProviderAPI/Generated"
OUT_HEALTH="$OUT_PROVIDER/Health"
OUT_CSI="$REPO_ROOT/Sources/CSIAPI/Generated"
OUT_REGISTRATION="$OUT_CSI/PluginRegistration"

# --- protoc ------------------------------------------------------------------------------------
if ! command -v protoc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing protoc (apt package protobuf-compiler)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
    else
        echo "protoc not found: install the protobuf-compiler package (apt-get install protobuf-compiler)" >&2
        exit 1
    fi
fi
echo "== using $(protoc --version)"
# csi.proto imports google/protobuf/wrappers.proto; Debian ships the well-known types in
# libprotobuf-dev under /usr/include.
WKT_INCLUDE=""
if [ -f /usr/include/google/protobuf/wrappers.proto ]; then
    WKT_INCLUDE=/usr/include
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libprotobuf-dev >/dev/null
    WKT_INCLUDE=/usr/include
fi

# --- plugins -----------------------------------------------------------------------------------
PROTOC_GEN_SWIFT="${PROTOC_GEN_SWIFT:-}"
PROTOC_GEN_GRPC_SWIFT="${PROTOC_GEN_GRPC_SWIFT:-}"

if [ -z "$PROTOC_GEN_SWIFT" ] || [ -z "$PROTOC_GEN_GRPC_SWIFT" ]; then
    if [ -n "${PLUGIN_BUILD_DIR:-}" ]; then
        build_dir="$PLUGIN_BUILD_DIR"
        case "$build_dir/" in
            "$REPO_ROOT"/*) echo "PLUGIN_BUILD_DIR must be outside the repository" >&2; exit 1 ;;
        esac
        mkdir -p "$build_dir"
    else
        build_dir="$(mktemp -d "${TMPDIR:-/tmp}/akvs-protoc-plugins.XXXXXX")"
        trap 'rm -rf "$build_dir"' EXIT
    fi

    # A package with no targets of its own: it only pins the two plugin packages so that
    # `swift build --product` can build their executables.
    cat >"$build_dir/Package.swift" <<EOF
// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "akvs-protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "$SWIFT_PROTOBUF_VERSION"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "$GRPC_SWIFT_PROTOBUF_VERSION"),
    ],
    targets: []
)
EOF
    bin_dir="$(swift build --package-path "$build_dir" -c release --show-bin-path)"
    if [ -z "$PROTOC_GEN_SWIFT" ]; then
        echo "== building protoc-gen-swift $SWIFT_PROTOBUF_VERSION in $build_dir"
        swift build --package-path "$build_dir" -c release --product protoc-gen-swift
        PROTOC_GEN_SWIFT="$bin_dir/protoc-gen-swift"
    fi
    if [ -z "$PROTOC_GEN_GRPC_SWIFT" ]; then
        echo "== building protoc-gen-grpc-swift-2 $GRPC_SWIFT_PROTOBUF_VERSION in $build_dir"
        swift build --package-path "$build_dir" -c release --product protoc-gen-grpc-swift-2
        PROTOC_GEN_GRPC_SWIFT="$bin_dir/protoc-gen-grpc-swift-2"
    fi
fi

for plugin in "$PROTOC_GEN_SWIFT" "$PROTOC_GEN_GRPC_SWIFT"; do
    if [ ! -x "$plugin" ]; then
        echo "plugin not found or not executable: $plugin" >&2
        exit 1
    fi
done
echo "== using $("$PROTOC_GEN_SWIFT" --version) ($PROTOC_GEN_SWIFT)"
echo "== using $("$PROTOC_GEN_GRPC_SWIFT" --version) ($PROTOC_GEN_GRPC_SWIFT)"

# --- generate ----------------------------------------------------------------------------------
# Messages and services are public so that other targets (the provider server, tests) can use
# them; both client and server code are generated. DropPath keeps the file names short; the
# folders below keep the two protos apart.
SWIFT_OPT="Visibility=Public,FileNaming=DropPath"
GRPC_OPT="Visibility=Public,Server=true,Client=true,FileNaming=DropPath"

generate() { # generate OUT_DIR PROTO
    local out="$1" proto="$2"
    mkdir -p "$out"
    find "$out" -maxdepth 1 -name '*.swift' -delete
    protoc \
        --proto_path="$PROTO_ROOT" \
        ${WKT_INCLUDE:+--proto_path="$WKT_INCLUDE"} \
        --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
        --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
        --swift_out="$out" --swift_opt="$SWIFT_OPT" \
        --grpc-swift_out="$out" --grpc-swift_opt="$GRPC_OPT" \
        "$PROTO_ROOT/$proto"
    echo "== $proto -> ${out#"$REPO_ROOT"/}: $(cd "$out" && ls -- *.swift | tr '\n' ' ')"
}

generate "$OUT_PROVIDER" provider/v1alpha1/service.proto
generate "$OUT_HEALTH" grpc/health/v1/health.proto
generate "$OUT_CSI" csi/v1/csi.proto
generate "$OUT_REGISTRATION" pluginregistration/v1/api.proto
