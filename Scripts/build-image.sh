#!/usr/bin/env bash
# Builds the akvs container image without a container engine, into an OCI image archive that
# `docker load`, `podman load` and `ctr -n k8s.io images import` all accept.
#
#   Scripts/build-image.sh [--binary PATH] [--tag NAME:TAG] [--output FILE]
#
# Without --binary it builds the release binary (`swift build -c release --static-swift-stdlib
# -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs --product akvs`: lld packs the
# relative relocations (DT_RELR, glibc 2.36+), which saves every role ~2.5 MiB of resident memory
# the loader would otherwise spend relocating; see BENCHMARKS.md, Memory) and strips a copy of it. The image holds one layer: /akvs, the shared libraries
# `ldd` lists for it (at the paths the loader looks for them) plus the loader, the CA bundle,
# /etc/passwd and /etc/group with the user nonroot (65532), /etc/nsswitch.conf, /etc/hosts
# (localhost), /tmp, the empty mount points /dev, /proc and /sys, and the Debian copyright files
# of the libraries. Tags: akvs:<what `akvs --version` prints> and every --tag given.
#
# Archive layout (what `docker save` of Docker 25 and later writes): oci-layout, index.json (one
# entry per tag, annotated with org.opencontainers.image.ref.name = the tag and
# io.containerd.image.name = the full name), blobs/sha256/<digest>, and a Docker-style
# manifest.json (Config, RepoTags, Layers) for loaders that read only that.
#
# Reproducible: the same binary and commit give the same layer, config and manifest digests
# (every mtime is SOURCE_DATE_EPOCH, else the commit time; sorted entries; numeric owner 0, or
# 65532 for /home/nonroot; fixed modes; gzip without name or time).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PROG="build-image.sh"

usage() {
    cat <<'EOF'
Usage: Scripts/build-image.sh [--binary PATH] [--tag NAME:TAG] [--output FILE]

Builds the akvs container image offline into an OCI image archive (also loadable by docker load,
podman load and ctr images import).

  --binary PATH   use this akvs executable (default: build the release binary with
                  swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld
                  -Xlinker -z -Xlinker pack-relative-relocs --product akvs, then strip it)
  --tag NAME:TAG  tag the image NAME:TAG as well as akvs:<version> (may be repeated)
  --output FILE   write the archive here (default: .build/akvs-image.tar)
  -h, --help      show this help

SOURCE_DATE_EPOCH, when set, gives every timestamp in the image (default: the commit time).
EOF
}

usage_error() {
    echo "$PROG: $1" >&2
    echo >&2
    usage >&2
    exit 2
}

fail() {
    echo "$PROG: error: $1" >&2
    exit 1
}

# The archive writer (Python: tarfile, gzip, hashlib). Modes: check TAG... | build TAG...
IFS= read -r -d '' WRITER <<'PYTHON' || true
import gzip
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import tempfile
import time

PROG = "build-image.sh"

# Image metadata. The same values stand in the Containerfile's LABEL lines (a test compares them).
TITLE = "akvs"
DESCRIPTION = ("Azure Key Vault secrets for Kubernetes: Secrets Store CSI driver, Azure provider "
               "and secret sync controller in one binary")
SOURCE = "unknown (repository not published yet)"
LICENSES = "NOASSERTION"
USER_ID = 65532
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
GZIP_LEVEL = 6

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(1)


def usage_error(message):
    print(f"{PROG}: {message}\n\nUsage: Scripts/build-image.sh [--binary PATH] [--tag NAME:TAG] "
          "[--output FILE]  (--help for more)", file=sys.stderr)
    sys.exit(2)


# --- image references (the grammar of the distribution reference library) ---
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN = rf"(?:{DOMAIN_PART}(?:\.{DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
TAG = r"[\w][\w.-]{0,127}"


def parse_reference(text):
    """NAME:TAG -> (full name, familiar name, tag) or an error string."""
    if "@" in text:
        return f"'{text}': give NAME:TAG, not a digest"
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon <= slash:
        return f"'{text}': no tag; give NAME:TAG, for example akvs:dev"
    name, tag = text[:colon], text[colon + 1:]
    if not re.fullmatch(TAG, tag):
        return (f"'{text}': tag '{tag}' is not valid (letters, digits, '_', '.', '-'; "
                "at most 128, not starting with '.' or '-')")
    parts = name.split("/")
    domain = None
    if len(parts) > 1 and (any(c in parts[0] for c in ".:") or parts[0] == "localhost"
                           or parts[0].lower() != parts[0]):
        domain, parts = parts[0], parts[1:]
        if not re.fullmatch(DOMAIN, domain):
            return f"'{text}': registry '{domain}' is not a valid host[:port]"
    for part in parts:
        if not re.fullmatch(COMPONENT, part):
            return (f"'{text}': name component '{part}' is not valid (lower-case letters and "
                    "digits, separated by '.', '_', '__' or '-')")
    if len(name) > 255:
        return f"'{text}': the name is longer than 255 characters"
    path = "/".join(parts)
    if domain is None or domain in ("docker.io", "index.docker.io"):
        full_path = path if "/" in path else f"library/{path}"
        full = f"docker.io/{full_path}:{tag}"
        short = path[len("library/"):] if full_path == path and path.startswith("library/") else path
        familiar = f"{short}:{tag}"
    else:
        full = f"{domain}/{path}:{tag}"
        familiar = full
    return full, familiar, tag


mode, tag_args = sys.argv[1], sys.argv[2:]
for text in tag_args:  # tag syntax first: a usage error, before any work
    parsed = parse_reference(text)
    if isinstance(parsed, str):
        usage_error(f"bad --tag {parsed}")
if mode == "check":
    sys.exit(0)

binary = os.environ["AKVS_IMAGE_BINARY"]
output = os.environ["AKVS_IMAGE_OUTPUT"]
epoch = int(os.environ["AKVS_IMAGE_EPOCH"])
revision = os.environ["AKVS_IMAGE_REVISION"]
created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# --- the binary and what it needs at run time ---
with open(binary, "rb") as f:
    header = f.read(64)
if header[:4] != b"\x7fELF":
    fail(f"{binary} is not an ELF executable")
if header[4] != 2 or header[5] != 1:
    fail(f"{binary} is not a 64-bit little-endian ELF file")
machine = struct.unpack_from("<H", header, 18)[0]
ARCHITECTURES = {62: "amd64", 183: "arm64", 243: "riscv64", 21: "ppc64le", 22: "s390x"}
if machine not in ARCHITECTURES:
    fail(f"{binary}: unsupported ELF machine {machine}")
architecture = ARCHITECTURES[machine]


def interpreter(path):
    """The PT_INTERP path of an ELF file, or None (static)."""
    with open(path, "rb") as f:
        data = f.read(64)
        phoff, = struct.unpack_from("<Q", data, 32)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


loader = interpreter(binary)
libraries = {}  # path inside the image -> host file whose content it gets
if loader is not None:
    result = subprocess.run(["ldd", binary], capture_output=True, text=True,
                            env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    listing = result.stdout + result.stderr
    if result.returncode != 0:
        fail(f"ldd {binary} failed:\n{listing.strip()}")
    missing = []
    for line in listing.splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"(\S+) => not found", line)
        if m:
            missing.append(m.group(1))
            continue
        m = re.fullmatch(r"(\S+) => (/\S+) \(0x[0-9a-f]+\)", line) or re.fullmatch(r"(/\S+) \(0x[0-9a-f]+\)", line)
        if m:
            path = os.path.normpath(m.group(m.lastindex))
            libraries[path] = os.path.realpath(path)
            continue
        if re.fullmatch(r"\S+ \(0x[0-9a-f]+\)", line):  # linux-vdso.so.1: in the kernel
            continue
        fail(f"ldd {binary}: cannot read the line '{line}'")
    if missing:
        fail(f"ldd {binary} reports libraries not found: {', '.join(missing)}; "
             "install them (or fix the binary's RUNPATH) and build again")
    if loader not in libraries:
        libraries[os.path.normpath(loader)] = os.path.realpath(loader)
    for path, source in libraries.items():
        if not os.path.isfile(source):
            fail(f"{path} (from ldd) resolves to {source}, which is not a file")

# Only now run the binary: a missing library is reported above by name, not as a loader error.
try:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
except OSError as error:
    fail(f"cannot run {binary} --version: {error}")
lines = result.stdout.strip().splitlines()
if result.returncode != 0 or not lines:
    fail(f"{binary} --version failed (exit {result.returncode}); is it the akvs executable? "
         f"{result.stderr.strip()[:300]}")
version = lines[0].strip()
if not re.fullmatch(TAG, version):
    fail(f"'akvs --version' printed '{version}', which cannot be an image tag")
references = []  # (full, familiar, tag), in order, without repeats
for text in [f"akvs:{version}"] + tag_args:
    parsed = parse_reference(text)
    if parsed[0] not in [r[0] for r in references]:
        references.append(parsed)

if not os.path.isfile(CA_BUNDLE):
    fail(f"{CA_BUNDLE} is missing (Debian: apt-get install ca-certificates)")


def debian_copyright(paths):
    """/usr/share/doc/<package>/copyright of the Debian packages that ship these files."""
    packages = set()
    for path in paths:
        for candidate in (path, os.path.realpath(path)):
            try:
                out = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True,
                                     text=True, env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
            except FileNotFoundError:
                return {}
            found = [l.split(":")[0] for l in out.stdout.splitlines()
                     if ": /" in l and not l.startswith("diversion")]
            if found:
                packages.update(found)
                break
    docs = {}
    for package in sorted(packages):
        doc = f"/usr/share/doc/{package}/copyright"
        if os.path.isfile(doc):
            docs[doc] = doc
    return docs


PASSWD = ("root:x:0:0:root:/root:/sbin/nologin\n"
          f"nonroot:x:{USER_ID}:{USER_ID}:nonroot:/home/nonroot:/sbin/nologin\n")
GROUP = f"root:x:0:\nnonroot:x:{USER_ID}:\n"
# Container runtimes and kubelet mount their own /etc/hosts; this one serves plain chroot use.
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"

# path in the image -> (kind, mode, uid, content or host path)
entries = {}
entries["akvs"] = ("file", 0o755, 0, binary)
for path, source in libraries.items():
    mode = 0o755 if path == os.path.normpath(loader or "") else 0o644
    entries[path.lstrip("/")] = ("file", mode, 0, source)
entries[CA_BUNDLE.lstrip("/")] = ("file", 0o644, 0, os.path.realpath(CA_BUNDLE))
for doc, source in debian_copyright(list(libraries) + [CA_BUNDLE]).items():
    entries[doc.lstrip("/")] = ("file", 0o644, 0, source)
entries["etc/passwd"] = ("data", 0o644, 0, PASSWD.encode())
entries["etc/group"] = ("data", 0o644, 0, GROUP.encode())
entries["etc/nsswitch.conf"] = ("data", 0o644, 0, NSSWITCH.encode())
entries["etc/hosts"] = ("data", 0o644, 0, HOSTS.encode())
entries["tmp"] = ("dir", 0o1777, 0, None)
for mount_point in ("dev", "proc", "sys"):  # where runtimes mount them; also lets chroot work
    entries[mount_point] = ("dir", 0o755, 0, None)
entries["root"] = ("dir", 0o700, 0, None)
entries["home"] = ("dir", 0o755, 0, None)
entries["home/nonroot"] = ("dir", 0o700, USER_ID, None)
for path in list(entries):
    parent = os.path.dirname(path)
    while parent and parent not in entries:
        entries[parent] = ("dir", 0o755, 0, None)
        parent = os.path.dirname(parent)


class Hashing:
    """A write-only stream that counts and hashes what passes through to `sink` (if any)."""

    def __init__(self, sink=None):
        self.sink, self.sha, self.size = sink, hashlib.sha256(), 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        if self.sink is not None:
            self.sink.write(data)
        return len(data)

    def flush(self):
        if self.sink is not None:
            self.sink.flush()

    @property
    def digest(self):
        return "sha256:" + self.sha.hexdigest()


def tar_info(name, kind, mode, uid, size=0):
    info = tarfile.TarInfo(name)
    info.type = {"dir": tarfile.DIRTYPE}.get(kind, tarfile.REGTYPE)
    info.mode, info.uid, info.gid, info.uname, info.gname = mode, uid, uid, "", ""
    info.mtime, info.size = epoch, size
    return info


out_dir = os.path.dirname(output)
work = tempfile.mkdtemp(prefix=".akvs-image-", dir=out_dir)
try:
    # The layer: sorted paths (parents first), fixed owners, modes and times.
    layer_path = os.path.join(work, "layer")
    with open(layer_path, "wb") as raw:
        compressed = Hashing(raw)
        with gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=compressed, mtime=0) as gz:
            uncompressed = Hashing(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name in sorted(entries, key=lambda p: p.split("/")):
                    kind, mode, uid, content = entries[name]
                    if kind == "dir":
                        tar.addfile(tar_info(name, kind, mode, uid))
                    elif kind == "data":
                        tar.addfile(tar_info(name, kind, mode, uid, len(content)), io.BytesIO(content))
                    else:
                        with open(content, "rb") as f:
                            size = os.fstat(f.fileno()).st_size
                            tar.addfile(tar_info(name, kind, mode, uid, size), f)

    def canonical(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    labels = {
        "org.opencontainers.image.title": TITLE,
        "org.opencontainers.image.description": DESCRIPTION,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.licenses": LICENSES,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": created,
    }
    config = canonical({
        "architecture": architecture,
        "os": "linux",
        "created": created,
        "config": {
            "User": f"{USER_ID}:{USER_ID}",
            "Entrypoint": ["/akvs"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [uncompressed.digest]},
        "history": [{"created": created, "created_by": "Scripts/build-image.sh",
                     "comment": "akvs, its shared libraries, CA certificates, passwd and group"}],
    })
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": MT_LAYER, "digest": compressed.digest, "size": compressed.size}],
    })
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = canonical({
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest),
            "platform": {"architecture": architecture, "os": "linux"},
            "annotations": {"io.containerd.image.name": full,
                            "org.opencontainers.image.ref.name": tag},
        } for full, _, tag in references],
    })
    blob = lambda digest: "blobs/sha256/" + digest.split(":")[1]
    docker_manifest = canonical([{
        "Config": blob(config_digest),
        "RepoTags": [familiar for _, familiar, _ in references],
        "Layers": [blob(compressed.digest)],
    }])

    archive_tmp = os.path.join(work, "archive.tar")
    with tarfile.open(archive_tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, content=None, path=None, kind="file"):
            if kind == "dir":
                tar.addfile(tar_info(name, "dir", 0o755, 0))
            elif path is not None:
                with open(path, "rb") as f:
                    tar.addfile(tar_info(name, "file", 0o644, 0, os.fstat(f.fileno()).st_size), f)
            else:
                tar.addfile(tar_info(name, "file", 0o644, 0, len(content)), io.BytesIO(content))
        add("oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
        add("index.json", index)
        add("manifest.json", docker_manifest)
        add("blobs", kind="dir")
        add("blobs/sha256", kind="dir")
        blobs = {blob(config_digest): (config, None), blob(manifest_digest): (manifest, None),
                 blob(compressed.digest): (None, layer_path)}
        for name in sorted(blobs):
            add(name, *blobs[name])
    os.replace(archive_tmp, output)
finally:
    for name in ("layer", "archive.tar"):
        try:
            os.unlink(os.path.join(work, name))
        except FileNotFoundError:
            pass
    os.rmdir(work)

mib = lambda n: f"{n / 1048576:.1f} MiB"
print(f"image archive: {output}")
print(f"tags:          {' '.join(familiar for _, familiar, _ in references)}")
print(f"image digest:  {manifest_digest}  (manifest; config {config_digest})")
print(f"layer:         {compressed.digest}")
print(f"size:          {compressed.size} bytes compressed ({mib(compressed.size)}), "
      f"{uncompressed.size} bytes uncompressed ({mib(uncompressed.size)}, as docker images shows); "
      f"archive {os.path.getsize(output)} bytes; {len(entries)} files and directories")
PYTHON

binary=""
output=""
tags=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --binary|--tag|--output)
            [ $# -ge 2 ] || usage_error "$1 needs a value"
            [ -n "$2" ] || usage_error "$1 needs a non-empty value"
            case "$1" in
                --binary) binary="$2" ;;
                --tag) tags+=("$2") ;;
                --output) output="$2" ;;
            esac
            shift 2 ;;
        --binary=*) binary="${1#*=}"; [ -n "$binary" ] || usage_error "--binary needs a non-empty value"; shift ;;
        --tag=*) tags+=("${1#*=}"); [ -n "${1#*=}" ] || usage_error "--tag needs a non-empty value"; shift ;;
        --output=*) output="${1#*=}"; [ -n "$output" ] || usage_error "--output needs a non-empty value"; shift ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done

command -v python3 >/dev/null || fail "python3 is needed to write the image archive"
# Tag syntax is a usage error: report it before any build.
python3 -c "$WRITER" check "${tags[@]+"${tags[@]}"}"
command -v ldd >/dev/null || fail "ldd is needed to find the binary's shared libraries (Debian: libc-bin)"

# Paths given by the caller are relative to the caller's directory.
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
[ -n "$output" ] || output="$ROOT/.build/akvs-image.tar"
output="$(abspath "$output")"
[ -d "$(dirname "$output")" ] || mkdir -p "$(dirname "$output")" 2>/dev/null \
    || fail "cannot create the output directory $(dirname "$output")"
[ ! -d "$output" ] || fail "--output $output is a directory; give a file name"

if [ -n "$binary" ]; then
    binary="$(abspath "$binary")"
    [ -e "$binary" ] || fail "--binary $binary does not exist"
    [ -f "$binary" ] || fail "--binary $binary is not a regular file"
    [ -x "$binary" ] || fail "--binary $binary is not executable"
else
    command -v swift >/dev/null || fail "swift is not on PATH; install Swift or pass --binary"
    command -v strip >/dev/null || fail "strip is needed for the release image (Debian: binutils)"
    # The same flags as the Containerfile's build stage (a test keeps them in step).
    release=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
    echo "== swift build ${release[*]} --product akvs"
    (cd "$ROOT" && swift build "${release[@]}" --product akvs) \
        || fail "the release build failed"
    built="$(cd "$ROOT" && swift build "${release[@]}" --show-bin-path)/akvs"
    [ -x "$built" ] || fail "the release build did not produce $built"
    mkdir -p "$ROOT/.build/akvs-image-work"
    binary="$ROOT/.build/akvs-image-work/akvs"
    # Only the image's copy is stripped (symbols and debug info out; .build/release keeps them).
    strip -o "$binary.tmp" "$built" && mv -f "$binary.tmp" "$binary" || fail "strip $built failed"
fi

if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    [[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH must be whole seconds since 1970, not '$SOURCE_DATE_EPOCH'"
    epoch="$SOURCE_DATE_EPOCH"
elif epoch="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null)" && [ -n "$epoch" ]; then
    :
else
    epoch=0
fi
revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"

AKVS_IMAGE_BINARY="$binary" AKVS_IMAGE_OUTPUT="$output" AKVS_IMAGE_EPOCH="$epoch" \
AKVS_IMAGE_REVISION="$revision" python3 -c "$WRITER" build "${tags[@]+"${tags[@]}"}"
